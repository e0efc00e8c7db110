//! The live page of `--dashboard`: one self-contained HTML file (no CDN, no fonts fetched)
//! that polls `/live.json` every second and draws the run as it goes, as k6's web dashboard
//! does. The JSON carries the same figures as `/metrics`, summed over groups.

use super::model::{Family, Value};
use super::Telemetry;
use serde_json::{json, Map};

pub const HTML: &str = include_str!("page.html");

fn total(families: &[Family], base: &str) -> f64 {
    families
        .iter()
        .filter(|f| f.base == base)
        .flat_map(|f| &f.series)
        .map(|s| match s.value {
            Value::Number(v) => v,
            Value::Histogram { count, .. } => count as f64,
        })
        // Not `sum()`: an empty f64 sum is -0.0, which the page would print.
        .fold(0.0, |a, b| a + b)
}

fn first(families: &[Family], base: &str) -> Option<f64> {
    families
        .iter()
        .find(|f| f.base == base)
        .and_then(|f| f.series.first())
        .and_then(|s| match s.value {
            Value::Number(v) => Some(v),
            Value::Histogram { .. } => None,
        })
}

/// What the page draws, read now.
pub fn live_json(t: &Telemetry) -> String {
    let families = t.families();
    let elapsed_us = t.live.elapsed().map_or(0, |d| d.as_micros() as u64);
    let last_complete = (elapsed_us / t.plan.interval_us).checked_sub(1);
    let snapshot = t.live.snapshot(last_complete.map(|i| i as usize));
    let mut failures = Map::new();
    for f in families.iter().filter(|f| f.base == "join_failures") {
        for s in &f.series {
            let step = s
                .labels
                .iter()
                .find(|(k, _)| k == "step")
                .map(|(_, v)| v.clone());
            if let (Some(step), Value::Number(v)) = (step, &s.value) {
                let n = failures.get(&step).and_then(|x| x.as_f64()).unwrap_or(0.0);
                failures.insert(step, json!(n + v));
            }
        }
    }
    let gates: Vec<_> = families
        .iter()
        .filter(|f| f.base == "gate_passing")
        .flat_map(|f| &f.series)
        .map(|s| {
            let label = |k: &str| {
                s.labels
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            };
            let passing = matches!(s.value, Value::Number(v) if v > 0.5);
            json!({ "gate": label("gate"), "group": label("group"), "passing": passing })
        })
        .collect();
    let l = &t.labels;
    json!({
        "run": l.run,
        "scenario": l.scenario,
        "provider": l.provider,
        "shard": l.shard,
        "elapsed_s": elapsed_us as f64 / 1e6,
        "duration_s": t.plan.duration_us as f64 / 1e6,
        "sessions_up": total(&families, "sessions_up"),
        "sessions_planned": total(&families, "sessions_planned"),
        "joins": total(&families, "joins"),
        "joins_withdrawn": total(&families, "joins_withdrawn"),
        "join_failures": total(&families, "join_failures"),
        "failures_by_step": failures,
        "drops": total(&families, "drops"),
        "rejoins": total(&families, "rejoins"),
        "freezes": total(&families, "freeze_duration"),
        "e2e_p95_ms": snapshot.e2e_p95_ms,
        "generator_cores": first(&families, "generator_cores"),
        "generator_lag_p99_ms": first(&families, "generator_timer_lag_p99").map(|s| s * 1e3),
        "generator_saturated": first(&families, "generator_saturated").map(|v| v > 0.5),
        "gates": gates,
    })
    .to_string()
}
