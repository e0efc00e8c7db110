//! The report's faults-and-recovery table: what was done to the run, and how sessions came
//! back (drops, rejoins, recovery time, frames never shown).

use super::{metric_stat, opt, Table};
use crate::metrics::Metric;
use crate::results::{GroupResult, RunResults};

fn touched(g: &GroupResult) -> bool {
    let t = &g.totals;
    t.reconnects.drops + t.reconnects.rejoin_failures + t.unrecovered + g.publisher_reconnects.drops
        > 0
        || g.metric(Metric::RecoveryMs)
            .is_some_and(|m| m.summary.count > 0)
}

pub fn table(r: &RunResults) -> Option<Table> {
    if r.faults.is_empty() && !r.groups.iter().any(touched) {
        return None;
    }
    let rows = r
        .groups
        .iter()
        .map(|g| {
            let t = &g.totals;
            let p = &g.publisher_reconnects;
            vec![
                g.name.clone(),
                t.reconnects.drops.to_string(),
                t.reconnects.rejoins.to_string(),
                t.reconnects.rejoin_failures.to_string(),
                opt(t.reconnect_success_pct, 1),
                format!("{} / {}", p.drops, p.rejoins),
                g.metric(Metric::RecoveryMs)
                    .map_or(0, |m| m.summary.count)
                    .to_string(),
                metric_stat(g, Metric::RecoveryMs, |s| s.p50, 0),
                metric_stat(g, Metric::RecoveryMs, |s| s.p95, 0),
                metric_stat(g, Metric::RecoveryMs, |s| s.max, 0),
                t.unrecovered.to_string(),
                t.frames_lost.to_string(),
            ]
        })
        .collect();
    let faults = if r.faults.is_empty() {
        "No fault was scheduled; drops came from the network profiles or the provider.".to_string()
    } else {
        let listed: Vec<&str> = r.faults.iter().map(|f| f.label.as_str()).collect();
        format!("Faults: {}.", listed.join("; "))
    };
    Some(Table {
        title: "Faults and recovery".into(),
        note: Some(format!(
            "{faults} A connection is lost when nothing comes from the provider for `reconnect.after`; the client then rejoins (new socket, new WHIP/WHEP session) with backoff. Recovery: a fault's (or outage's) end to the first frame rendered after it, for viewers watching when it began. Frames lost: source frames a viewer never saw."
        )),
        headers: [
            "group",
            "viewer drops",
            "rejoined",
            "failed attempts",
            "reconnect %",
            "publisher drops / rejoins",
            "recoveries",
            "recovery p50 ms",
            "recovery p95 ms",
            "recovery max ms",
            "unrecovered",
            "frames lost",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows,
    })
}
