//! The CDN half of a live sale, sans-IO: the containers (FLV, MPEG-TS, fMP4), playlists (HLS and
//! LL-HLS), the playback buffer every live player keeps, and the players themselves, fed with
//! bytes and instants by whoever holds the connection.

pub mod avc;
pub mod flv;
pub mod fmp4;
pub mod playback;
pub mod player;
pub mod playlist;
pub mod ts;
