//! A capacity search's verdict: each step's gates judged on its hold window, the knee (last
//! level that held, first that broke, and what broke it), and whether the limit was the
//! provider or rtcbench itself, from the generator's own load in the same window.

use super::gates::{describe, holds, observe_window};
use super::self_cost::saturation_reasons;
use super::RunResults;
use crate::metrics::Metric;
use crate::plan::CapacityPlan;
pub use crate::record::{CapacityResult, StepGate, StepResult};
use crate::scenario::GateSpec;

pub fn evaluate(plan: &CapacityPlan, gates: &[GateSpec], results: &RunResults) -> CapacityResult {
    let judged: Vec<&GateSpec> = gates
        .iter()
        .filter(|g| g.group.as_ref().is_none_or(|n| *n == plan.group))
        .collect();
    let steps: Vec<StepResult> = plan
        .steps
        .iter()
        .map(|step| judge_step(step, &plan.group, &judged, results))
        .collect();
    let (last_held, first_broken, broken_by, limit) = knee(&steps, results);
    CapacityResult {
        group: plan.group.clone(),
        steps,
        last_held,
        first_broken,
        broken_by,
        limit: limit.into(),
    }
}

/// One step: its gates on its hold window (joins on its rise), and the generator's own load
/// in the window.
fn judge_step(
    step: &crate::plan::CapacityStep,
    group_name: &str,
    judged: &[&GateSpec],
    results: &RunResults,
) -> StepResult {
    let group = results.group(group_name);
    let (from_s, to_s) = (step.hold_from_us as f64 / 1e6, step.end_us as f64 / 1e6);
    // Joins of this step happen during its rise, before the hold window.
    let rise_from = step.start_us as f64 / 1e6;
    let gates: Vec<StepGate> = judged
        .iter()
        .map(|g| {
            let observed = group.and_then(|r| observe_window(g, r, rise_from, from_s, to_s));
            StepGate {
                gate: describe(g),
                observed,
                passed: holds(g, observed),
            }
        })
        .collect();
    let window: Vec<_> = results
        .self_cost
        .iter()
        .flat_map(|c| &c.intervals)
        .filter(|i| i.start_s >= from_s - 1e-9 && i.start_s < to_s - 1e-9)
        .collect();
    let cores = window.iter().map(|i| i.cores).fold(0.0, f64::max);
    let lag = window
        .iter()
        .map(|i| i.timer_lag_p99_ms)
        .fold(0.0, f64::max);
    let slip = group
        .and_then(|r| r.metric(Metric::ScheduleSlipMs))
        .map(|m| m.window_summary(rise_from, to_s))
        .filter(|s| s.count > 0)
        .map(|s| s.p95);
    let cpus = results.environment.cpu_count;
    StepResult {
        level: step.level,
        from_s,
        to_s,
        held: gates.iter().all(|g| g.passed),
        gates,
        generator_cores: cores,
        timer_lag_p99_ms: lag,
        schedule_slip_p95_ms: slip,
        generator_saturated: !saturation_reasons(cores, cpus, lag, lag, slip, None).is_empty(),
    }
}

/// The knee: the last level that held, the first that broke, what broke it, and whose limit
/// it was.
fn knee(
    steps: &[StepResult],
    results: &RunResults,
) -> (Option<u32>, Option<u32>, Vec<String>, &'static str) {
    let Some(k) = steps.iter().position(|s| !s.held) else {
        return (steps.last().map(|s| s.level), None, Vec::new(), "none");
    };
    let broke = &steps[k];
    let by = broke
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| match g.observed {
            Some(v) => format!("{} (observed {v:.2})", g.gate),
            None => format!("{} (no data)", g.gate),
        })
        .collect();
    let shared = results.self_cost.as_ref().is_some_and(|c| c.sfu_in_process);
    let limit = if broke.generator_saturated {
        "generator"
    } else if shared {
        "shared"
    } else {
        "provider"
    };
    (
        k.checked_sub(1).map(|p| steps[p].level),
        Some(broke.level),
        by,
        limit,
    )
}

impl CapacityResult {
    /// One line for people: the knee and what limited it.
    pub fn describe(&self) -> String {
        let held = self
            .last_held
            .map_or("no level held".to_string(), |l| format!("held {l} viewers"));
        match self.first_broken {
            None => format!(
                "capacity search on {}: {held}; no step broke (raise max to find the knee)",
                self.group
            ),
            Some(level) => {
                let who = match self.limit.as_str() {
                    "generator" => "rtcbench itself was saturated at that step, so the knee is the generator's, not the provider's",
                    "shared" => "the embedded SFU shared rtcbench's process and runtime, so provider and generator cannot be told apart; run the SFU apart (rtcbench serve-reference) to know",
                    _ => "rtcbench kept up at that step, so the limit is the provider's",
                };
                format!(
                    "capacity search on {}: {held}; broke at {level}: {}; {who}",
                    self.group,
                    self.broken_by.join(", ")
                )
            }
        }
    }
}
