//! A receiver's session as run.json keeps it: a row of sessions.csv.

use serde::{Deserialize, Serialize};

pub(crate) fn native_client() -> String {
    "native".to_string()
}

/// Light receivers measure at the RTP level; probes also decode and score every frame.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Light,
    Probe,
}

impl Role {
    /// As run.json spells it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Light => "light",
            Role::Probe => "probe",
        }
    }
}

/// One receiver's whole session, a row of sessions.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReceiverSummary {
    /// The session's id: `GROUP/rNNN` for viewers, `GROUP/pNNNa` for call sides.
    pub id: String,
    /// The group it belongs to.
    pub group: String,
    /// `light` (RTP-level figures only) or `probe` (decodes and scores picture quality).
    pub role: Role,
    /// Which client played the stream: "native", or the sidecar's client (e.g. "browser").
    #[serde(default = "native_client")]
    pub client: String,
    /// Where the session's client ran, when its shard was labelled (`run --region`): a real
    /// vantage point, scored for coverage as network profiles are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
    /// Subscription (the WHEP request) → first rendered frame.
    pub first_frame_ms: Option<f64>,
    /// RTP packets expected (RFC 3550).
    pub packets_expected: u64,
    /// RTP packets received.
    pub packets_received: u64,
    /// Lost for good, as WebRTC's packetsLost counts it.
    pub packets_lost: u64,
    /// `packets_lost` over `packets_expected`.
    pub packet_loss_pct: f64,
    /// Packets that could not be parsed.
    pub packets_malformed: u64,
    /// Packets received more than once.
    pub packets_duplicated: u64,
    /// Packets that came after a later one.
    pub packets_reordered: u64,
    /// Video interarrival jitter, RFC 3550 §6.4.1, at the end of the session.
    pub jitter_ms: f64,
    /// The same for audio.
    pub audio_jitter_ms: f64,
    /// Video frames received whole.
    pub frames_complete: u64,
    /// Frames shown (complete and decodable).
    pub frames_rendered: u64,
    /// From the first rendered frame to the last.
    pub rendered_ms: f64,
    /// Complete frames that could not be decoded (a reference was missing).
    pub frames_undecodable: u64,
    /// Key-frame requests (PLI) this session sent.
    pub keyframe_requests: u64,
    /// Frames rendered per second of rendering.
    pub fps: f64,
    /// Video payload received per second, kbit/s.
    pub bitrate_kbps: f64,
    /// Freezes by the W3C rule: a render gap over max(3 × the mean of the last 30 frame intervals,
    /// the mean + 150 ms).
    pub freeze_w3c: FreezeTally,
    /// Render gaps over 200 ms.
    pub freeze_200ms: FreezeTally,
    /// Render gaps over 500 ms.
    pub freeze_500ms: FreezeTally,
    /// W3C freeze time over rendered time.
    pub freeze_time_pct: f64,
    /// Rendered time when fewer than 15 frames were shown in the second before: a steady low
    /// frame rate that no freeze rule sees.
    #[serde(default)]
    pub low_fps_time_pct: f64,
    /// Capture → frame complete, median over the session's frames.
    pub e2e_latency_p50_ms: Option<f64>,
    /// The same, p95.
    pub e2e_latency_p95_ms: Option<f64>,
    /// The session's own e2e latency samples (µs), so a comparison can resample whole
    /// sessions; absent in run.json files written before scoring existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_latency_us: Option<crate::metrics::SerHistogram>,
    /// Audio capture → packet arrival, median.
    pub audio_latency_p50_ms: Option<f64>,
    /// Gaps over 200 ms in the audio.
    pub audio_gaps: u64,
    /// Their total length.
    pub audio_gap_ms: f64,
    /// Opus packets a probe could not decode.
    pub audio_decode_errors: u64,
    /// Mean luma PSNR against the regenerated source (probes).
    pub psnr_db: Option<f64>,
    /// Mean luma SSIM against the source (probes).
    pub ssim: Option<f64>,
    /// Share of rendered frames whose marker was read.
    pub marker_read_pct: Option<f64>,
    /// H.264 frames a probe's decoder refused.
    pub video_decode_errors: u64,
    /// Joined: signalling and connection succeeded and video was rendered.
    pub joined: bool,
    /// Joined, with the first frame within 5 s of dialling.
    pub joined_within_5s: bool,
    /// Dial → first remote frame, for sessions that dial (WebRTC).
    pub connect_ms: Option<f64>,
    /// Why the session did not join, or what ended it.
    pub failure: Option<SessionFailure>,
    /// The planned join instant, seconds from the run's start (WebRTC sessions).
    #[serde(default)]
    pub planned_join_s: Option<f64>,
    /// When the session ended (left, dropped, or the run ended), seconds from the run's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_s: Option<f64>,
    /// Frames the source sent that were never shown (gaps in the marker's frame numbers).
    #[serde(default)]
    pub frames_lost: u64,
    /// Fault end → first frame after it, for each fault this session watched begin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_ms: Vec<f64>,
    /// Faults after which no frame came before the session ended.
    #[serde(default)]
    pub unrecovered: u64,
    /// Connections lost after joining, rejoins that brought the session back, and attempts
    /// that failed.
    #[serde(flatten)]
    pub reconnects: Reconnects,
    /// Frames a sidecar's client decoded (its framesDecoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_frames_decoded: Option<u64>,
    /// Of them, those it dropped instead of showing (its framesDropped: the client falling
    /// behind its frame rate, not the provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_frames_dropped: Option<u64>,
    /// Negotiated tracks (`audio`, `video`) that brought no packet in a session connected for
    /// at least 3 s; any makes the session a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silent_tracks: Vec<String>,
    /// What the player measured, for a viewer that watched through the CDN (HTTP-FLV, HLS,
    /// LL-HLS). Its `first_frame_ms` is the first frame received, `connect_ms` the startup time,
    /// its e2e latency the live latency, and its W3C freezes its stalls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn: Option<CdnPlayback>,
    /// The picture sizes shown, read from the stream's SPS: a simulcast viewer's layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<LayersShown>,
}

/// The picture sizes a viewer was shown over its session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LayersShown {
    /// Time shown at each size, largest first.
    pub resolutions: Vec<ResolutionTime>,
    /// Changes to a smaller picture.
    pub switches_down: u64,
    /// Changes to a larger picture.
    pub switches_up: u64,
    /// For each change of the viewer's network (a schedule's phase) or ask for a layer
    /// (`layer_schedule`) followed by a change of size before the next: that change → first
    /// frame of the new size.
    #[serde(default)]
    pub switch_ms: Vec<f64>,
    /// Frames of the source never shown across the changes of size (the switches' cost).
    #[serde(default)]
    pub frames_skipped_at_switches: u64,
    /// Each size from the frame it was first shown (the first 512 changes).
    pub changes: Vec<LayerChange>,
}

/// Time shown at one picture size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolutionTime {
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Time shown at this size (from each frame to the next).
    pub ms: f64,
    /// Mean luma PSNR of the frames scored at this size, against the source scaled to it
    /// (probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_db: Option<f64>,
}

/// The first frame of a picture size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LayerChange {
    /// Seconds from the run's start.
    pub at_s: f64,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
}

/// A CDN viewer's playback, as the live-streaming industry reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CdnPlayback {
    /// `http-flv`, `hls` or `ll-hls`.
    pub protocol: String,
    /// The first request (the tap) → playback starts with the start buffer filled; 秒开 is a
    /// startup of at most 1 s.
    pub startup_ms: Option<f64>,
    /// Times the buffer ran dry for 250 ms or more after playback started (hls.js reports a
    /// stall from 250 ms).
    pub stalls: u64,
    /// Shorter underruns: the next frame came late by less than a viewer notices.
    #[serde(default)]
    pub underruns: u64,
    /// Their total length (a stall under way at the end counts up to the end).
    pub stall_ms: f64,
    /// Stall time over time watched (卡顿时长占比).
    pub stall_pct: f64,
    /// Stalls per 100 s watched (百秒卡顿次数).
    pub stalls_per_100s: f64,
    /// From playback start to the end of the session, stalls included.
    pub watched_s: f64,
    /// Wall clock when a frame is shown − its capture time from the SEI marker, median.
    pub live_latency_p50_ms: Option<f64>,
    /// The same, p95.
    pub live_latency_p95_ms: Option<f64>,
    /// Request → last byte, per segment (HLS) and per part (LL-HLS).
    pub segment_download_p50_ms: Option<f64>,
    /// The same per segment, p95.
    pub segment_download_p95_ms: Option<f64>,
    /// The same per part, median (a preload-hinted part is held by the server until finished).
    pub part_download_p50_ms: Option<f64>,
    /// Media bitrate received: bytes over media time.
    pub bitrate_kbps: Option<f64>,
    /// The variant played, and the bandwidth its master playlist advertised.
    pub rendition: Option<String>,
    /// The bandwidth the master playlist advertised for it.
    pub rendition_bandwidth_kbps: Option<f64>,
    /// Failed requests and broken streams: HTTP errors, cut bodies, unparsable playlists or
    /// segments, a playlist that stopped advancing.
    pub http_errors: u64,
    /// Requests made again after a failure (and reconnects of an HTTP-FLV stream).
    pub retries: u64,
    /// Segments or parts given up on, or that slid out of the playlist before being fetched.
    pub skipped: u64,
    /// The first errors, each with its URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CdnError>,
}

/// One failure a CDN player met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CdnError {
    /// Seconds from the run's start.
    pub at_s: f64,
    /// The URL it concerned.
    pub url: String,
    /// What went wrong: an HTTP status, a transport error, a parse error with its place.
    pub what: String,
}

/// Why a session did not join: the step that failed and what was said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionFailure {
    /// The step that failed: `offer`, `status`, `answer`, `connect`, `trickle`, `leave`, `media`, or a
    /// sidecar's step.
    pub step: String,
    /// What was said (the provider's words, with secrets blanked).
    pub reason: String,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FreezeTally {
    /// How many freezes.
    pub count: u64,
    /// Sum of the render gaps that counted as freezes.
    pub total_us: u64,
}

/// What became of a session's connection: lost after connecting, brought back by a rejoin, or
/// rejoin attempts that failed.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(default)]
pub struct Reconnects {
    /// Connections lost after joining.
    pub drops: u64,
    /// Rejoins that brought the session back.
    pub rejoins: u64,
    /// Rejoin attempts that failed.
    pub rejoin_failures: u64,
}
