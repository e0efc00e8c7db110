//! A shard's place in a run spread over several processes or machines, its clock against the
//! reference shard's, and, in a merged run, what each shard contributed.

use serde::{Deserialize, Serialize};

/// Which shard of which run this file is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardRecord {
    /// This shard's index, from 0.
    pub index: u32,
    /// Shards in the run.
    pub count: u32,
    /// The machine (or pod) it ran on.
    pub host: String,
    /// The vantage point it was labelled with (`--region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When the run's clock started, µs since the Unix epoch on the reference (shard 0's) clock:
    /// the instant every shard's intervals count from.
    pub start_at_us: u64,
    /// How the start was agreed: "barrier" (shard 0 announced it once the shards joined) or
    /// "start-at" (given on the command line).
    pub start_by: String,
    /// This machine's clock against the reference clock; `null` when it was not measured (a
    /// start given by `--start-at` with no coordinator).
    pub clock: Option<ClockOffset>,
    /// Shards that had joined when the start was announced.
    #[serde(default)]
    pub joined: Vec<u32>,
    /// Shards that had not joined by the barrier's deadline (the run started without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_at_start: Vec<u32>,
}

/// A clock's offset to the reference clock, from NTP-style exchanges with shard 0 repeated
/// through the run (the least-delay exchange of the recent ones kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClockOffset {
    /// How far this machine's clock was ahead of the reference at the end of the run, ms
    /// (negative: behind). Every time on this shard was corrected by it.
    pub ahead_ms: f64,
    /// The most the true offset can differ from `ahead_ms`, ms: half the chosen exchange's
    /// delay, plus 50 ppm of drift since it was taken.
    pub bound_ms: f64,
    /// The chosen exchange's round-trip delay, ms.
    pub delay_ms: f64,
    /// Exchanges taken over the run.
    pub exchanges: u64,
    /// How far the estimate moved over the run (highest less lowest), ms: drift between the
    /// clocks, and the noise of the exchanges.
    pub wander_ms: f64,
}

/// One shard of a merged run, as its own run.json told it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergedShard {
    /// The shard's own record (index, host, region, clock).
    pub shard: ShardRecord,
    /// The folder its run.json was read from.
    pub source: String,
    /// Whether it ran to the end.
    pub completed: bool,
    /// Viewer sessions it ran.
    pub sessions: u64,
    /// Of them, those that failed to join.
    pub failed_sessions: u64,
    /// Why rtcbench itself was the limit on that shard; empty when it kept up. A saturated
    /// shard makes the merged result unreliable.
    #[serde(default)]
    pub saturation: Vec<String>,
    /// CPU seconds it spent.
    pub cpu_s: Option<f64>,
    /// The cores it had.
    pub cpu_count: usize,
}
