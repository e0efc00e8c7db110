//! The report's table of HTTP side-load: one row per request name.

use super::{fmt, Table};
use crate::results::RunResults;

pub fn table(r: &RunResults) -> Option<Table> {
    if r.http.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    for load in &r.http {
        if let Some(why) = &load.failure {
            rows.push(vec![
                load.name.clone(),
                "(load)".into(),
                String::new(),
                "0".into(),
                "–".into(),
                format!("failed: {why}"),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
            ]);
        }
        for q in &load.requests {
            let statuses: Vec<String> = q
                .statuses
                .iter()
                .map(|(s, n)| match s {
                    0 => format!("no answer ×{n}"),
                    s => format!("{s} ×{n}"),
                })
                .collect();
            rows.push(vec![
                load.name.clone(),
                q.name.clone(),
                q.method.clone(),
                q.count.to_string(),
                fmt(q.error_pct(), 2),
                statuses.join(", "),
                fmt(q.latency_ms.p50, 1),
                fmt(q.latency_ms.p95, 1),
                fmt(q.latency_ms.p99, 1),
                q.latency_co_ms.map_or("–".into(), |s| fmt(s.p95, 1)),
            ]);
        }
    }
    let synthetic: u64 = r.http.iter().map(|l| l.synthetic_requests).sum();
    Some(Table {
        title: "HTTP side-load (goose)".into(),
        note: Some(format!(
            "Requests beside the media (comments, likes, orders), {} users in all. Errors: answers outside 2xx that the scenario did not expect, and requests with no answer. The CO-corrected p95 adds the responses a stalled server kept users from sending (coordinated-omission mitigation; {synthetic} were filled in).",
            r.http.iter().map(|l| l.users).sum::<usize>()
        )),
        headers: [
            "load", "request", "method", "requests", "errors %", "statuses", "p50 ms", "p95 ms",
            "p99 ms", "p95 ms (CO-corrected)",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows,
    })
}
