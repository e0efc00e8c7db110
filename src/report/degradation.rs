//! Degradation curves for weak-network ladders: each metric against the loss the impairment
//! layer realised, and against the configured jitter, one point per group. A group joins the
//! loss curve when its profile adds loss and nothing else, the jitter curve when it adds jitter
//! (with its delay) and no loss; an unimpaired group is the first point of both.

use super::charts::{render, Chart, ChartError, Kind, Series};
use crate::metrics::Metric;
use crate::results::{GroupResult, RunResults};
use crate::scenario::NetworkProfile;

/// Whether the group's profile is unimpaired but for delay, jitter, random loss and order.
fn plain(n: &NetworkProfile) -> bool {
    *n == NetworkProfile {
        delay: n.delay,
        jitter: n.jitter,
        loss: n.loss,
        reorder: n.reorder,
        ..NetworkProfile::default()
    }
}

/// Random loss and nothing else (or nothing at all).
fn only_loss(g: &GroupResult) -> bool {
    let n = &g.network;
    plain(n) && n.jitter.0.is_zero() && n.delay.0.is_zero()
}

/// Jitter with its delay and no loss (or nothing at all).
fn only_jitter(g: &GroupResult) -> bool {
    let n = &g.network;
    plain(n) && n.loss.0 == 0.0 && (!n.jitter.0.is_zero() || n.delay.0.is_zero())
}

fn points(
    groups: &[&GroupResult],
    x: &dyn Fn(&GroupResult) -> f64,
    y: &dyn Fn(&GroupResult) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = groups.iter().filter_map(|g| Some((x(g), y(g)?))).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

fn mean(g: &GroupResult, m: Metric) -> Option<f64> {
    g.metric(m)
        .filter(|r| r.summary.count > 0)
        .map(|r| r.summary.mean)
}

fn p95(g: &GroupResult, m: Metric) -> Option<f64> {
    g.metric(m)
        .filter(|r| r.summary.count > 0)
        .map(|r| r.summary.p95)
}

fn pair(
    groups: Vec<&GroupResult>,
    names: (&'static str, &'static str),
    what: &str,
    x_label: &'static str,
    x: &dyn Fn(&GroupResult) -> f64,
) -> Result<Vec<Chart>, ChartError> {
    if groups.len() < 3 {
        return Ok(Vec::new());
    }
    // A rung where nobody joined has no picture to judge: it shows in join success only.
    let joined = |g: &GroupResult| g.totals.join_success_pct > 0.0;
    let shares: Vec<Series> = vec![
        (
            "join success %".into(),
            points(&groups, x, &|g| Some(g.totals.join_success_pct)),
        ),
        (
            "freeze time %".into(),
            points(&groups, x, &|g| {
                joined(g).then_some(g.totals.freeze_time_pct)
            }),
        ),
        (
            "loss after repair %".into(),
            points(&groups, x, &|g| {
                joined(g).then_some(g.totals.packet_loss_pct)
            }),
        ),
        (
            "frame rate (fps)".into(),
            points(&groups, x, &|g| mean(g, Metric::Fps)),
        ),
        (
            "PSNR (dB)".into(),
            points(&groups, x, &|g| mean(g, Metric::PsnrDb)),
        ),
    ];
    let latency: Vec<Series> = vec![
        (
            "e2e p95".into(),
            points(&groups, x, &|g| p95(g, Metric::E2eLatencyMs)),
        ),
        (
            "first frame p95".into(),
            points(&groups, x, &|g| p95(g, Metric::FirstFrameMs)),
        ),
    ];
    Ok(vec![
        render(
            names.0,
            format!("Picture and smoothness against {what}"),
            Kind::Lines {
                x_label,
                y_label: "%, fps or dB".into(),
                series: shares,
                marks: Vec::new(),
            },
        )?,
        render(
            names.1,
            format!("Latency against {what}"),
            Kind::Lines {
                x_label,
                y_label: "ms".into(),
                series: latency,
                marks: Vec::new(),
            },
        )?,
    ])
}

pub fn charts(r: &RunResults) -> Result<Vec<Chart>, ChartError> {
    if r.provider.is_none() {
        return Ok(Vec::new());
    }
    let mut out = pair(
        r.groups.iter().filter(|g| only_loss(g)).collect(),
        ("quality_vs_loss", "latency_vs_loss"),
        "realised loss",
        "loss realised at the impairment layer (%)",
        &|g| g.link.loss_pct(),
    )?;
    out.extend(pair(
        r.groups.iter().filter(|g| only_jitter(g)).collect(),
        ("quality_vs_jitter", "latency_vs_jitter"),
        "jitter",
        "configured jitter (± ms)",
        &|g| g.network.jitter.0.as_secs_f64() * 1000.0,
    )?);
    Ok(out)
}

/// The weak-network curves of several providers on one chart each: freeze time and e2e p95
/// against realised loss, for runs with a loss ladder (three rungs or more).
pub fn by_provider(runs: &[(&str, &RunResults)]) -> Result<Vec<Chart>, ChartError> {
    let ladders: Vec<(&str, Vec<&GroupResult>)> = runs
        .iter()
        .filter(|(_, r)| r.provider.is_some())
        .map(|(label, r)| (*label, r.groups.iter().filter(|g| only_loss(g)).collect()))
        .filter(|(_, groups): &(&str, Vec<&GroupResult>)| groups.len() >= 3)
        .collect();
    if ladders.is_empty() {
        return Ok(Vec::new());
    }
    let loss = |g: &GroupResult| g.link.loss_pct();
    let series = |y: &dyn Fn(&GroupResult) -> Option<f64>| -> Vec<Series> {
        ladders
            .iter()
            .map(|(label, groups)| (label.to_string(), points(groups, &loss, y)))
            .collect()
    };
    let x_label = "loss realised at the impairment layer (%)";
    Ok(vec![
        render(
            "compare_freeze_vs_loss",
            "Freeze time against realised loss, by provider".into(),
            Kind::Lines {
                x_label,
                y_label: "freeze time (%)".into(),
                series: series(&|g| {
                    (g.totals.join_success_pct > 0.0).then_some(g.totals.freeze_time_pct)
                }),
                marks: Vec::new(),
            },
        )?,
        render(
            "compare_e2e_vs_loss",
            "End-to-end latency p95 against realised loss, by provider".into(),
            Kind::Lines {
                x_label,
                y_label: "e2e p95 (ms)".into(),
                series: series(&|g| p95(g, Metric::E2eLatencyMs)),
                marks: Vec::new(),
            },
        )?,
    ])
}
