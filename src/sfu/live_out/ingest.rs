//! A publisher's H.264 RTP as whole access units for the packager: frames assembled in sequence
//! order, depacketised, and dropped (until the next key frame) when one is incomplete, as an
//! edge that repackages for a CDN does.

use super::packager::LiveFrame;
use crate::base::Micros;
use crate::media::codec::is_keyframe;
use crate::media::receiver::assembler::FrameAssembler;
use crate::media::rtp::RtpPacket;
use str0m::format::CodecExtra;
use str0m::unversioned::{Depacketizer, H264Depacketizer};

#[derive(Debug, Default)]
pub struct VideoIngest {
    assembler: FrameAssembler,
    depacketizer: H264Depacketizer,
    /// The last frame's RTP timestamp and the wraps of the 32-bit clock so far.
    clock: Option<(u32, u64)>,
    /// The last sequence number of the frame before, for the decoding chain.
    chain_end: Option<u64>,
    awaiting_keyframe: bool,
}

impl VideoIngest {
    /// A packet with its extended sequence number; returns the access units it completed.
    pub fn on_packet(&mut self, ext_seq: u64, packet: RtpPacket, now: Micros) -> Vec<LiveFrame> {
        let mut out = Vec::new();
        for frame in self.assembler.insert(ext_seq, packet, now) {
            let mut annexb = Vec::with_capacity(frame.bytes + 16 * frame.payloads.len());
            let mut extra = CodecExtra::None;
            let whole = frame.payloads.iter().all(|p| {
                self.depacketizer
                    .depacketize(p, &mut annexb, &mut extra)
                    .is_ok()
            });
            let keyframe = whole && is_keyframe(&annexb);
            let continues = self.chain_end.is_some_and(|end| end + 1 == frame.first_seq);
            if !whole || !(keyframe || (continues && !self.awaiting_keyframe)) {
                self.awaiting_keyframe = true;
                continue;
            }
            self.awaiting_keyframe = false;
            self.chain_end = Some(frame.last_seq);
            out.push(LiveFrame {
                annexb,
                keyframe,
                pts_90k: self.unwrap(frame.timestamp),
            });
        }
        out
    }

    fn unwrap(&mut self, timestamp: u32) -> u64 {
        let wraps = match self.clock {
            Some((last, wraps)) if timestamp < last && last - timestamp > u32::MAX / 2 => wraps + 1,
            Some((_, wraps)) => wraps,
            None => 0,
        };
        self.clock = Some((timestamp, wraps));
        timestamp as u64 + (wraps << 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32, payload: Vec<u8>) -> RtpPacket {
        RtpPacket {
            payload_type: 102,
            marker: true,
            sequence: seq,
            timestamp: ts,
            ssrc: 1,
            abs_capture_us: None,
            payload,
        }
    }

    const IDR: [u8; 3] = [0x65, 0x88, 0x80];
    const SLICE: [u8; 3] = [0x41, 0x9A, 0x80];

    #[test]
    fn frames_come_out_whole_and_a_gap_waits_for_the_next_key_frame() {
        let mut ingest = VideoIngest::default();
        let start = u32::MAX - 3_000;
        let mut frames = Vec::new();
        for (seq, payload) in [
            (10u16, IDR),
            (11, SLICE),
            (13, SLICE),
            (14, IDR),
            (15, SLICE),
        ] {
            let ts = start.wrapping_add(3_000 * (seq as u32 - 10));
            frames.extend(ingest.on_packet(seq as u64, packet(seq, ts, payload.to_vec()), 0));
        }
        let kinds: Vec<_> = frames.iter().map(|f| f.keyframe).collect();
        // 13 follows a lost 12: never whole, and nothing goes out until the key frame at 14.
        assert_eq!(kinds, [true, false, true, false]);
        assert_eq!(
            frames[2].pts_90k,
            start as u64 + 12_000,
            "unwrapped past 2^32"
        );
        assert!(frames[0].annexb.ends_with(&IDR));
    }
}
