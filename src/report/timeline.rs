//! Time-series charts over the whole run, with the plan's stage boundaries marked: load
//! (sessions up, joins and join failures per second), freeze time, HTTP latency, and for a
//! capacity search the curve of each gated metric against the load.

use super::charts::{render, Chart, ChartError, Kind, Series};
use crate::results::RunResults;

fn marks(r: &RunResults) -> Vec<(f64, String)> {
    r.timeline
        .as_ref()
        .map(|t| t.marks.iter().map(|m| (m.at_s, m.label.clone())).collect())
        .unwrap_or_default()
}

/// A chart over the run's time, with its marks.
pub(super) fn lines(
    name: &'static str,
    title: &str,
    y_label: &str,
    series: Vec<Series>,
    r: &RunResults,
) -> Result<Chart, ChartError> {
    render(
        name,
        title.to_string(),
        Kind::Lines {
            x_label: "time into run (s)",
            y_label: y_label.to_string(),
            series,
            marks: marks(r),
        },
    )
}

pub fn charts(r: &RunResults) -> Result<Vec<Chart>, ChartError> {
    let mut out = load_and_outcome(r)?;
    out.extend(http_latency(r)?);
    let heights = super::layers::height_series(r);
    if !heights.is_empty() {
        out.push(lines(
            "layers_over_time",
            "Simulcast layers: picture height shown, mean over each group's viewers",
            "height (pixels)",
            heights,
            r,
        )?);
    }
    out.extend(capacity_curve(r)?);
    Ok(out)
}

/// Sessions up, joins and failures per second, and freeze time, through the run.
fn load_and_outcome(r: &RunResults) -> Result<Vec<Chart>, ChartError> {
    let mut out = Vec::new();
    if let Some(t) = r.timeline.as_ref().filter(|t| !t.points.is_empty()) {
        let per_s = 1000.0 / r.interval_ms as f64;
        let pick =
            |f: &dyn Fn(&crate::results::timeline::TimelinePoint) -> f64| -> Vec<(f64, f64)> {
                t.points.iter().map(|p| (p.start_s, f(p))).collect()
            };
        out.push(lines(
            "sessions_over_time",
            "Viewer sessions receiving video",
            "sessions",
            vec![("sessions up".into(), pick(&|p| p.sessions_up as f64))],
            r,
        )?);
        out.push(lines(
            "joins_over_time",
            "Joins and join failures per second",
            "per second",
            vec![
                ("joins/s".into(), pick(&|p| p.joins as f64 * per_s)),
                (
                    "join failures/s".into(),
                    pick(&|p| p.join_failures as f64 * per_s),
                ),
            ],
            r,
        )?);
        let freeze: Vec<(f64, f64)> = t
            .points
            .iter()
            .filter_map(|p| Some((p.start_s, p.freeze_time_pct?)))
            .collect();
        if !freeze.is_empty() {
            out.push(lines(
                "freeze_time_over_time",
                "Freeze time, % of watching time (W3C rule)",
                "freeze time (%)",
                vec![("all groups".into(), freeze)],
                r,
            )?);
        }
    }
    Ok(out)
}

fn http_latency(r: &RunResults) -> Result<Option<Chart>, ChartError> {
    let mut http: Vec<Series> = Vec::new();
    for load in &r.http {
        for (suffix, pick) in [(" p50", 0usize), (" p95", 1)] {
            let pts: Vec<(f64, f64)> = load
                .latency
                .intervals
                .iter()
                .filter(|i| i.summary.count > 0)
                .map(|i| {
                    (
                        i.start_s,
                        if pick == 0 {
                            i.summary.p50
                        } else {
                            i.summary.p95
                        },
                    )
                })
                .collect();
            if !pts.is_empty() {
                http.push((format!("{}{suffix}", load.name), pts));
            }
        }
    }
    if http.is_empty() {
        return Ok(None);
    }
    lines(
        "http_latency_over_time",
        "HTTP side-load latency per second (as measured)",
        "latency (ms)",
        http,
        r,
    )
    .map(Some)
}

/// Each gated metric against the audience, step by step.
fn capacity_curve(r: &RunResults) -> Result<Option<Chart>, ChartError> {
    let Some(c) = r.capacity.as_ref().filter(|c| !c.steps.is_empty()) else {
        return Ok(None);
    };
    let names: Vec<String> = c.steps[0].gates.iter().map(|g| g.gate.clone()).collect();
    let series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let pts = c
                .steps
                .iter()
                .filter_map(|s| Some((s.level as f64, s.gates.get(k)?.observed?)))
                .collect();
            (name.clone(), pts)
        })
        .collect();
    render(
        "capacity_curve",
        format!(
            "Capacity search: each gated metric against the audience of {}",
            c.group
        ),
        Kind::Lines {
            x_label: "concurrent viewers",
            y_label: "observed (gate's unit)".into(),
            series,
            marks: c
                .first_broken
                .map(|l| vec![(l as f64, format!("first broken: {l}"))])
                .unwrap_or_default(),
        },
    )
    .map(Some)
}
