//! The report's co-hosting table: host↔host links apart from the audience, PK link-up and the
//! switch to a private call.

use super::{fmt, metric_stat, Table};
use crate::metrics::Metric;
use crate::results::{GroupResult, RunResults};

/// Connect time (dial → first frame) of an audience's PK sessions, p50 and p95.
fn pk_link_up(audience: &GroupResult) -> (String, String, usize) {
    let mut ms: Vec<f64> = audience
        .sessions
        .iter()
        .filter(|s| s.id.contains("/pk"))
        .filter_map(|s| s.connect_ms)
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| (!ms.is_empty()).then(|| ms[((ms.len() - 1) as f64 * q).round() as usize]);
    let show = |v: Option<f64>| v.map_or("–".into(), |v| fmt(v, 1));
    (show(at(0.5)), show(at(0.95)), ms.len())
}

pub fn table(r: &RunResults) -> Option<Table> {
    let rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .filter_map(|hosts| {
            let name = hosts.name.strip_suffix("/hosts")?;
            let audience = r.group(name)?;
            let (pk50, pk95, pk_n) = pk_link_up(audience);
            Some(vec![
                name.to_string(),
                metric_stat(hosts, Metric::E2eLatencyMs, |s| s.p50, 1),
                metric_stat(hosts, Metric::E2eLatencyMs, |s| s.p95, 1),
                metric_stat(audience, Metric::E2eLatencyMs, |s| s.p50, 1),
                metric_stat(audience, Metric::E2eLatencyMs, |s| s.p95, 1),
                format!("{pk_n}"),
                pk50,
                pk95,
                hosts
                    .metric(Metric::SwitchMs)
                    .map_or(0, |m| m.summary.count)
                    .to_string(),
                metric_stat(hosts, Metric::SwitchMs, |s| s.max, 1),
            ])
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        title: "Co-hosting (连麦), PK and switch to 1v1".into(),
        note: Some(
            "Host↔host links are measured apart from the audience (group NAME/hosts): hosts talk to each other, so their latency budget is tighter. PK link-up: a viewer's dial to the partner host's first frame when a round starts. Switch: the switch instant to the first frame of the private call.".into(),
        ),
        headers: [
            "group", "host↔host e2e p50 ms", "host↔host e2e p95 ms", "audience e2e p50 ms",
            "audience e2e p95 ms", "PK links", "PK link-up p50 ms", "PK link-up p95 ms",
            "switches", "switch max ms",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows,
    })
}
