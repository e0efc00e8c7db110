//! Per-stream RTP reception statistics as RFC 3550 defines them: extended sequence numbers,
//! cumulative loss (expected − received, Appendix A.3) and interarrival jitter (§6.4.1).

use crate::base::Micros;

const WINDOW: usize = 4096;

#[derive(Debug, Clone)]
pub struct RtpStats {
    clock_rate: u32,
    base_ext_seq: Option<u64>,
    max_ext_seq: u64,
    received: u64,
    duplicates: u64,
    reordered: u64,
    payload_bytes: u64,
    /// Jitter in RTP timestamp units, kept as a float to avoid the integer rounding of §A.8.
    jitter: f64,
    last_transit: Option<f64>,
    seen: Vec<u64>,
    /// Expected in streams before a [`RtpStats::restart`].
    earlier_expected: u64,
}

/// What one packet was, relative to those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    InOrder(u64),
    Late(u64),
    Duplicate,
}

impl RtpStats {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            base_ext_seq: None,
            max_ext_seq: 0,
            received: 0,
            duplicates: 0,
            reordered: 0,
            payload_bytes: 0,
            jitter: 0.0,
            last_transit: None,
            seen: vec![u64::MAX; WINDOW],
            earlier_expected: 0,
        }
    }

    /// The same media on a new connection (a rejoin): its sequence numbers start afresh, and
    /// what was expected and received so far carries on.
    pub fn restart(&mut self) {
        self.earlier_expected = self.expected();
        self.base_ext_seq = None;
        self.max_ext_seq = 0;
        self.last_transit = None;
        self.seen.fill(u64::MAX);
    }

    /// Extends a 16-bit sequence number to the one nearest the highest seen so far.
    pub fn extend(&self, seq: u16) -> u64 {
        if self.base_ext_seq.is_none() {
            return (1 << 16) + seq as u64;
        }
        crate::media::rtp::extend_seq(self.max_ext_seq, seq)
    }

    pub fn on_packet(
        &mut self,
        seq: u16,
        rtp_timestamp: u32,
        arrival: Micros,
        payload_len: usize,
    ) -> Arrival {
        let ext = self.extend(seq);
        let slot = (ext as usize) % WINDOW;
        if self.seen[slot] == ext {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.seen[slot] = ext;
        self.received += 1;
        self.payload_bytes += payload_len as u64;

        // Jitter uses packets in arrival order (§6.4.1), whatever their sequence numbers.
        let arrival_units = arrival as f64 * self.clock_rate as f64 / 1e6;
        let transit = arrival_units - rtp_timestamp as f64;
        if let Some(last) = self.last_transit {
            let mut d = (transit - last).abs();
            // RTP timestamps wrap at 2^32; a wrap looks like an enormous jump.
            if d > (1u64 << 31) as f64 {
                d = ((1u64 << 32) as f64 - d).abs();
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);

        match self.base_ext_seq {
            None => {
                self.base_ext_seq = Some(ext);
                self.max_ext_seq = ext;
                Arrival::InOrder(ext)
            }
            Some(_) if ext > self.max_ext_seq => {
                self.max_ext_seq = ext;
                Arrival::InOrder(ext)
            }
            Some(base) => {
                if ext < base {
                    self.base_ext_seq = Some(ext);
                }
                self.reordered += 1;
                Arrival::Late(ext)
            }
        }
    }

    pub fn expected(&self) -> u64 {
        self.earlier_expected
            + self
                .base_ext_seq
                .map(|b| self.max_ext_seq - b + 1)
                .unwrap_or(0)
    }
    pub fn received(&self) -> u64 {
        self.received
    }
    /// Cumulative packets lost; duplicates do not hide losses because they are not counted.
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }
    pub fn loss_pct(&self) -> f64 {
        match self.expected() {
            0 => 0.0,
            e => self.lost() as f64 * 100.0 / e as f64,
        }
    }
    /// The highest sequence number so far, extended by its wraps from 0 (as receiver reports
    /// give it); None before the first packet.
    pub fn highest_extended(&self) -> Option<u64> {
        self.base_ext_seq.map(|_| self.max_ext_seq - (1 << 16))
    }
    /// Interarrival jitter in RTP timestamp units (RFC 3550 section 6.4.1).
    pub fn jitter_units(&self) -> u32 {
        self.jitter as u32
    }
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / self.clock_rate as f64
    }
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
    pub fn reordered(&self) -> u64 {
        self.reordered
    }
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_counts_gaps_across_the_sequence_wrap() {
        let mut s = RtpStats::new(90_000);
        for (i, seq) in (65_530u16..=65_535).chain(0..10).enumerate() {
            if seq != 2 && seq != 65_533 {
                s.on_packet(seq, i as u32 * 3000, i as u64 * 33_333, 100);
            }
        }
        assert_eq!(s.expected(), 16);
        assert_eq!(s.lost(), 2);
    }

    #[test]
    fn duplicates_and_late_packets_are_told_apart() {
        let mut s = RtpStats::new(90_000);
        assert!(matches!(s.on_packet(10, 0, 0, 1), Arrival::InOrder(_)));
        assert!(matches!(s.on_packet(12, 0, 0, 1), Arrival::InOrder(_)));
        assert!(matches!(s.on_packet(11, 0, 0, 1), Arrival::Late(_)));
        assert_eq!(s.on_packet(11, 0, 0, 1), Arrival::Duplicate);
        assert_eq!((s.lost(), s.duplicates(), s.reordered()), (0, 1, 1));
    }

    #[test]
    fn a_restarted_stream_adds_to_what_came_before() {
        let mut s = RtpStats::new(90_000);
        for seq in (100u16..200).filter(|q| q % 10 != 0) {
            s.on_packet(seq, 0, 0, 1);
        }
        s.restart();
        // A new connection's numbering starts far away and backwards; nothing in between is lost.
        for seq in (5u16..55).filter(|q| *q != 30) {
            s.on_packet(seq, 0, 0, 1);
        }
        // 101..=199 less 9 lost, then 5..=54 less 1 lost.
        assert_eq!((s.expected(), s.received()), (99 + 50, 90 + 49));
        assert_eq!(s.lost(), 9 + 1);
    }

    #[test]
    fn constant_transit_has_zero_jitter() {
        let mut s = RtpStats::new(48_000);
        for i in 0..500u64 {
            s.on_packet(i as u16, (i * 960) as u32, 40_000 + i * 20_000, 80);
        }
        assert!(s.jitter_ms() < 1e-6);
    }
}
