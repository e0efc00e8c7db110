//! Gates with `abort_on_fail`: judged every interval on what was measured so far, and the first
//! to break stops the run (k6's abortOnFail), so a capacity test does not go on hammering a
//! provider that has already failed its objective.

use super::live::Live;
use crate::base::Micros;
use crate::base::WallClock;
use crate::metrics::Metric;
use crate::metrics::Summary;
pub use crate::record::Abort;
use crate::scenario::gates::holds;
use crate::scenario::GateSpec;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Not judged before this far into the run unless the gate says otherwise: the first seconds
/// hold too few samples to mean anything.
pub const DEFAULT_ABORT_AFTER_US: u64 = 10_000_000;

impl Abort {
    pub fn describe(&self) -> String {
        format!(
            "stopped at {:.0} s: gate {} broke in {} (observed {:.2} so far)",
            self.at_s, self.gate, self.group, self.observed
        )
    }
}

/// The gate's statistic over `metric` in `group` so far, or the group's failed sessions.
pub fn observe(g: &GateSpec, live: &Live, group: &str) -> Option<f64> {
    if g.metric == "failed_sessions" {
        return Some(live.failures_in(group) as f64);
    }
    let metric = Metric::ALL.into_iter().find(|m| m.name() == g.metric)?;
    let so_far = live.group_total(group, metric)?;
    Summary::of(&so_far, metric.scale()).stat(g.stat.as_deref()?)
}

/// Judges the aborting gates each `every` until `end_at` or `stop`; on the first that breaks,
/// raises `abort` and says which.
#[allow(clippy::too_many_arguments)]
pub async fn watch_gates(
    gates: Vec<GateSpec>,
    live: Arc<Live>,
    clock: WallClock,
    run_start: Micros,
    end_at: Micros,
    every: Duration,
    abort: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> Option<Abort> {
    let gates: Vec<GateSpec> = gates.into_iter().filter(|g| g.abort_on_fail).collect();
    if gates.is_empty() {
        return None;
    }
    let mut tick = tokio::time::interval_at(clock.instant_of(run_start).into(), every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return None,
        }
        let now = clock.now();
        if now >= end_at {
            return None;
        }
        let into_run = now.saturating_sub(run_start);
        for g in &gates {
            let after = g
                .abort_after
                .map_or(DEFAULT_ABORT_AFTER_US, |d| d.as_micros());
            if into_run < after {
                continue;
            }
            for group in live.groups() {
                if g.group.as_ref().is_some_and(|n| *n != group) {
                    continue;
                }
                let Some(observed) = observe(g, &live, &group) else {
                    continue;
                };
                if !holds(g, Some(observed)) {
                    let _ = abort.send(true);
                    return Some(Abort {
                        gate: crate::scenario::gates::describe(g),
                        group,
                        observed,
                        at_s: into_run as f64 / 1e6,
                    });
                }
            }
        }
    }
}
