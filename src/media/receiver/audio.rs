//! The audio half of a receiver: RTP stats, capture-time recovery, latency and gaps.

use super::rtp_stats::{Arrival, RtpStats};
use crate::base::Micros;
use crate::media::codec::OpusDecoder;
use crate::media::rtp::{RtpPacket, AUDIO_CLOCK_RATE};
use crate::metrics::{Metric, Sample};

/// A silence longer than this between audio packets is an audible gap.
pub const AUDIO_GAP_US: u64 = 200_000;
/// Above this, an RTP-time mapping is taken to be wrong rather than the network that slow.
const BELIEVABLE_LATENCY_US: u64 = 5_000_000;

/// The sender's mapping from RTP time to its capture clock, as an RTCP sender report gives it;
/// used when abs-capture-time is not negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderClock {
    pub rtp_timestamp: u32,
    pub capture_us: Micros,
}

impl SenderClock {
    pub fn capture_of(&self, rtp_timestamp: u32) -> Micros {
        let delta = rtp_timestamp.wrapping_sub(self.rtp_timestamp) as i32 as i64;
        (self.capture_us as i64 + delta * 1_000_000 / AUDIO_CLOCK_RATE as i64).max(0) as u64
    }
}

pub struct AudioReceiver {
    pub stats: RtpStats,
    sender_clock: Option<SenderClock>,
    decoder: Option<OpusDecoder>,
    last_arrival: Option<Micros>,
    pub gaps: u64,
    pub gap_time_us: u64,
    pub decode_errors: u64,
    pub latency: hdrhistogram::Histogram<u64>,
    samples: Vec<Sample>,
}

impl AudioReceiver {
    pub fn new(sender_clock: Option<SenderClock>, decoder: Option<OpusDecoder>) -> Self {
        Self {
            stats: RtpStats::new(AUDIO_CLOCK_RATE),
            sender_clock,
            decoder,
            last_arrival: None,
            gaps: 0,
            gap_time_us: 0,
            decode_errors: 0,
            latency: hdrhistogram::Histogram::new(2).expect("valid precision"),
            samples: Vec::new(),
        }
    }

    pub fn on_packet(&mut self, packet: &RtpPacket, now: Micros) {
        if self
            .stats
            .on_packet(packet.sequence, packet.timestamp, now, packet.payload.len())
            == Arrival::Duplicate
        {
            return;
        }
        if let Some(last) = self.last_arrival.replace(now) {
            let gap = now.saturating_sub(last);
            if gap > AUDIO_GAP_US {
                self.gaps += 1;
                self.gap_time_us += gap;
            }
        }
        if let Some(decoder) = self.decoder.as_mut() {
            if decoder.decode(&packet.payload).is_err() {
                self.decode_errors += 1;
            }
        }
        let capture = packet
            .abs_capture_us
            .or_else(|| self.capture_from_rtp_time(packet.timestamp, now));
        if let Some(capture) = capture {
            let latency = now.saturating_sub(capture);
            let _ = self.latency.record(latency);
            self.samples.push(Sample {
                metric: Metric::AudioLatencyMs,
                at: now,
                value: latency as f64 / 1000.0,
            });
        }
    }

    /// The capture time from the RTP timestamp, while that mapping is believable: a server that
    /// re-encodes or re-stamps audio starts its own RTP time, and the first packet then lands
    /// far outside any real latency; from then on the stream has no latency figure.
    fn capture_from_rtp_time(&mut self, rtp_timestamp: u32, now: Micros) -> Option<Micros> {
        let capture = self.sender_clock?.capture_of(rtp_timestamp);
        if capture > now || now - capture > BELIEVABLE_LATENCY_US {
            self.sender_clock = None;
            return None;
        }
        Some(capture)
    }

    /// The stream comes again on a new connection; the silence between counts as a gap.
    pub fn on_reconnect(&mut self) {
        self.stats.restart();
    }

    pub fn on_interval(&mut self, now: Micros) {
        if self.stats.received() > 0 {
            self.samples.push(Sample {
                metric: Metric::AudioJitterMs,
                at: now.saturating_sub(1),
                value: self.stats.jitter_ms(),
            });
        }
    }

    pub fn drain_samples(&mut self) -> std::vec::Drain<'_, Sample> {
        self.samples.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(sequence: u16, timestamp: u32) -> RtpPacket {
        RtpPacket {
            payload_type: 111,
            marker: false,
            sequence,
            timestamp,
            ssrc: 7,
            abs_capture_us: None,
            payload: vec![0; 40],
        }
    }

    const START: Micros = 1_700_000_000_000_000;

    /// 50 packets of 20 ms (960 samples) whose RTP time starts at `first_rtp`, each arriving
    /// 35 ms after capture, to a receiver that maps RTP time 1000 to `START`.
    fn received_from(first_rtp: u32) -> AudioReceiver {
        let clock = SenderClock {
            rtp_timestamp: 1000,
            capture_us: START,
        };
        let mut audio = AudioReceiver::new(Some(clock), None);
        for n in 0..50u32 {
            audio.on_packet(
                &packet(n as u16, first_rtp + 960 * n),
                START + 20_000 * n as u64 + 35_000,
            );
        }
        audio
    }

    #[test]
    fn rtp_time_gives_latency_when_the_server_keeps_it() {
        let audio = received_from(1000);
        assert_eq!(audio.latency.len(), 50);
        assert_eq!(audio.latency.value_at_quantile(0.5) / 1000, 35);
    }

    #[test]
    fn rtp_time_restarted_by_a_transcoder_gives_no_latency() {
        // The server's own RTP time starts about 11 minutes from ours.
        let audio = received_from(31_415_926);
        assert_eq!(audio.latency.len(), 0);
        assert_eq!(audio.stats.received(), 50);
    }
}
