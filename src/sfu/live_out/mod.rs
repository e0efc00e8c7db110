//! The CDN edge of the reference server: each room's published video served as HTTP-FLV, HLS
//! and LL-HLS next to WHEP, so the zero-setup path has a CDN audience.

pub mod edge;
pub mod ingest;
pub mod packager;

use packager::LiveFrame;

/// What the SFU hands the edge: a room's publisher came or went, or a frame it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    Started(String),
    Frame(String, LiveFrame),
    Ended(String),
}
