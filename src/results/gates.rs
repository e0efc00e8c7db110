//! SLO gates: after a run, each gate's metric is read from the results and compared with its
//! limit, per group. A gate that breaks makes the run exit with its own status; when rtcbench
//! itself was saturated the verdict is marked unreliable rather than blamed on the provider.

use super::{GroupResult, RunResults};
use crate::metrics::Metric;
pub use crate::record::GateResult;
pub use crate::scenario::gates::{describe, holds};
use crate::scenario::GateSpec;

impl GateResult {
    /// "pass" or "FAIL", marked when rtcbench itself was saturated.
    pub fn verdict(&self) -> &'static str {
        match (self.passed, self.reliable) {
            (true, true) => "pass",
            (false, true) => "FAIL",
            (true, false) => "pass (unreliable)",
            (false, false) => "FAIL (unreliable)",
        }
    }
}

/// A gate's value over part of the run (run seconds): metrics from the intervals in
/// [`from_s`, `to_s`), join totals from the sessions planned to join in [`joins_from_s`, `to_s`).
pub fn observe_window(
    g: &GateSpec,
    group: &GroupResult,
    joins_from_s: f64,
    from_s: f64,
    to_s: f64,
) -> Option<f64> {
    let joined_in = || {
        group.sessions.iter().filter(|s| {
            s.planned_join_s
                .is_some_and(|t| t >= joins_from_s && t < to_s)
        })
    };
    let share = |hit: &dyn Fn(&crate::media::receiver::ReceiverSummary) -> bool| {
        let (n, ok) = joined_in().fold((0u64, 0u64), |(n, ok), s| (n + 1, ok + u64::from(hit(s))));
        (n > 0).then(|| ok as f64 * 100.0 / n as f64)
    };
    match g.metric.as_str() {
        "join_success_pct" => return share(&|s| s.joined),
        "join_within_5s_pct" => return share(&|s| s.joined_within_5s),
        "failed_sessions" => {
            return Some(joined_in().filter(|s| s.failure.is_some()).count() as f64)
        }
        "silent_track_sessions" => {
            return Some(joined_in().filter(|s| !s.silent_tracks.is_empty()).count() as f64)
        }
        _ => {}
    }
    let metric = Metric::ALL.into_iter().find(|m| m.name() == g.metric)?;
    stat_of(g, &group.metric(metric)?.window_summary(from_s, to_s))
}

/// The gate's statistic of `s`; `None` when nothing was measured.
fn stat_of(g: &GateSpec, s: &super::Summary) -> Option<f64> {
    s.stat(g.stat.as_deref()?)
}

fn observe(g: &GateSpec, group: &GroupResult) -> Option<f64> {
    let t = &group.totals;
    match g.metric.as_str() {
        "join_success_pct" => return Some(t.join_success_pct),
        "join_within_5s_pct" => return Some(t.join_within_5s_pct),
        "packet_loss_pct_total" => return Some(t.packet_loss_pct),
        "freeze_time_pct" => return Some(t.freeze_time_pct),
        "failed_sessions" => {
            return Some((t.failed_sessions + group.publisher_failures.len() as u64) as f64)
        }
        "drops" => return Some((t.reconnects.drops + group.publisher_reconnects.drops) as f64),
        "unrecovered" => return Some(t.unrecovered as f64),
        "reconnect_success_pct" => return t.reconnect_success_pct,
        "silent_track_sessions" => return Some(t.silent_track_sessions as f64),
        _ => {}
    }
    let metric = Metric::ALL.into_iter().find(|m| m.name() == g.metric)?;
    stat_of(g, &group.metric(metric)?.summary)
}

/// Every gate against every group it names.
pub fn evaluate(gates: &[GateSpec], results: &RunResults) -> Vec<GateResult> {
    evaluate_except(gates, results, None)
}

/// As [`evaluate`], leaving out `skip` (a capacity search's group, judged step by step instead).
pub fn evaluate_except(
    gates: &[GateSpec],
    results: &RunResults,
    skip: Option<&str>,
) -> Vec<GateResult> {
    let reliable = results
        .self_cost
        .as_ref()
        .is_none_or(|c| c.saturation.is_empty());
    let mut out = Vec::new();
    for g in gates {
        for group in results
            .groups
            .iter()
            .filter(|r| g.group.as_ref().is_none_or(|name| *name == r.name))
            .filter(|r| skip != Some(r.name.as_str()))
        {
            let observed = observe(g, group);
            let passed = holds(g, observed);
            out.push(GateResult {
                gate: describe(g),
                group: group.name.clone(),
                observed,
                passed,
                reliable,
            });
        }
    }
    out
}
