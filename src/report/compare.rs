//! One report over runs of the same scenario against several providers: their figures side by
//! side, group by group, with each provider's own report a link away. Rendered from the runs'
//! run.json alone, like the single-run report.

use super::charts::{self, Chart, ChartError, Kind, Series};
use super::document::{DataFile, Document, Link, Section};
use super::{fmt, scorecard, Format, ReportError, Table};
use crate::metrics::Metric;
use crate::results::{GroupResult, RunResults, Summary};
use crate::score::Assessment;
use std::path::{Path, PathBuf};

/// One provider's run in a comparison; `label` is its column.
pub struct ComparedRun {
    pub label: String,
    pub results: RunResults,
    /// Its run folder, relative to the comparison's folder or absolute; its report and
    /// run.json are linked from there.
    pub dir: String,
}

/// A provider that was to be compared but whose run did not take place, with why.
pub struct MissingRun {
    pub label: String,
    pub reason: String,
}

/// One row of the side-by-side table: a figure read the same way from each provider's group.
struct Figure {
    name: &'static str,
    read: fn(&GroupResult) -> Option<f64>,
    digits: usize,
}

fn stat(g: &GroupResult, m: Metric, pick: fn(&Summary) -> f64) -> Option<f64> {
    g.metric(m)
        .filter(|r| r.summary.count > 0)
        .map(|r| pick(&r.summary))
}

/// A row of the table: its name, how to read it from a group, and the digits shown.
const fn figure(
    name: &'static str,
    read: fn(&GroupResult) -> Option<f64>,
    digits: usize,
) -> Figure {
    Figure { name, read, digits }
}

const FIGURES: [Figure; 17] = [
    figure("joined %", |g| Some(g.totals.join_success_pct), 1),
    figure(
        "failed joins",
        |g| Some((g.totals.failed_sessions + g.publisher_failures.len() as u64) as f64),
        0,
    ),
    figure(
        "connect p50 ms",
        |g| stat(g, Metric::ConnectMs, |s| s.p50),
        0,
    ),
    figure(
        "connect p95 ms",
        |g| stat(g, Metric::ConnectMs, |s| s.p95),
        0,
    ),
    figure(
        "first frame p50 ms",
        |g| stat(g, Metric::FirstFrameMs, |s| s.p50),
        0,
    ),
    figure(
        "first frame p90 ms",
        |g| stat(g, Metric::FirstFrameMs, |s| s.p90),
        0,
    ),
    figure(
        "e2e p50 ms",
        |g| stat(g, Metric::E2eLatencyMs, |s| s.p50),
        1,
    ),
    figure(
        "e2e p95 ms",
        |g| stat(g, Metric::E2eLatencyMs, |s| s.p95),
        1,
    ),
    figure(
        "e2e p99 ms",
        |g| stat(g, Metric::E2eLatencyMs, |s| s.p99),
        1,
    ),
    figure("loss after repair %", |g| Some(g.totals.packet_loss_pct), 2),
    figure("jitter p95 ms", |g| stat(g, Metric::JitterMs, |s| s.p95), 2),
    figure("fps mean", |g| stat(g, Metric::Fps, |s| s.mean), 1),
    figure(
        "freezes (W3C)",
        |g| Some(g.totals.freeze_w3c.count as f64),
        0,
    ),
    figure("freeze time %", |g| Some(g.totals.freeze_time_pct), 2),
    figure("PSNR dB", |g| stat(g, Metric::PsnrDb, |s| s.mean), 2),
    figure("drops", |g| Some(g.totals.reconnects.drops as f64), 0),
    figure(
        "recovery p95 ms",
        |g| stat(g, Metric::RecoveryMs, |s| s.p95),
        0,
    ),
];

fn read_of(name: &str) -> fn(&GroupResult) -> Option<f64> {
    FIGURES
        .iter()
        .find(|f| f.name == name)
        .map_or(|_| None, |f| f.read)
}

/// Group names in the order the first run that has each lists them.
fn group_names(runs: &[ComparedRun]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in runs {
        for g in &r.results.groups {
            if !names.contains(&g.name) {
                names.push(g.name.clone());
            }
        }
    }
    names
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|v| fmt(v, digits)).unwrap_or_else(|| "–".into())
}

/// The side-by-side figures, the runs, and (when there are gates) the gates by provider.
pub fn tables(runs: &[ComparedRun], missing: &[MissingRun]) -> Vec<Table> {
    let mut out = vec![side_by_side(runs), runs_table(runs, missing)];
    out.extend(gates_by_provider(runs));
    out
}

fn side_by_side(runs: &[ComparedRun]) -> Table {
    let mut headers = vec!["group".to_string(), "figure".to_string()];
    headers.extend(runs.iter().map(|r| r.label.clone()));
    let mut rows = Vec::new();
    for name in group_names(runs) {
        for f in &FIGURES {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.results.group(&name).and_then(|g| (f.read)(g)))
                .collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            let mut row = vec![name.clone(), f.name.to_string()];
            row.extend(values.iter().map(|v| cell(*v, f.digits)));
            rows.push(row);
        }
    }
    Table {
        title: "Providers side by side".into(),
        note: Some(
            "The same scenario, plan and seed against each provider, one after the other on this machine. Figures as in each provider's report: e2e latency is capture at the publisher to frame complete at the receiver; freezes by the W3C rule. A dash: the figure was not measured (no session got that far). Which differences are real is in the head-to-head and metric-test tables."
                .into(),
        ),
        headers,
        rows,
    }
}

fn runs_table(runs: &[ComparedRun], missing: &[MissingRun]) -> Table {
    let mut rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let x = &r.results;
            vec![
                r.label.clone(),
                x.provider
                    .clone()
                    .unwrap_or_else(|| "simulated link".into()),
                x.started_at.clone(),
                format!(
                    "{:.1} s{}",
                    x.duration_s,
                    if x.completed { "" } else { " (stopped early)" }
                ),
                x.seed.to_string(),
                format!(
                    "{}/{}",
                    x.gates.iter().filter(|g| g.passed).count(),
                    x.gates.len()
                ),
                x.failed_sessions().to_string(),
                x.self_cost
                    .as_ref()
                    .map_or("not measured".into(), |c| c.describe()),
                if x.failures.is_empty() {
                    format!("{}/report.html", r.dir)
                } else {
                    x.failures.join("; ")
                },
            ]
        })
        .collect();
    rows.extend(missing.iter().map(|m| {
        let mut row = vec![m.label.clone()];
        row.extend(std::iter::repeat_n("–".to_string(), 7));
        row.push(format!("did not run: {}", m.reason));
        row
    }));
    Table {
        title: "Runs".into(),
        note: Some(
            "Each provider's run has its own folder with run.json, its full report and sessions.csv. rtcbench's own cost is there so a provider is not blamed for a saturated generator."
                .into(),
        ),
        headers: [
            "provider",
            "name in its file",
            "started (UTC)",
            "duration",
            "seed",
            "gates held",
            "failed joins",
            "rtcbench's own cost",
            "report or failure",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn gates_by_provider(runs: &[ComparedRun]) -> Option<Table> {
    let gates: Vec<(String, String)> = runs
        .iter()
        .flat_map(|r| {
            r.results
                .gates
                .iter()
                .map(|g| (g.gate.clone(), g.group.clone()))
        })
        .fold(Vec::new(), |mut acc, k| {
            if !acc.contains(&k) {
                acc.push(k);
            }
            acc
        });
    if gates.is_empty() {
        return None;
    }
    let mut headers = vec!["gate".to_string(), "group".to_string()];
    headers.extend(runs.iter().map(|r| r.label.clone()));
    Some(Table {
        title: "SLO gates by provider".into(),
        note: None,
        headers,
        rows: gates
            .iter()
            .map(|(gate, group)| {
                let mut row = vec![gate.clone(), group.clone()];
                row.extend(runs.iter().map(|r| {
                    r.results
                        .gates
                        .iter()
                        .find(|g| &g.gate == gate && &g.group == group)
                        .map_or("–".to_string(), |g| {
                            format!(
                                "{} ({})",
                                g.verdict(),
                                g.observed.map_or("no data".into(), |v| fmt(v, 2))
                            )
                        })
                }));
                row
            })
            .collect(),
    })
}

/// Each run's per-group series, named "provider · group" (or just the provider when the
/// comparison has one group).
pub(super) fn by_provider(
    runs: &[ComparedRun],
    series: impl Fn(&RunResults) -> Vec<Series>,
) -> Vec<Series> {
    let one_group = group_names(runs).len() == 1;
    runs.iter()
        .flat_map(|r| {
            series(&r.results).into_iter().map(move |(group, pts)| {
                let name = match one_group {
                    true => r.label.clone(),
                    false => format!("{} · {group}", r.label),
                };
                (name, pts)
            })
        })
        .collect()
}

fn bars(runs: &[ComparedRun], read: fn(&GroupResult) -> Option<f64>) -> Vec<(String, f64)> {
    group_names(runs)
        .iter()
        .flat_map(|name| {
            runs.iter().filter_map(move |r| {
                let v = read(r.results.group(name)?)?;
                Some((format!("{} · {name}", r.label), v))
            })
        })
        .collect()
}

pub fn charts(runs: &[ComparedRun]) -> Result<Vec<Chart>, ChartError> {
    let mut out = Vec::new();
    for (name, title, metric, x_label) in [
        (
            "compare_e2e_latency_cdf",
            "End-to-end latency by provider, cumulative distribution",
            Metric::E2eLatencyMs,
            "e2e latency (ms)",
        ),
        (
            "compare_connect_cdf",
            "Connect time (dial to first frame) by provider, cumulative distribution",
            Metric::ConnectMs,
            "connect time (ms)",
        ),
    ] {
        let series = by_provider(runs, |r| charts::cdf(r, metric));
        if !series.is_empty() {
            out.push(charts::render(
                name,
                title.into(),
                Kind::Lines {
                    x_label,
                    y_label: "% at or below".into(),
                    series,
                    marks: Vec::new(),
                },
            )?);
        }
    }
    for (name, title, x_label, read) in [
        (
            "compare_e2e_p95",
            "End-to-end latency p95 by provider and group",
            "e2e latency p95 (ms)",
            read_of("e2e p95 ms"),
        ),
        (
            "compare_freeze_time",
            "Freeze time (W3C rule) by provider and group",
            "freeze time (% of rendered time)",
            read_of("freeze time %"),
        ),
    ] {
        let bars = bars(runs, read);
        if !bars.is_empty() {
            out.push(charts::render(
                name,
                title.into(),
                Kind::Bars {
                    x_label: x_label.into(),
                    bars,
                },
            )?);
        }
    }
    Ok(out)
}

/// One CSV row per provider, group and figure: easy to pivot in a spreadsheet.
fn figures_table(runs: &[ComparedRun]) -> Table {
    let mut rows = Vec::new();
    for r in runs {
        for g in &r.results.groups {
            for f in &FIGURES {
                if let Some(v) = (f.read)(g) {
                    rows.push(vec![
                        r.label.clone(),
                        g.name.clone(),
                        f.name.into(),
                        fmt(v, f.digits),
                    ]);
                }
            }
        }
    }
    Table {
        title: "Figures".into(),
        note: None,
        headers: ["provider", "group", "figure", "value"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// Every provider's sessions, one row each, with the provider first.
fn sessions_table(runs: &[ComparedRun]) -> Table {
    let mut all = Table {
        title: "Sessions".into(),
        note: None,
        headers: Vec::new(),
        rows: Vec::new(),
    };
    for r in runs {
        let own = super::sessions::table(&r.results);
        if all.headers.is_empty() {
            all.headers = std::iter::once("provider".to_string())
                .chain(own.headers)
                .collect();
        }
        let label = || r.label.clone();
        all.rows.extend(
            own.rows
                .into_iter()
                .map(|row| std::iter::once(label()).chain(row).collect()),
        );
    }
    all
}

fn title(runs: &[ComparedRun]) -> String {
    let scenario = runs
        .first()
        .map_or("", |r| r.results.scenario_name.as_str());
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    format!("{scenario}: {}", labels.join(" vs "))
}

/// What a reader must know first: runs not like for like, a saturated generator, a run stopped
/// early.
fn warnings(runs: &[ComparedRun]) -> Vec<String> {
    let mut out: Vec<String> = mixed_scenarios(runs).into_iter().collect();
    for r in runs {
        if let Some(w) = super::saturation_warning(&r.results) {
            out.push(format!("{}: {w}", r.label));
        }
        if !r.results.completed {
            out.push(format!(
                "{}: stopped early; its figures cover the part that ran.",
                r.label
            ));
        }
    }
    out
}

/// The warning for runs of different scenarios or seeds: their figures are not like for like.
fn mixed_scenarios(runs: &[ComparedRun]) -> Option<String> {
    let first = runs.first()?;
    let odd: Vec<String> = runs
        .iter()
        .filter(|r| {
            r.results.scenario_name != first.results.scenario_name
                || r.results.seed != first.results.seed
        })
        .map(|r| {
            format!(
                "{} ({}, seed {})",
                r.label, r.results.scenario_name, r.results.seed
            )
        })
        .collect();
    (!odd.is_empty()).then(|| {
        format!(
            "Not like for like: {} differ from {} ({}, seed {}) in scenario or seed. Scores use the first run's scenario's [scoring].",
            odd.join(", "),
            first.label,
            first.results.scenario_name,
            first.results.seed
        )
    })
}

/// The report's tables in reading order, and how many lead (come before the charts): the
/// executive summary first, the method and environment last.
fn ordered_tables(
    runs: &[ComparedRun],
    missing: &[MissingRun],
    assessment: &Assessment,
) -> (Vec<Table>, usize) {
    let mut base = tables(runs, missing).into_iter();
    let (side, run_list, gates) = (base.next(), base.next(), base.next());
    let mut out = scorecard::summary(assessment, runs);
    out.extend(gates);
    let lead = out.len();
    out.extend(side);
    out.extend(scorecard::detail(assessment));
    out.extend(run_list);
    out.extend(scorecard::method(assessment, runs));
    (out, lead)
}

/// The comparison's document: the scored summary and gates, the charts, the figures side by
/// side, the detail, the runs and the method; its data files and scorecard.json.
pub fn document(
    runs: &[ComparedRun],
    missing: &[MissingRun],
    assessment: &Assessment,
    with_charts: bool,
) -> Result<Document, ReportError> {
    let charts = match with_charts {
        true => {
            let mut charts = super::score_charts::charts(assessment, runs)?;
            charts.extend(self::charts(runs)?);
            charts
        }
        false => Vec::new(),
    };
    let (tables, lead) = ordered_tables(runs, missing, assessment);
    let mut tables = tables.into_iter().map(Section::Table);
    let mut sections: Vec<Section> = tables.by_ref().take(lead).collect();
    sections.push(Section::Charts(charts));
    sections.extend(tables);
    let card = serde_json::json!({
        "scoring": assessment.scoring,
        "scorecard": assessment.card,
        "claims": assessment.claims,
    });
    Ok(Document {
        stem: "comparison",
        title: format!("rtcbench comparison: {}", title(runs)),
        subtitle: runs.first().map(|r| {
            format!(
                "seed {} · rtcbench {}",
                r.results.seed, r.results.rtcbench_version
            )
        }),
        warnings: warnings(runs),
        sections,
        links: runs
            .iter()
            .map(|r| Link {
                label: r.label.clone(),
                dir: r.dir.clone(),
            })
            .collect(),
        data: vec![
            DataFile {
                name: "comparison.csv",
                table: figures_table(runs),
            },
            DataFile {
                name: "sessions.csv",
                table: sessions_table(runs),
            },
        ],
        attachments: vec![(
            "scorecard.json",
            serde_json::to_string_pretty(&card)
                .unwrap_or_default()
                .into_bytes(),
        )],
    })
}

/// Writes comparison.html / .md / .csv, sessions.csv, scorecard.json and the comparison
/// charts into `dir`.
pub fn write(
    runs: &[ComparedRun],
    missing: &[MissingRun],
    assessment: &Assessment,
    dir: &Path,
    formats: &[Format],
) -> Result<Vec<PathBuf>, ReportError> {
    let doc = document(runs, missing, assessment, super::shows_charts(formats))?;
    super::export::write(&doc, dir, formats)
}
