//! The report's network-schedule table: each phase of a scheduled profile, what the layer
//! realised in it, and what viewers saw in the same seconds, so a buyer can read "at 31 %
//! realised loss, the frame rate was ...".

use super::{fmt, Table};
use crate::metrics::Metric;
use crate::net::NetworkPhase;
use crate::results::{GroupResult, RunResults};

fn window(
    g: &GroupResult,
    m: Metric,
    p: &NetworkPhase,
    pick: fn(&crate::results::Summary) -> f64,
) -> String {
    g.metric(m)
        .map(|r| r.window_summary(p.from_s, p.to_s))
        .filter(|s| s.count > 0)
        .map_or("–".into(), |s| fmt(pick(&s), 1))
}

pub fn table(r: &RunResults) -> Option<Table> {
    let rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .flat_map(|g| {
            let viewers = g.network_phases.iter().map(move |p| (g, "viewers", p));
            let publishers = g
                .publisher_network_phases
                .iter()
                .map(move |p| (g, "publishers", p));
            viewers.chain(publishers)
        })
        .map(|(g, who, p)| {
            vec![
                g.name.clone(),
                who.to_string(),
                format!("{:.0}–{:.0}", p.from_s, p.to_s),
                p.profile.clone(),
                p.link.sent.to_string(),
                fmt(p.link.mean_delay_ms(), 1),
                fmt(p.link.loss_pct(), 2),
                window(g, Metric::PacketLossPct, p, |s| s.mean),
                window(g, Metric::Fps, p, |s| s.mean),
                window(g, Metric::E2eLatencyMs, p, |s| s.p95),
                g.metric(Metric::FreezeDurationMs)
                    .map_or(0, |m| m.window_summary(p.from_s, p.to_s).count)
                    .to_string(),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        title: "Network schedule: phase by phase".into(),
        note: Some("Each phase of a scheduled profile (run seconds), what the impairment layer realised in it (datagrams entering in the phase), and what viewers measured in the same seconds: packet loss after repair (mean of per-second values), frame rate, e2e latency and freezes that ended in the phase.".into()),
        headers: [
            "group",
            "impaired",
            "seconds",
            "profile",
            "datagrams",
            "realised delay ms",
            "realised loss %",
            "viewers' loss %",
            "fps",
            "e2e p95 ms",
            "freezes",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
}
