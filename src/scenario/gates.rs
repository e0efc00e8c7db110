//! Checking a scenario's SLO gates before the run, so a typo stops it at once.

use super::GateSpec;
use crate::metrics::Metric;

/// Group totals a gate can name, besides the measured metrics.
pub const TOTALS: [&str; 9] = [
    "join_success_pct",
    "join_within_5s_pct",
    "packet_loss_pct_total",
    "freeze_time_pct",
    "failed_sessions",
    "drops",
    "unrecovered",
    "reconnect_success_pct",
    "silent_track_sessions",
];
/// Statistics of a measured metric.
pub const STATS: [&str; 7] = ["p50", "p90", "p95", "p99", "mean", "min", "max"];

/// The field at fault and why, if the gate cannot be judged.
pub fn check(g: &GateSpec) -> Result<(), (&'static str, String)> {
    let metric = Metric::ALL.iter().find(|m| m.name() == g.metric);
    match (metric, &g.stat) {
        (Some(_), Some(stat)) if STATS.contains(&stat.as_str()) => {}
        (Some(_), Some(stat)) => {
            return Err((
                "stat",
                format!("\"{stat}\" is not one of {}", STATS.join(", ")),
            ))
        }
        (Some(_), None) => {
            return Err((
                "stat",
                format!("{} needs a stat: {}", g.metric, STATS.join(", ")),
            ))
        }
        (None, None) if TOTALS.contains(&g.metric.as_str()) => {}
        (None, Some(_)) if TOTALS.contains(&g.metric.as_str()) => {
            return Err(("stat", format!("{} is a total; it takes no stat", g.metric)))
        }
        (None, _) => {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).chain(TOTALS).collect();
            return Err((
                "metric",
                format!("no metric \"{}\"; known: {}", g.metric, names.join(", ")),
            ));
        }
    }
    if g.abort_after.is_some() && !g.abort_on_fail {
        return Err((
            "abort_after",
            "abort_after is for gates with abort_on_fail = true".into(),
        ));
    }
    if g.abort_on_fail && metric.is_none() && g.metric != "failed_sessions" {
        return Err((
            "abort_on_fail",
            format!(
                "{} is judged when the run ends; a gate that aborts needs a metric with a stat, or failed_sessions",
                g.metric
            ),
        ));
    }
    match (g.below, g.above) {
        (Some(v), None) | (None, Some(v)) if v.is_finite() => Ok(()),
        _ => Err(("below", "give one limit: below = N or above = N".into())),
    }
}

/// As written: "e2e_latency_ms p95 < 50".
pub fn describe(g: &GateSpec) -> String {
    let stat = g
        .stat
        .as_deref()
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    match (g.below, g.above) {
        (Some(v), _) => format!("{}{stat} < {v}", g.metric),
        (_, Some(v)) => format!("{}{stat} > {v}", g.metric),
        _ => g.metric.clone(),
    }
}

/// Whether `observed` meets the gate.
pub fn holds(g: &GateSpec, observed: Option<f64>) -> bool {
    observed.is_some_and(|v| match (g.below, g.above) {
        (Some(limit), _) => v < limit,
        (_, Some(limit)) => v > limit,
        _ => false,
    })
}
