//! Rooms published over RTMP instead of WHIP: the edge's RTMP listener hands the SFU whole
//! frames, which it packetizes once and sends to the room's WebRTC viewers as it would a WHIP
//! publisher's packets, and passes to the CDN edge as they are. RTMP has no way to ask for a
//! key frame: a viewer who joins waits for the encoder's next one, as on a CDN.

use super::live_out::packager::LiveFrame;
use super::live_out::LiveEvent;
use super::{RoomPacket, Sfu, SfuError, Side};
use crate::media::sender::RTP_PAYLOAD_MTU;
use std::time::Instant;
use str0m::rtp::ExtensionValues;
use str0m::unversioned::{H264Packetizer, Packetizer};

#[derive(Default)]
pub(super) struct IngestedRoom {
    packetizer: H264Packetizer,
    next_seq: u64,
}

impl Sfu {
    /// An RTMP publisher asks to publish `room`: refused when the room is live already.
    pub fn ingest_start(&mut self, room: &str) -> Result<(), SfuError> {
        self.admit(room, Side::Publisher)?;
        self.ingested
            .insert(room.to_string(), IngestedRoom::default());
        self.live_event(LiveEvent::Started(room.to_string()));
        Ok(())
    }

    /// One frame of an RTMP-published room.
    pub fn ingest_frame(&mut self, room: &str, frame: LiveFrame, now: Instant) {
        let Some(ingested) = self.ingested.get_mut(room) else {
            return;
        };
        let Ok(payloads) = ingested
            .packetizer
            .packetize(RTP_PAYLOAD_MTU, &frame.annexb)
        else {
            return;
        };
        let first_seq = ingested.next_seq;
        ingested.next_seq += payloads.len() as u64;
        let count = payloads.len();
        for (i, payload) in payloads.iter().enumerate() {
            let packet = RoomPacket {
                is_video: true,
                seq_no: (first_seq + i as u64).into(),
                rtp_time: frame.pts_90k as u32,
                wallclock: now,
                marker: i + 1 == count,
                payload,
                ext: ExtensionValues::default(),
                layer: None,
            };
            self.send_to_viewers(room, &packet);
            self.relay_packet(room, &packet);
        }
        self.live_event(LiveEvent::Frame {
            room: room.to_string(),
            frame,
        });
    }

    /// The RTMP publisher of `room` stopped or its connection ended.
    pub fn ingest_end(&mut self, room: &str) {
        if self.ingested.remove(room).is_some() {
            self.census.left(room, Side::Publisher);
            self.live_event(LiveEvent::Ended(room.to_string()));
        }
    }
}
