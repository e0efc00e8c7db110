//! Asking for lost video packets again, as a browser and str0m's viewer do, and reading the
//! repairs that come back (RFC 4588). Timing follows str0m's receive side, so the light viewer
//! repairs what the full one would: a missing packet is asked for at the next poll (polls at
//! most every 33 ms), again after a round trip plus 5 ms (100 ms while the round trip is unknown,
//! as it is to a viewer that only receives), at most five times, and only while it is among the
//! 100 packets behind the newest.

use crate::media::rtp::{extend_seq, header_len};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far behind the newest packet a loss is still asked for.
const WINDOW: u64 = 100;
/// The most times one packet is asked for.
const MAX_ASKS: u8 = 5;
/// Between two asks for the same packet: str0m's default round trip plus its margin.
pub const RETRY_AFTER: Duration = Duration::from_millis(105);
/// The least time between two polls for NACKs.
pub const POLL_EVERY: Duration = Duration::from_millis(33);

#[derive(Debug, Clone, Copy)]
struct Missing {
    seq: u64,
    asks: u8,
    last_ask: Option<Instant>,
}

/// The video packets missing from one stream, and when each is to be asked for.
#[derive(Debug, Default)]
pub struct NackList {
    highest: Option<u64>,
    missing: VecDeque<Missing>,
}

impl NackList {
    /// A packet arrived (a first copy or a repair): gaps before it become losses to ask for.
    pub fn on_packet(&mut self, seq: u16) {
        let Some(highest) = self.highest else {
            self.highest = Some(u64::from(seq));
            return;
        };
        let seq = extend_seq(highest, seq);
        if seq <= highest {
            self.missing.retain(|m| m.seq != seq);
            return;
        }
        let from = (highest + 1).max(seq.saturating_sub(WINDOW));
        self.missing.extend((from..seq).map(|seq| Missing {
            seq,
            asks: 0,
            last_ask: None,
        }));
        self.highest = Some(seq);
        let oldest = seq.saturating_sub(WINDOW);
        while self.missing.front().is_some_and(|m| m.seq < oldest) {
            self.missing.pop_front();
        }
    }

    /// Whether a retransmission of `seq` brings anything: a packet still missing or one newer
    /// than any yet. A server probing for bandwidth resends packets that arrived long ago
    /// (str0m's padding does); given to the receiver, they would count as late duplicates and
    /// stretch its jitter.
    pub fn wants(&self, seq: u16) -> bool {
        let Some(highest) = self.highest else {
            return true;
        };
        let seq = extend_seq(highest, seq);
        seq > highest || self.missing.iter().any(|m| m.seq == seq)
    }

    /// Whether any loss may still be asked for.
    pub fn is_pending(&self) -> bool {
        !self.missing.is_empty()
    }

    /// The losses due to be asked for at `now`, into `out` (16-bit, oldest first); losses asked
    /// for five times are given up.
    pub fn due(&mut self, now: Instant, out: &mut Vec<u16>) {
        for m in self.missing.iter_mut() {
            let due = m
                .last_ask
                .is_none_or(|at| now.saturating_duration_since(at) >= RETRY_AFTER);
            if due && m.asks < MAX_ASKS {
                m.asks += 1;
                m.last_ask = Some(now);
                out.push(m.seq as u16);
            }
        }
        self.missing
            .retain(|m| m.asks < MAX_ASKS || m.last_ask.is_some_and(|at| now < at + RETRY_AFTER));
    }
}

/// A retransmission's original packet (RFC 4588 §4): the RTX header with the media payload type,
/// SSRC and the original sequence number from the payload's first two bytes, into `out`; that
/// sequence number. None for a packet with no original in it (padding a sender probes with) or
/// a malformed one.
pub fn unwrap_rtx(rtx: &[u8], media_pt: u8, media_ssrc: u32, out: &mut Vec<u8>) -> Option<u16> {
    let header = header_len(rtx)?;
    let padding = match rtx[0] & 0x20 {
        0 => 0,
        _ => usize::from(*rtx.last()?),
    };
    let end = rtx.len().checked_sub(padding)?;
    let osn = rtx.get(header..header + 2)?;
    if header + 2 >= end {
        return None;
    }
    out.clear();
    out.extend_from_slice(&rtx[..header]);
    out[0] &= !0x20; // the padding stays behind
    out[1] = (rtx[1] & 0x80) | (media_pt & 0x7F);
    out[2..4].copy_from_slice(osn);
    out[8..12].copy_from_slice(&media_ssrc.to_be_bytes());
    out.extend_from_slice(&rtx[header + 2..end]);
    Some(u16::from_be_bytes([osn[0], osn[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::RtpPacket;

    fn asked(list: &mut NackList, at: Instant) -> Vec<u16> {
        let mut out = Vec::new();
        list.due(at, &mut out);
        out
    }

    #[test]
    fn a_gap_is_asked_for_at_once_then_after_a_round_trip_five_times_in_all() {
        let t0 = Instant::now();
        let mut list = NackList::default();
        for seq in [10, 11, 14] {
            list.on_packet(seq);
        }
        let mut total = 0;
        let first = asked(&mut list, t0);
        assert_eq!(first, vec![12, 13]);
        total += first.len();
        assert!(asked(&mut list, t0 + RETRY_AFTER - Duration::from_millis(1)).is_empty());
        list.on_packet(12);
        assert_eq!(asked(&mut list, t0 + RETRY_AFTER), vec![13]);
        total += 1;
        for k in 2..=4 {
            assert_eq!(asked(&mut list, t0 + RETRY_AFTER * k), vec![13]);
        }
        total += 3;
        assert!(
            list.is_pending(),
            "kept until its last ask has had its round trip"
        );
        let last = asked(&mut list, t0 + RETRY_AFTER * 5);
        assert!(last.is_empty());
        total += last.len();
        assert!(!list.is_pending());
        assert_eq!(total, 6);
    }

    #[test]
    fn losses_across_a_sequence_wrap_and_beyond_the_window() {
        let t0 = Instant::now();
        let mut list = NackList::default();
        list.on_packet(65_534);
        list.on_packet(1);
        assert_eq!(asked(&mut list, t0), vec![65_535, 0]);
        // A jump of 500: only the last 100 behind the newest are worth asking for.
        list.on_packet(501);
        let out = asked(&mut list, t0 + RETRY_AFTER);
        assert_eq!(out.len(), 100, "{out:?}");
        assert_eq!((out[0], out[99]), (401, 500));
    }

    #[test]
    fn only_a_missing_or_new_packet_is_wanted_again() {
        let mut list = NackList::default();
        assert!(list.wants(9), "nothing seen yet");
        for seq in [10, 11, 13] {
            list.on_packet(seq);
        }
        assert!(list.wants(12) && list.wants(14));
        assert!(!list.wants(10) && !list.wants(13), "arrived already");
        list.on_packet(12);
        assert!(!list.wants(12), "repaired already");
    }

    #[test]
    fn a_reordered_packet_is_no_longer_missing() {
        let t0 = Instant::now();
        let mut list = NackList::default();
        for seq in [1, 3, 2] {
            list.on_packet(seq);
        }
        assert!(asked(&mut list, t0).is_empty());
        assert!(!list.is_pending());
    }

    /// A packet with an abs-capture-time extension, as the server's packets carry one.
    fn packet(pt: u8, seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        RtpPacket {
            payload_type: pt,
            marker: true,
            sequence: seq,
            timestamp: 90_000,
            ssrc,
            abs_capture_us: Some(1_700_000_000_000_000),
            payload: payload.to_vec(),
        }
        .to_bytes()
    }

    #[test]
    fn a_retransmission_reads_back_as_its_original() {
        let original = packet(127, 4_000, 0xAAAA, b"h264 nal");
        let mut payload = 4_000u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"h264 nal");
        let rtx = packet(121, 77, 0xBBBB, &payload);
        let mut out = Vec::new();
        assert_eq!(unwrap_rtx(&rtx, 127, 0xAAAA, &mut out), Some(4_000));
        assert_eq!(out, original);
        let parsed = RtpPacket::parse(&out).expect("parses");
        assert_eq!((parsed.sequence, parsed.ssrc), (4_000, 0xAAAA));
    }

    #[test]
    fn padding_probes_and_short_retransmissions_have_no_original() {
        let mut out = Vec::new();
        let mut probe = packet(121, 5, 0xBBBB, &[0, 0, 0, 4]);
        probe[0] |= 0x20; // four bytes of padding: all of its payload
        let short = packet(121, 6, 0xBBBB, &[0x0F]);
        assert!(unwrap_rtx(&probe, 127, 0xAAAA, &mut out).is_none());
        assert!(unwrap_rtx(&short, 127, 0xAAAA, &mut out).is_none());
        assert!(unwrap_rtx(&short[..14], 127, 0xAAAA, &mut out).is_none());
        assert!(unwrap_rtx(&[0xA0], 127, 0xAAAA, &mut out).is_none());
    }
}
