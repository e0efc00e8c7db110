//! The CDN edge of the reference server: each room's published video served as HTTP-FLV, HLS
//! and LL-HLS next to WHEP, so the zero-setup path has a CDN audience.

pub mod packager;
