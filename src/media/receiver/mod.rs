//! A subscriber's measurement endpoint: packets and time in, samples and feedback out.

pub use crate::record::{ReceiverSummary, Role, SessionFailure};
pub mod assembler;
pub mod audio;
pub mod freeze;
pub mod layers;
pub mod recovery;
pub mod reference;
pub mod rtp_stats;
pub mod shared_decode;
pub mod silence;
pub mod video;

pub use audio::AudioReceiver;
pub use freeze::{FreezeDetector, FreezeTally};
pub use recovery::{Reconnects, RecoveryWatch};
pub use silence::SilenceWatch;
pub use video::{QualityProbe, VideoReceiver};

use crate::base::Micros;
use crate::media::rtp::{RtpPacket, AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE};
use crate::metrics::{Metric, Sample};

pub struct Receiver {
    pub id: String,
    pub role: Role,
    pub video: VideoReceiver,
    pub audio: AudioReceiver,
    subscribed_at: Micros,
    silence: SilenceWatch,
    malformed: u64,
    interval_expected: u64,
    interval_received: u64,
    samples: Vec<Sample>,
}

impl Receiver {
    pub fn new(
        id: String,
        role: Role,
        subscribed_at: Micros,
        video: VideoReceiver,
        audio: AudioReceiver,
    ) -> Self {
        Self {
            id,
            role,
            video,
            audio,
            subscribed_at,
            silence: SilenceWatch::default(),
            malformed: 0,
            interval_expected: 0,
            interval_received: 0,
            samples: Vec::new(),
        }
    }

    /// A datagram off the wire; malformed packets are counted, never fatal.
    pub fn on_datagram(&mut self, bytes: &[u8], now: Micros) {
        match RtpPacket::parse(bytes) {
            Ok(packet) => self.on_packet(packet, now),
            Err(_) => self.malformed += 1,
        }
    }

    pub fn on_packet(&mut self, packet: RtpPacket, now: Micros) {
        match packet.payload_type {
            VIDEO_PAYLOAD_TYPE => self.on_video_packet(packet, now),
            AUDIO_PAYLOAD_TYPE => self.on_audio_packet(&packet, now),
            _ => self.malformed += 1,
        }
    }

    /// A video packet from a transport that already knows the media kind (negotiated PTs vary).
    pub fn on_video_packet(&mut self, packet: RtpPacket, now: Micros) {
        self.silence.on_video();
        self.video.on_packet(packet, now);
    }

    pub fn on_audio_packet(&mut self, packet: &RtpPacket, now: Micros) {
        self.silence.on_audio();
        self.audio.on_packet(packet, now);
    }

    /// The watched stream has no audio (its sender sends none): a silent audio track is not
    /// this viewer's failure.
    pub fn expect_no_audio(mut self) -> Self {
        self.silence.expect_no_audio();
        self
    }

    /// The transport came up; from here its negotiated tracks are expected to carry media.
    pub fn on_connected(&mut self, now: Micros) {
        self.silence.on_connected(now);
    }

    fn packets_expected(&self) -> u64 {
        self.video.stats.expected() + self.audio.stats.expected()
    }
    fn packets_received(&self) -> u64 {
        self.video.stats.received() + self.audio.stats.received()
    }

    /// Closes one measurement interval ending at `now`.
    pub fn on_interval(&mut self, now: Micros, interval_us: u64) {
        self.video.on_interval(now, interval_us);
        self.audio.on_interval(now);
        let (expected, received) = (self.packets_expected(), self.packets_received());
        let de = expected.saturating_sub(self.interval_expected);
        let dr = received.saturating_sub(self.interval_received);
        if de > 0 {
            let lost = de.saturating_sub(dr);
            self.samples.push(Sample {
                metric: Metric::PacketLossPct,
                at: now.saturating_sub(1),
                value: lost as f64 * 100.0 / de as f64,
            });
        }
        self.interval_expected = expected;
        self.interval_received = received;
    }

    pub fn drain_samples(&mut self) -> Vec<Sample> {
        let mut all: Vec<Sample> = self.samples.drain(..).collect();
        all.extend(self.video.drain_samples());
        all.extend(self.audio.drain_samples());
        all
    }

    pub fn take_keyframe_request(&mut self) -> bool {
        self.video.take_keyframe_request()
    }

    /// The session rejoined: the same media comes on a new connection.
    pub fn on_reconnect(&mut self) {
        self.video.on_reconnect();
        self.audio.on_reconnect();
    }

    /// Times recovery after these fault windows (on the run's clock).
    pub fn watch_recovery(&mut self, windows: Vec<(Micros, Micros)>) {
        self.video.recovery = RecoveryWatch::new(windows);
    }

    pub fn summary(&self, group: &str, end: Micros) -> ReceiverSummary {
        let v = &self.video;
        let f = &v.freeze;
        let pct = |h: &hdrhistogram::Histogram<u64>, q: f64| {
            (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
        };
        let span_s = end.saturating_sub(self.subscribed_at) as f64 / 1e6;
        let probe = v.probe.as_ref();
        ReceiverSummary {
            id: self.id.clone(),
            group: group.to_string(),
            role: self.role,
            client: crate::record::native_client(),
            vantage: None,
            first_frame_ms: v.first_frame_ms,
            packets_expected: self.packets_expected(),
            packets_received: self.packets_received(),
            packets_lost: v.stats.lost() + self.audio.stats.lost(),
            packet_loss_pct: ratio_pct(
                v.stats.lost() + self.audio.stats.lost(),
                self.packets_expected(),
            ),
            packets_malformed: self.malformed,
            packets_duplicated: v.stats.duplicates() + self.audio.stats.duplicates(),
            packets_reordered: v.stats.reordered() + self.audio.stats.reordered(),
            jitter_ms: v.stats.jitter_ms(),
            audio_jitter_ms: self.audio.stats.jitter_ms(),
            frames_complete: v.frames_complete,
            frames_rendered: f.frames(),
            rendered_ms: f.rendered_span_us() as f64 / 1000.0,
            frames_undecodable: v.frames_undecodable,
            keyframe_requests: v.keyframe_requests,
            fps: if f.rendered_span_us() > 0 {
                (f.frames().saturating_sub(1)) as f64 * 1e6 / f.rendered_span_us() as f64
            } else {
                0.0
            },
            bitrate_kbps: if span_s > 0.0 {
                v.stats.payload_bytes() as f64 * 8.0 / 1000.0 / span_s
            } else {
                0.0
            },
            freeze_w3c: f.w3c,
            freeze_200ms: f.gap_200ms,
            freeze_500ms: f.gap_500ms,
            freeze_time_pct: f.freeze_time_pct(),
            low_fps_time_pct: f.low_fps_time_pct(),
            e2e_latency_p50_ms: pct(&v.latency, 0.5),
            e2e_latency_p95_ms: pct(&v.latency, 0.95),
            e2e_latency_us: (!v.latency.is_empty())
                .then(|| crate::metrics::SerHistogram(v.latency.clone())),
            audio_latency_p50_ms: pct(&self.audio.latency, 0.5),
            audio_gaps: self.audio.gaps,
            audio_gap_ms: self.audio.gap_time_us as f64 / 1000.0,
            audio_decode_errors: self.audio.decode_errors,
            psnr_db: probe
                .filter(|p| p.scored_frames > 0)
                .map(|p| p.psnr_sum / p.scored_frames as f64),
            ssim: probe
                .filter(|p| p.scored_frames > 0)
                .map(|p| p.ssim_sum / p.scored_frames as f64),
            marker_read_pct: probe
                .map(|p| ratio_pct(p.marker_reads, p.marker_reads + p.marker_misses)),
            video_decode_errors: probe.map(|p| p.decode_errors).unwrap_or(0),
            joined: f.frames() > 0,
            joined_within_5s: v.first_frame_ms.is_some_and(|ms| ms <= 5_000.0),
            connect_ms: None,
            planned_join_s: None,
            left_s: None,
            failure: None,
            frames_lost: v.frames_lost,
            recovery_ms: v
                .recoveries_us
                .iter()
                .map(|&us| us as f64 / 1000.0)
                .collect(),
            unrecovered: v.recovery.unrecovered(end),
            reconnects: Reconnects::default(),
            silent_tracks: self.silence.silent_tracks(end),
            client_frames_decoded: None,
            client_frames_dropped: None,
            cdn: None,
            layers: None,
        }
    }
}

fn ratio_pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
