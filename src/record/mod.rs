//! run.json (`rtcbench.run/1`): every type of the versioned record of a run, in one place. The
//! floors above fill it (media its sessions, net its links, the engine its outcome) and the
//! results floor reads, writes, merges and judges it. docs/results.md documents each field and
//! docs/run.schema.json is the JSON Schema generated from these types.

mod link;
mod run;
mod session;
mod shard;

pub use crate::metrics::Summary;
pub use link::{LinkStats, NetworkPhase, SenderStats};
pub use run::{
    Abort, CapacityResult, Environment, FaultPlan, GateResult, GeneratorInterval, HttpLoadResult,
    HttpRequestResult, SelfCost, StepGate, StepResult, Timeline, TimelineMark, TimelinePoint,
};
pub(crate) use session::native_client;
pub use session::{
    CdnError, CdnPlayback, FreezeTally, LayerChange, LayersShown, ReceiverSummary, Reconnects,
    ResolutionTime, Role, SessionFailure,
};
pub use shard::{ClockOffset, MergedShard, ShardRecord};

use crate::metrics::{Metric, PackedHistogram, SerHistogram};
use crate::scenario::NetworkProfile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "rtcbench.run/1";

fn is_zero(l: &LinkStats) -> bool {
    *l == LinkStats::default()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunResults {
    /// The schema this file follows: `rtcbench.run/1`.
    pub schema: String,
    /// The rtcbench version that wrote it.
    pub rtcbench_version: String,
    /// The scenario's `name`.
    pub scenario_name: String,
    /// The scenario exactly as it was run (after defaults).
    pub scenario: serde_json::Value,
    /// The seed the plan was built from: the same scenario and seed give the same plan.
    pub seed: u64,
    /// When the run's clock started, UTC (RFC 3339, whole seconds).
    pub started_at: String,
    /// How long the run ran, seconds (shorter than planned when it was stopped early).
    pub duration_s: f64,
    /// False when the run was stopped early (Ctrl-C, SIGTERM, an aborting gate); what was measured
    /// until then is kept.
    pub completed: bool,
    /// The length of one measurement interval (`intervals` of every metric).
    pub interval_ms: u64,
    /// The provider WebRTC groups ran against; none for simulated-link runs.
    #[serde(default)]
    pub provider: Option<String>,
    /// The machine and build the run ran on.
    pub environment: Environment,
    /// What the run cost rtcbench itself (real-time runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_cost: Option<SelfCost>,
    /// The scenario's SLO gates, judged per group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    /// A capacity search's steps and knee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityResult>,
    /// Failures of the run as a whole (a group that could not start, an HTTP load that could not
    /// run), in words; session failures are in each session.
    pub failures: Vec<String>,
    /// One entry per stream group (and per share of a group on another network profile, named
    /// `NAME@PROFILE`; co-hosts' links as `NAME/hosts`).
    pub groups: Vec<GroupResult>,
    /// HTTP side-load beside the media.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpLoadResult>,
    /// Load and outcome per interval, with the plan's stage boundaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// Faults scheduled in the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultPlan>,
    /// The gate with `abort_on_fail` that stopped the run early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<Abort>,
    /// The shard this run was, when it was one of several (`run --shard I/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// A merged run's shards (`rtcbench merge`), in index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<MergedShard>,
    /// Shards of a merged run that were missing (`merge --allow-partial`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupResult {
    /// The group's name (a share on another profile: `NAME@PROFILE`; co-hosts' links:
    /// `NAME/hosts`).
    pub name: String,
    /// The viewers' network profile, by name.
    pub network_name: String,
    /// That profile as applied (built-in values with the scenario's overrides).
    pub network: NetworkProfile,
    /// What the group's publishers sent, summed.
    pub sender: SenderStats,
    /// What the viewers' network did to what reached them (the impairment layer or the kernel's
    /// counters; the simulated link's for simulated groups).
    pub link: LinkStats,
    /// What the publishers' impairment did to what they sent (WebRTC).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub publisher_link: LinkStats,
    /// Publishers' lost connections and rejoins (WebRTC).
    #[serde(default)]
    pub publisher_reconnects: Reconnects,
    /// A scheduled network's phases and what was realised in each (viewers; publishers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_phases: Vec<NetworkPhase>,
    /// The same for the publishers' network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publisher_network_phases: Vec<NetworkPhase>,
    /// Group totals over its viewer sessions.
    pub totals: GroupTotals,
    /// Every metric measured in the group, by name: units in the name, histograms and per-interval
    /// summaries.
    pub metrics: BTreeMap<Metric, MetricResult>,
    /// Every viewer session.
    pub sessions: Vec<ReceiverSummary>,
    /// Publishers that could not publish, with the failed step.
    #[serde(default)]
    pub publisher_failures: Vec<SessionFailure>,
    /// Observations that are not failures (how the provider's ICE servers behaved), each with
    /// the number of sessions it was seen in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntervalResult {
    /// The interval's start, seconds into the run.
    pub start_s: f64,
    /// Percentiles of the interval's samples.
    pub summary: Summary,
    /// The interval's samples.
    pub histogram: PackedHistogram,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricResult {
    /// The unit the summaries are in ("ms", "%", "fps", "kbps", "dB", "").
    pub unit: String,
    /// Histogram values are the metric times this.
    pub scale: f64,
    /// Percentiles over the whole run.
    pub summary: Summary,
    /// The whole run's samples.
    pub histogram: SerHistogram,
    /// The same per measurement interval.
    pub intervals: Vec<IntervalResult>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupTotals {
    /// Viewer sessions planned in the group.
    pub receivers: u64,
    /// Of them, quality probes (decode every frame, score PSNR/SSIM).
    pub probes: u64,
    /// RTP packets expected (RFC 3550: highest sequence number seen minus first, plus one), over
    /// all sessions.
    pub packets_expected: u64,
    /// Of them, never received.
    pub packets_lost: u64,
    /// Lost for good (after NACK/RTX repair), as WebRTC's packetsLost counts it.
    pub packet_loss_pct: f64,
    /// Lost in transit before repair: lost for good plus those that came late (retransmitted,
    /// or reordered by the network).
    #[serde(default)]
    pub packet_loss_before_repair_pct: f64,
    /// Video frames shown, over all sessions.
    pub frames_rendered: u64,
    /// Freezes by the W3C webrtc-stats rule.
    pub freeze_w3c: FreezeTally,
    /// Render gaps over 200 ms.
    pub freeze_200ms: FreezeTally,
    /// Render gaps over 500 ms.
    pub freeze_500ms: FreezeTally,
    /// W3C freeze time over rendered time, all receivers together.
    pub freeze_time_pct: f64,
    /// Rendered time below 15 frames a second, all receivers together.
    #[serde(default)]
    pub low_fps_time_pct: f64,
    /// Audio gaps over 200 ms.
    pub audio_gaps: u64,
    /// Key-frame requests (PLI) viewers sent.
    pub keyframe_requests: u64,
    /// Share of rendered frames whose marker was read; `null` without frames.
    pub marker_read_pct: Option<f64>,
    /// Sessions that signalled, connected and rendered video; and those that did within 5 s.
    pub join_success_pct: f64,
    /// Sessions that rendered their first frame within 5 s of dialling.
    pub join_within_5s_pct: f64,
    /// Viewer sessions that never joined.
    pub failed_sessions: u64,
    /// What the simulated links did: realised loss and mean one-way delay.
    pub link_loss_pct: f64,
    /// Mean one-way delay the link added.
    pub link_delay_ms: f64,
    /// Viewers' lost connections, rejoins that brought them back, and failed attempts.
    #[serde(flatten)]
    pub reconnects: Reconnects,
    /// Rejoins over drops; `None` without drops.
    #[serde(default)]
    pub reconnect_success_pct: Option<f64>,
    /// Faults after which a viewer saw no frame again before its session ended.
    #[serde(default)]
    pub unrecovered: u64,
    /// Source frames never shown, over all viewers.
    #[serde(default)]
    pub frames_lost: u64,
    /// Sessions with a negotiated track that carried no packet (counted among the failed).
    #[serde(default)]
    pub silent_track_sessions: u64,
}
