//! Groups RTP packets into complete video frames. A frame is complete when every sequence number
//! from just after the previous frame's last packet up to this frame's marker packet is here.

use crate::base::Micros;
use crate::media::rtp::RtpPacket;
use std::collections::BTreeMap;

const HISTORY: usize = 4096;
/// Packets of frames that never complete are dropped after this long.
const MAX_WAIT_US: u64 = 3_000_000;

#[derive(Debug, Clone)]
struct Pending {
    timestamp: u32,
    marker: bool,
    arrival: Micros,
    payload: Vec<u8>,
    abs_capture_us: Option<Micros>,
}

/// The RTP payloads of one complete frame, in sequence order.
#[derive(Debug, Clone)]
pub struct AssembledFrame {
    pub timestamp: u32,
    pub payloads: Vec<Vec<u8>>,
    pub abs_capture_us: Option<Micros>,
    /// When its last missing packet arrived.
    pub completed_at: Micros,
    /// When its first packet arrived.
    pub first_arrival: Micros,
    pub bytes: usize,
    /// Extended sequence numbers of its first and last packets.
    pub first_seq: u64,
    pub last_seq: u64,
}

#[derive(Debug, Clone)]
pub struct FrameAssembler {
    pending: BTreeMap<u64, Pending>,
    /// (extended seq, timestamp, marker) of recently received packets, by seq modulo HISTORY.
    history: Vec<(u64, u32, bool)>,
    first_ext_seq: Option<u64>,
    dropped_incomplete: u64,
}

impl Default for FrameAssembler {
    fn default() -> Self {
        Self {
            pending: BTreeMap::new(),
            history: vec![(u64::MAX, 0, false); HISTORY],
            first_ext_seq: None,
            dropped_incomplete: 0,
        }
    }
}

impl FrameAssembler {
    fn known(&self, ext: u64) -> Option<(u32, bool)> {
        let (seq, ts, marker) = self.history[(ext as usize) % HISTORY];
        (seq == ext).then_some((ts, marker))
    }

    /// Packets of frames abandoned as incomplete so far.
    pub fn dropped_packets(&self) -> u64 {
        self.dropped_incomplete
    }

    /// Adds a packet (not a duplicate) and returns the frames it completed.
    pub fn insert(&mut self, ext_seq: u64, packet: RtpPacket, now: Micros) -> Vec<AssembledFrame> {
        self.first_ext_seq = Some(self.first_ext_seq.map_or(ext_seq, |f| f.min(ext_seq)));
        let marker = packet.marker;
        self.history[(ext_seq as usize) % HISTORY] = (ext_seq, packet.timestamp, marker);
        self.pending.insert(
            ext_seq,
            Pending {
                timestamp: packet.timestamp,
                marker: packet.marker,
                arrival: now,
                payload: packet.payload,
                abs_capture_us: packet.abs_capture_us,
            },
        );
        let mut done = Vec::new();
        // This packet may complete its own frame, or (arriving late) the frame after it.
        if let Some(f) = self.try_complete(ext_seq, now) {
            done.push(f);
        }
        if marker {
            if let Some(f) = self.try_complete(ext_seq + 1, now) {
                done.push(f);
            }
        }
        self.expire(now);
        done
    }

    fn try_complete(&mut self, ext_seq: u64, now: Micros) -> Option<AssembledFrame> {
        let ts = self.pending.get(&ext_seq)?.timestamp;
        let mut start = ext_seq;
        while start > 0
            && self
                .pending
                .get(&(start - 1))
                .is_some_and(|p| p.timestamp == ts)
        {
            start -= 1;
        }
        let boundary_ok = match self.known(start.wrapping_sub(1)) {
            Some((prev_ts, prev_marker)) => prev_marker || prev_ts != ts,
            None => Some(start) == self.first_ext_seq,
        };
        if !boundary_ok {
            return None;
        }
        let mut end = ext_seq;
        loop {
            let p = self.pending.get(&end)?;
            if p.timestamp != ts {
                return None;
            }
            if p.marker {
                break;
            }
            end += 1;
        }
        let mut frame = AssembledFrame {
            timestamp: ts,
            payloads: Vec::with_capacity((end - start + 1) as usize),
            abs_capture_us: None,
            completed_at: now,
            first_arrival: now,
            bytes: 0,
            first_seq: start,
            last_seq: end,
        };
        for seq in start..=end {
            let p = self.pending.remove(&seq)?;
            frame.abs_capture_us = frame.abs_capture_us.or(p.abs_capture_us);
            frame.first_arrival = frame.first_arrival.min(p.arrival);
            frame.bytes += p.payload.len();
            frame.payloads.push(p.payload);
        }
        Some(frame)
    }

    fn expire(&mut self, now: Micros) {
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.saturating_sub(p.arrival) < MAX_WAIT_US);
        self.dropped_incomplete += (before - self.pending.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16, ts: u32, marker: bool) -> RtpPacket {
        RtpPacket {
            payload_type: 102,
            marker,
            sequence: seq,
            timestamp: ts,
            ssrc: 1,
            abs_capture_us: None,
            payload: vec![seq as u8],
        }
    }

    #[test]
    fn frames_complete_in_order_and_out_of_order() {
        let mut a = FrameAssembler::default();
        assert_eq!(a.insert(100, pkt(100, 0, false), 0).len(), 0);
        assert_eq!(a.insert(101, pkt(101, 0, true), 1).len(), 1);
        // Next frame arrives reordered: marker first.
        assert_eq!(a.insert(104, pkt(104, 3000, true), 2).len(), 0);
        assert_eq!(a.insert(102, pkt(102, 3000, false), 3).len(), 0);
        let f = a.insert(103, pkt(103, 3000, false), 4);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].payloads, vec![vec![102], vec![103], vec![104]]);
    }

    #[test]
    fn a_frame_missing_its_first_packet_is_not_complete() {
        let mut a = FrameAssembler::default();
        a.insert(10, pkt(10, 0, true), 0);
        // seq 11 (first packet of ts 3000) is lost.
        assert!(a.insert(12, pkt(12, 3000, true), 1).is_empty());
        // The frame after it is complete: its predecessor (12) carried the marker bit.
        assert_eq!(a.insert(13, pkt(13, 6000, true), 2).len(), 1);
    }

    #[test]
    fn a_late_marker_packet_completes_the_following_frame_too() {
        let mut a = FrameAssembler::default();
        a.insert(1, pkt(1, 0, false), 0);
        a.insert(3, pkt(3, 3000, true), 1);
        let done = a.insert(2, pkt(2, 0, true), 2);
        assert_eq!(done.len(), 2);
    }
}
