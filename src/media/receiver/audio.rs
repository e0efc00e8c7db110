//! The audio half of a receiver: RTP stats, latency and gaps. Latency is measured only from the
//! capture time our publisher puts on every audio packet (abs-capture-time): a server may rebase
//! RTP time per subscriber (Medooze) or shift it (Pion), and an RTP-time mapping would then
//! report each viewer's join delay or the shift as latency. Without the extension the figure
//! is not measured.

use super::rtp_stats::{Arrival, RtpStats};
use crate::base::Micros;
use crate::media::codec::OpusDecoder;
use crate::media::rtp::{RtpPacket, AUDIO_CLOCK_RATE};
use crate::metrics::{Metric, Sample};

/// A silence longer than this between audio packets is an audible gap.
pub const AUDIO_GAP_US: u64 = 200_000;

pub struct AudioReceiver {
    pub stats: RtpStats,
    decoder: Option<OpusDecoder>,
    last_arrival: Option<Micros>,
    pub gaps: u64,
    pub gap_time_us: u64,
    pub decode_errors: u64,
    pub latency: hdrhistogram::Histogram<u64>,
    samples: Vec<Sample>,
}

impl AudioReceiver {
    pub fn new(decoder: Option<OpusDecoder>) -> Self {
        Self {
            stats: RtpStats::new(AUDIO_CLOCK_RATE),
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
        if let Some(capture) = packet.abs_capture_us {
            let latency = now.saturating_sub(capture);
            let _ = self.latency.record(latency);
            self.samples.push(Sample {
                metric: Metric::AudioLatencyMs,
                at: now,
                value: latency as f64 / 1000.0,
            });
        }
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

    /// 50 packets of 20 ms, each arriving 35 ms after capture, with capture times or without.
    fn received(with_capture_time: bool) -> AudioReceiver {
        let mut audio = AudioReceiver::new(None);
        for n in 0..50u32 {
            let capture = START + 20_000 * n as u64;
            let mut p = packet(n as u16, 960 * n);
            p.abs_capture_us = with_capture_time.then_some(capture);
            audio.on_packet(&p, capture + 35_000);
        }
        audio
    }

    #[test]
    fn capture_time_on_each_packet_gives_latency() {
        let audio = received(true);
        assert_eq!(audio.latency.len(), 50);
        assert_eq!(audio.latency.value_at_quantile(0.5) / 1000, 35);
    }

    #[test]
    fn without_capture_time_latency_is_not_measured() {
        let audio = received(false);
        assert_eq!(audio.latency.len(), 0);
        assert_eq!(audio.stats.received(), 50);
    }
}
