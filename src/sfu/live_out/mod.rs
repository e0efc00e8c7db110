//! The CDN edge of the reference server: each room's published video served as HTTP-FLV, HLS
//! and LL-HLS next to WHEP, so the zero-setup path has a CDN audience.

pub mod edge;
pub mod ingest;
pub mod packager;
pub mod rtmp_in;

use crate::base::Micros;
use crate::media::rtp::RtpPacket;

/// What the SFU hands the edge: a room's publisher came or went, or a video packet it sent
/// (with its extended sequence number and arrival). The edge assembles and packages them in a
/// task of its own, off the SFU's forwarding loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    Started(String),
    Video {
        room: String,
        ext_seq: u64,
        packet: RtpPacket,
        at: Micros,
    },
    /// A whole frame of a room published over RTMP.
    Frame {
        room: String,
        frame: packager::LiveFrame,
    },
    Ended(String),
}
