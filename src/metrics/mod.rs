//! Measured values: named metrics with units, samples, and interval histograms.

pub mod histogram;
pub mod histogram_bytes;
pub mod recorder;
pub mod summary;

pub use histogram::{PackedHistogram, SerHistogram};
pub use recorder::{MetricSeries, Recorder};
pub use summary::Summary;

use crate::base::Micros;
use serde::{Deserialize, Serialize};

/// Every histogrammed metric. The serialized name carries the unit, as DESIGN.md §3 asks.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Dial (first signalling request of a call or join) → first remote frame rendered.
    ConnectMs,
    /// Subscription start → first rendered video frame.
    FirstFrameMs,
    /// Video capture → frame complete (and decodable) at the receiver.
    E2eLatencyMs,
    /// Audio capture → packet arrival.
    AudioLatencyMs,
    /// RFC 3550 interarrival jitter of the video stream, sampled each interval.
    JitterMs,
    AudioJitterMs,
    /// Video and audio packets lost in the interval, of those expected.
    PacketLossPct,
    /// Rendered frames in each interval.
    Fps,
    /// Received video payload in each interval.
    BitrateKbps,
    PsnrDb,
    Ssim,
    /// Length of each freeze (W3C rule).
    FreezeDurationMs,
    /// How late rtcbench started each planned join (planned instant → first signalling request):
    /// the generator's own delay, which open-model connect times include.
    ScheduleSlipMs,
    /// A co-host pair's switch from the room to a private call: the switch → first frame of
    /// the call.
    SwitchMs,
    /// A fault's end → the first frame rendered after it, for sessions watching when it began.
    RecoveryMs,
    /// Request sent → response received, for HTTP side-load (not per group; not gateable).
    HttpLatencyMs,
}

impl Metric {
    pub const ALL: [Metric; 15] = [
        Metric::ConnectMs,
        Metric::FirstFrameMs,
        Metric::E2eLatencyMs,
        Metric::AudioLatencyMs,
        Metric::JitterMs,
        Metric::AudioJitterMs,
        Metric::PacketLossPct,
        Metric::Fps,
        Metric::BitrateKbps,
        Metric::PsnrDb,
        Metric::Ssim,
        Metric::FreezeDurationMs,
        Metric::ScheduleSlipMs,
        Metric::SwitchMs,
        Metric::RecoveryMs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::ConnectMs => "connect_ms",
            Metric::FirstFrameMs => "first_frame_ms",
            Metric::E2eLatencyMs => "e2e_latency_ms",
            Metric::AudioLatencyMs => "audio_latency_ms",
            Metric::JitterMs => "jitter_ms",
            Metric::AudioJitterMs => "audio_jitter_ms",
            Metric::PacketLossPct => "packet_loss_pct",
            Metric::Fps => "fps",
            Metric::BitrateKbps => "bitrate_kbps",
            Metric::PsnrDb => "psnr_db",
            Metric::Ssim => "ssim",
            Metric::FreezeDurationMs => "freeze_duration_ms",
            Metric::ScheduleSlipMs => "schedule_slip_ms",
            Metric::SwitchMs => "switch_ms",
            Metric::RecoveryMs => "recovery_ms",
            Metric::HttpLatencyMs => "http_latency_ms",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::ConnectMs
            | Metric::FirstFrameMs
            | Metric::E2eLatencyMs
            | Metric::AudioLatencyMs
            | Metric::JitterMs
            | Metric::AudioJitterMs
            | Metric::FreezeDurationMs
            | Metric::ScheduleSlipMs
            | Metric::SwitchMs
            | Metric::RecoveryMs
            | Metric::HttpLatencyMs => "ms",
            Metric::PacketLossPct => "%",
            Metric::Fps => "fps",
            Metric::BitrateKbps => "kbps",
            Metric::PsnrDb => "dB",
            Metric::Ssim => "",
        }
    }

    /// Histograms hold integers: a value is stored as `value × scale`.
    pub fn scale(self) -> f64 {
        match self {
            Metric::ConnectMs
            | Metric::FirstFrameMs
            | Metric::E2eLatencyMs
            | Metric::AudioLatencyMs
            | Metric::JitterMs
            | Metric::AudioJitterMs
            | Metric::FreezeDurationMs
            | Metric::ScheduleSlipMs
            | Metric::SwitchMs
            | Metric::RecoveryMs
            | Metric::HttpLatencyMs => 1000.0, // microseconds
            Metric::PacketLossPct => 1000.0,
            Metric::Fps => 100.0,
            Metric::BitrateKbps => 10.0,
            Metric::PsnrDb => 100.0,
            Metric::Ssim => 10_000.0,
        }
    }
}

/// One measured value at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub metric: Metric,
    pub at: Micros,
    pub value: f64,
}
