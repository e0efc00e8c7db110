//! The comparison's scored charts: the radar of dimension scores, bars with interval
//! whiskers, the time-to-first-frame histogram with its 600 ms line, e2e p95 through the run,
//! and the weak-network curves by provider.

use super::charts::{render, Chart, ChartError, Kind};
use super::compare::ComparedRun;
use super::scorecard::shown_dimensions;
use crate::metrics::Metric;
use crate::score::Assessment;

fn metric_rows(a: &Assessment, ids: &[&str]) -> Vec<(String, f64, f64, f64)> {
    let several = ids.len() > 1;
    a.card
        .providers
        .iter()
        .flat_map(|c| {
            c.metrics
                .iter()
                .filter(|m| ids.contains(&m.id))
                .filter_map(move |m| {
                    let v = m.value?;
                    let name = if several {
                        format!("{} · {}", c.label, m.id.split('_').next().unwrap_or(m.id))
                    } else {
                        c.label.clone()
                    };
                    Some((name, v.estimate, v.low, v.high))
                })
        })
        .collect()
}

/// The scored charts: radar, whiskers, the connect-time histogram, latency over the run and
/// the weak-network curves when the runs have a loss ladder.
pub fn charts(a: &Assessment, runs: &[ComparedRun]) -> Result<Vec<Chart>, ChartError> {
    let mut out: Vec<Chart> = radar(a)?.into_iter().collect();
    out.extend(whiskers(a)?);
    out.extend(connect_histogram(runs)?);
    out.extend(latency_over_time(runs)?);
    let labelled: Vec<(&str, &crate::results::RunResults)> = runs
        .iter()
        .map(|r| (r.label.as_str(), &r.results))
        .collect();
    out.extend(super::degradation::by_provider(&labelled)?);
    Ok(out)
}

fn radar(a: &Assessment) -> Result<Option<Chart>, ChartError> {
    let dims = shown_dimensions(a);
    if dims.is_empty() {
        return Ok(None);
    }
    render(
        "compare_dimension_radar",
        "Dimension scores (0–100)".into(),
        Kind::Radar {
            axes: dims.iter().map(|d| d.name().to_string()).collect(),
            series: a
                .card
                .providers
                .iter()
                .map(|c| {
                    let scores = dims
                        .iter()
                        .map(|d| {
                            c.dimensions
                                .iter()
                                .find(|x| x.dimension == *d)
                                .and_then(|x| x.score.map(|i| i.estimate))
                        })
                        .collect();
                    (c.label.clone(), scores)
                })
                .collect(),
        },
    )
    .map(Some)
}

/// The overall score, e2e p95 and time to first frame p90, each with its interval.
fn whiskers(a: &Assessment) -> Result<Vec<Chart>, ChartError> {
    let mut out = Vec::new();
    let overall: Vec<(String, f64, f64, f64)> = a
        .card
        .providers
        .iter()
        .filter_map(|c| {
            c.overall
                .map(|i| (c.label.clone(), i.estimate, i.low, i.high))
        })
        .collect();
    let level = a.card.level * 100.0;
    for (name, title, x_label, rows) in [
        (
            "compare_overall_score",
            format!("Overall score with its {level:.0} % interval"),
            "score (0–100)",
            overall,
        ),
        (
            "compare_latency_p95_interval",
            format!("End-to-end latency p95 with its {level:.0} % interval"),
            "e2e latency p95 (ms)",
            metric_rows(
                a,
                &["interactive_latency_p95_ms", "audience_latency_p95_ms"],
            ),
        ),
        (
            "compare_first_frame_p90_interval",
            format!("Time to first frame p90 with its {level:.0} % interval"),
            "time to first frame p90 (ms)",
            metric_rows(a, &["time_to_first_frame_p90_ms"]),
        ),
    ] {
        if !rows.is_empty() {
            out.push(render(
                name,
                title,
                Kind::Whiskers {
                    x_label: x_label.into(),
                    rows,
                },
            )?);
        }
    }
    Ok(out)
}

/// Time to first frame per session, with the 600 ms line.
fn connect_histogram(runs: &[ComparedRun]) -> Result<Option<Chart>, ChartError> {
    let connect: Vec<(String, Vec<f64>)> = runs
        .iter()
        .map(|r| {
            let values = r
                .results
                .groups
                .iter()
                .flat_map(|g| g.sessions.iter())
                .filter_map(|s| s.connect_ms.or(s.first_frame_ms))
                .collect::<Vec<f64>>();
            (r.label.clone(), values)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if connect.is_empty() {
        return Ok(None);
    }
    let max = connect
        .iter()
        .flat_map(|s| s.1.iter())
        .copied()
        .fold(600.0f64, f64::max);
    render(
        "compare_connect_histogram",
        "Time to first frame per session (dial to first remote frame)".into(),
        Kind::Histogram {
            x_label: "time to first frame (ms)".into(),
            bin: nice_bin(max / 30.0),
            series: connect,
            line: Some((600.0, "600 ms target".into())),
        },
    )
    .map(Some)
}

fn latency_over_time(runs: &[ComparedRun]) -> Result<Option<Chart>, ChartError> {
    let over_time = super::compare::by_provider(runs, |r| {
        super::charts::over_time(r, Metric::E2eLatencyMs, |s| s.p95, "")
    });
    if over_time.is_empty() {
        return Ok(None);
    }
    render(
        "compare_e2e_p95_over_time",
        "End-to-end latency p95 per second, through the run".into(),
        Kind::Lines {
            x_label: "run time (s)",
            y_label: "e2e p95 (ms)".into(),
            series: over_time,
            marks: Vec::new(),
        },
    )
    .map(Some)
}

/// A round bin width (1, 2 or 5 × 10^k ms) near `raw`.
fn nice_bin(raw: f64) -> f64 {
    let raw = raw.max(1.0);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|b| *b >= raw)
        .unwrap_or(10.0 * p)
}
