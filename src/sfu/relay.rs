//! What the workers of one SFU pass each other: a publisher's packets go to the viewers of its
//! room on every worker, and a viewer's key-frame request goes to whichever worker holds the
//! room's publisher. A single-worker SFU relays nothing.

use super::layers::LayerTag;
use super::{RoomPacket, Sfu};
use std::sync::Arc;
use std::time::Instant;
use str0m::rtp::{ExtensionValues, SeqNo};

/// A room packet as another worker gets it: the payload shared, not copied per worker.
#[derive(Debug, Clone)]
pub struct RelayedPacket {
    room: String,
    is_video: bool,
    seq_no: SeqNo,
    rtp_time: u32,
    wallclock: Instant,
    marker: bool,
    payload: Arc<[u8]>,
    ext: ExtensionValues,
    layer: Option<LayerTag>,
}

#[derive(Debug, Clone)]
pub enum Relayed {
    Packet(Box<RelayedPacket>),
    /// A viewer of this room lost the picture, joined or changes layer: its publisher is asked
    /// for a key frame (on one simulcast layer, or all).
    KeyframeWanted(String, Option<usize>),
}

impl Sfu {
    /// What this worker has for the others since the last call.
    pub fn take_relay(&mut self) -> Vec<Relayed> {
        self.relay.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Acts on what another worker relayed: its packets to this worker's viewers, its key-frame
    /// requests to a publisher here (never relayed on again).
    pub fn on_relayed(&mut self, relayed: &[Relayed]) {
        for item in relayed {
            match item {
                Relayed::Packet(p) => {
                    let packet = RoomPacket {
                        is_video: p.is_video,
                        seq_no: p.seq_no,
                        rtp_time: p.rtp_time,
                        wallclock: p.wallclock,
                        marker: p.marker,
                        payload: &p.payload,
                        ext: p.ext.clone(),
                        layer: p.layer,
                    };
                    if let Some(tag) = p.layer {
                        self.meter_layer(&p.room, tag, p.payload.len(), p.wallclock);
                    }
                    self.send_to_viewers(&p.room, &packet);
                }
                Relayed::KeyframeWanted(room, layer) => {
                    self.request_keyframe_here(room, *layer);
                }
            }
        }
    }

    /// Keeps a packet of a room published here for the other workers' viewers.
    pub(super) fn relay_packet(&mut self, room: &str, packet: &RoomPacket) {
        let Some(relay) = self.relay.as_mut() else {
            return;
        };
        relay.push(Relayed::Packet(Box::new(RelayedPacket {
            room: room.to_string(),
            is_video: packet.is_video,
            seq_no: packet.seq_no,
            rtp_time: packet.rtp_time,
            wallclock: packet.wallclock,
            marker: packet.marker,
            payload: Arc::from(packet.payload),
            ext: packet.ext.clone(),
            layer: packet.layer,
        })));
    }

    /// Asks the room's publisher for a key frame on `layer` (all layers with `None`), here or
    /// on the worker that holds it.
    pub(super) fn request_keyframe_of(&mut self, room: &str, layer: Option<usize>) {
        if self.request_keyframe_here(room, layer) {
            return;
        }
        if let Some(relay) = self.relay.as_mut() {
            relay.push(Relayed::KeyframeWanted(room.to_string(), layer));
        }
    }
}
