//! What publishers sent and what the network did to it.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SenderStats {
    /// Video frames the source produced.
    pub frames_captured: u64,
    /// Of them, encoded and sent (the encoder may skip frames when the bandwidth estimate is low).
    pub frames_sent: u64,
    /// Key frames sent.
    pub keyframes: u64,
    /// Key frames sent because a viewer asked (PLI/FIR).
    pub keyframe_requests_honoured: u64,
    /// Video RTP packets sent.
    pub video_packets: u64,
    /// Video payload bytes sent.
    pub video_bytes: u64,
    /// Audio RTP packets sent.
    pub audio_packets: u64,
}

/// What the link actually did, to report beside what it was asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinkStats {
    /// Datagrams (or packets, on the simulated link) offered to the network.
    pub sent: u64,
    /// Of them, dropped (loss, bursts, queue overflow, outages).
    pub dropped: u64,
    /// Delivered, duplicates included.
    pub delivered: u64,
    /// Delay added to delivered datagrams, summed, µs (mean delay = this / delivered).
    pub delay_sum_us: u64,
}

/// One phase of a scheduled network profile and what the layer realised in it, summed over the
/// group's clients.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NetworkPhase {
    /// Run seconds.
    pub from_s: f64,
    /// End of the phase, run seconds.
    pub to_s: f64,
    /// The profile in force in the phase.
    pub profile: String,
    /// What the network did in the phase.
    pub link: LinkStats,
}
