//! The run as a whole: the machine, rtcbench's own cost, gates, the capacity search, HTTP
//! side-load, the timeline, faults and an abort.

use super::MetricResult;
use crate::metrics::{SerHistogram, Summary};
use crate::scenario::faults::FaultKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    /// The rtcbench version.
    pub rtcbench_version: String,
    /// Operating system, as `std::env::consts::OS` names it.
    pub os: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Logical CPUs the process could use.
    pub cpu_count: usize,
    /// CPU model name, from /proc/cpuinfo.
    pub cpu_model: String,
    /// "release" or "debug": debug builds encode and decode several times slower.
    pub build: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SelfCost {
    /// Of the frames sidecar clients decoded, the share they dropped instead of showing (the
    /// client falling behind its frame rate); `None` without sidecar clients that report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_dropped_pct: Option<f64>,
    /// CPU seconds (user + system) rtcbench spent while the sessions ran: the process and every
    /// process it started (sidecars, their browsers and those browsers' children).
    pub cpu_s: f64,
    /// Wall-clock seconds the sessions ran.
    pub wall_s: f64,
    /// Seconds of media received, summed over subscribers and their tracks (video, and audio
    /// when the scenario sends it).
    pub subscriber_track_s: f64,
    /// Publishers the process ran: each encodes its own video, the dearest part of a session.
    pub publishers: u64,
    /// The provider's SFU ran in this process (the embedded provider): its CPU is included.
    pub sfu_in_process: bool,
    /// How late the runtime woke a 20 ms timer (p99 and worst).
    #[serde(default)]
    pub runtime_lag_p99_ms: f64,
    /// The worst such lateness.
    #[serde(default)]
    pub runtime_lag_max_ms: f64,
    /// How late planned joins started (p95 and worst over groups), when there were joins.
    #[serde(default)]
    pub schedule_slip_p95_ms: Option<f64>,
    /// The worst join slip.
    #[serde(default)]
    pub schedule_slip_max_ms: Option<f64>,
    /// Logical CPUs, to read `cpu_s / wall_s` against.
    #[serde(default)]
    pub cpu_count: usize,
    /// Why rtcbench itself was the limit, if it was; empty when it kept up.
    #[serde(default)]
    pub saturation: Vec<String>,
    /// The same, interval by interval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<GeneratorInterval>,
}

/// rtcbench's own load in one interval of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeneratorInterval {
    /// The interval's start, seconds into the run.
    pub start_s: f64,
    /// Cores kept busy.
    pub cores: f64,
    /// How late the runtime woke a 20 ms timer in the interval, p99.
    pub timer_lag_p99_ms: f64,
    /// The worst lateness in the interval.
    pub timer_lag_max_ms: f64,
    /// rtcbench's resident memory as the interval closed, in MB (10^6 bytes); a long run's
    /// should stay flat once its sessions are up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_mb: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateResult {
    /// As written: "e2e_latency_ms p95 < 50".
    pub gate: String,
    /// The group the gate was judged on.
    pub group: String,
    /// `None`: nothing was measured, which fails the gate.
    pub observed: Option<f64>,
    /// Whether the observed figure met the gate.
    pub passed: bool,
    /// False when rtcbench itself was saturated: the verdict may reflect the generator.
    #[serde(default = "yes")]
    pub reliable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityResult {
    /// The group whose audience the search raised.
    pub group: String,
    /// Every step, in order.
    pub steps: Vec<StepResult>,
    /// The highest level at which every gate held (before the first that broke).
    pub last_held: Option<u32>,
    /// The first level at which a gate broke: the knee; `null` when none broke.
    pub first_broken: Option<u32>,
    /// The gates that broke at `first_broken`, with what was observed.
    pub broken_by: Vec<String>,
    /// "provider", "generator" (rtcbench was saturated at the knee), "shared" (the embedded SFU
    /// ran in rtcbench's process, so the two cannot be told apart), or "none" (no step broke).
    pub limit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepResult {
    /// Concurrent viewers the step held.
    pub level: u32,
    /// Start of the judged window (the step's hold), seconds into the run.
    pub from_s: f64,
    /// End of the judged window.
    pub to_s: f64,
    /// Each gate's verdict on the window.
    pub gates: Vec<StepGate>,
    /// Whether every gate held at this step.
    pub held: bool,
    /// rtcbench's own load in the window: busiest interval's cores, timer lag p99, join slip p95.
    pub generator_cores: f64,
    /// How late the runtime woke a 20 ms timer in the window, p99.
    pub timer_lag_p99_ms: f64,
    /// How late the step's planned joins started, p95.
    pub schedule_slip_p95_ms: Option<f64>,
    /// rtcbench itself was the limit at this step (its verdict is about the generator, not the
    /// provider).
    pub generator_saturated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepGate {
    /// The gate as written.
    pub gate: String,
    /// The figure on the step's window; `null` when nothing was measured.
    pub observed: Option<f64>,
    /// Whether it met the gate.
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpLoadResult {
    /// The load's `name` in the scenario.
    pub name: String,
    /// The base URL the requests went to.
    pub target: String,
    /// Simulated users (goose users).
    pub users: usize,
    /// goose's coordinated-omission mitigation in force ("average", "minimum", "maximum" or
    /// "disabled").
    pub co_mitigation: String,
    /// Per request name: counts, statuses and latency.
    pub requests: Vec<HttpRequestResult>,
    /// Latency of every response, by interval (as measured).
    pub latency: MetricResult,
    /// Error messages with how often each occurred.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Responses goose filled in for the gaps a stalled server left.
    pub synthetic_requests: u64,
    /// Why the load could not run, if it could not (unset variable, no live-room API, failed
    /// setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpRequestResult {
    /// The request's `name`.
    pub name: String,
    /// Its HTTP method.
    pub method: String,
    /// Requests made.
    pub count: u64,
    /// Answers that were 2xx or listed in `expect`.
    pub success: u64,
    /// The other answers, and requests with no answer.
    pub fail: u64,
    /// Count per HTTP status (0: no answer).
    pub statuses: BTreeMap<u16, u64>,
    /// Latency as measured.
    pub latency_ms: Summary,
    /// With coordinated omission mitigated (what a user would have waited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_co_ms: Option<Summary>,
    /// Latency as measured, µs.
    pub histogram: SerHistogram,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Timeline {
    /// Where the load changed shape: stage boundaries, PK rounds, switches, side-loads and faults.
    pub marks: Vec<TimelineMark>,
    /// One point per interval.
    pub points: Vec<TimelinePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineMark {
    /// Seconds into the run.
    pub at_s: f64,
    /// What happened, in words.
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelinePoint {
    /// The interval's start, seconds into the run.
    pub start_s: f64,
    /// Viewer sessions receiving video at the interval's midpoint.
    pub sessions_up: u64,
    /// Sessions whose first frame came in this interval.
    pub joins: u64,
    /// Sessions planned to join in this interval that never did.
    pub join_failures: u64,
    /// Freeze time ended in this interval over watching time in it (W3C rule).
    pub freeze_time_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultPlan {
    /// What the fault does.
    pub kind: FaultKind,
    /// Start, µs from the run's start.
    pub start_us: u64,
    /// End, µs from the run's start.
    pub end_us: u64,
    /// The groups it hits; empty: all.
    pub groups: Vec<String>,
    /// The HTTP status a `signalling-error` answers with.
    pub status: Option<u16>,
    /// In words, for reports and marks.
    pub label: String,
}

/// The gate that broke during the run and stopped it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Abort {
    /// As written: "e2e_latency_ms p95 < 50".
    pub gate: String,
    /// The group it broke in.
    pub group: String,
    /// The figure that broke it.
    pub observed: f64,
    /// Seconds into the run.
    pub at_s: f64,
}
