//! Reports rendered from run.json alone: HTML (self-contained), Markdown, CSV and charts.
//! The tables are built once here and each format lays them out its own way.

pub mod charts;
mod cohost;
pub mod compare;
pub mod csv;
mod degradation;
pub mod html;
mod http;
pub mod markdown;
pub mod pdf;
mod recovery;
mod schedule;
mod score_charts;
pub mod scorecard;
mod shapes;
mod timeline;

use crate::metrics::Metric;
use crate::results::{GroupResult, RunResults};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    #[error("unknown report format \"{0}\"; use html, md, csv or pdf")]
    Format(String),
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Csv,
    /// The HTML report printed by headless Chromium.
    Pdf,
}

impl std::str::FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "html" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            "pdf" => Ok(Format::Pdf),
            other => Err(ReportError::Format(other.to_string())),
        }
    }
}

pub const ALL_FORMATS: [Format; 3] = [Format::Html, Format::Markdown, Format::Csv];

pub struct Table {
    pub title: String,
    pub note: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Sessions listed in the report body; sessions.csv has them all.
const MAX_SESSION_ROWS: usize = 50;

fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| fmt(v, digits)).unwrap_or_else(|| "–".into())
}

fn metric_stat(
    g: &GroupResult,
    m: Metric,
    pick: fn(&crate::results::Summary) -> f64,
    digits: usize,
) -> String {
    g.metric(m)
        .filter(|r| r.summary.count > 0)
        .map(|r| fmt(pick(&r.summary), digits))
        .unwrap_or_else(|| "–".into())
}

/// A profile's settings beyond delay, jitter and loss, as written.
fn network_extras(p: &crate::scenario::NetworkProfile) -> String {
    let mut out = Vec::new();
    if let Some(b) = p.burst {
        out.push(format!("bursts of {b} packets"));
    }
    if let Some(d) = p.duplicate {
        out.push(format!("{}% duplicated", d.0));
    }
    if let Some(r) = p.rate {
        out.push(format!("cap {:.0} kbps", r.kbps()));
    }
    if !p.reorder && !p.jitter.0.is_zero() {
        out.push("in order".into());
    }
    if !p.outages.is_empty() {
        out.push(format!("{} outages", p.outages.len()));
    }
    if p.uplink.is_some() {
        out.push("uplink impaired".into());
    }
    for step in &p.schedule {
        out.push(format!(
            "{} from {}",
            step.profile,
            humantime::format_duration(step.at.0)
        ));
    }
    out.join(", ")
}

/// The warning a report opens with when rtcbench itself was the limit.
pub fn saturation_warning(r: &RunResults) -> Option<String> {
    let cost = r.self_cost.as_ref().filter(|c| !c.saturation.is_empty())?;
    Some(format!(
        "rtcbench itself was the limit in this run ({}): its own delays are in these figures, and gate verdicts are unreliable.",
        cost.saturation.join("; ")
    ))
}

pub fn tables(r: &RunResults) -> Vec<Table> {
    let mut out = Vec::new();
    if !r.gates.is_empty() {
        out.push(Table {
            title: "SLO gates".into(),
            note: Some(format!(
                "{} of {} held. A gate with no data fails: nothing shows the objective was met.{}",
                r.gates.iter().filter(|g| g.passed).count(),
                r.gates.len(),
                r.aborted_by
                    .as_ref()
                    .map(|a| format!(" The run was {} (abort_on_fail).", a.describe()))
                    .unwrap_or_default()
            )),
            headers: vec![
                "gate".into(),
                "group".into(),
                "observed".into(),
                "verdict".into(),
            ],
            rows: r
                .gates
                .iter()
                .map(|g| {
                    vec![
                        g.gate.clone(),
                        g.group.clone(),
                        g.observed.map_or("no data".into(), |v| fmt(v, 2)),
                        g.verdict().into(),
                    ]
                })
                .collect(),
        });
    }
    out.push(Table {
        title: "Key figures per stream group".into(),
        note: Some(
            "e2e latency: capture at the publisher to frame complete and decodable at the receiver. Freezes: W3C rule / >200 ms / >500 ms render gaps. PSNR and SSIM from quality probes only."
                .into(),
        ),
        headers: [
            "group", "network", "receivers (probes)", "joined % (within 5 s)", "connect p50 ms", "first frame p50 ms",
            "e2e p50 ms", "e2e p95 ms", "e2e p99 ms",
            "loss %", "jitter p95 ms", "fps mean", "kbps mean", "freezes W3C/200/500", "freeze time %", "PSNR dB", "SSIM",
            "marker read %",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .groups
            .iter()
            .map(|g| {
                let t = &g.totals;
                vec![
                    g.name.clone(),
                    g.network_name.clone(),
                    format!("{} ({})", t.receivers, t.probes),
                    format!("{:.1} ({:.1})", t.join_success_pct, t.join_within_5s_pct),
                    metric_stat(g, Metric::ConnectMs, |s| s.p50, 0),
                    metric_stat(g, Metric::FirstFrameMs, |s| s.p50, 1),
                    metric_stat(g, Metric::E2eLatencyMs, |s| s.p50, 1),
                    metric_stat(g, Metric::E2eLatencyMs, |s| s.p95, 1),
                    metric_stat(g, Metric::E2eLatencyMs, |s| s.p99, 1),
                    fmt(t.packet_loss_pct, 2),
                    metric_stat(g, Metric::JitterMs, |s| s.p95, 2),
                    metric_stat(g, Metric::Fps, |s| s.mean, 1),
                    metric_stat(g, Metric::BitrateKbps, |s| s.mean, 0),
                    format!("{}/{}/{}", t.freeze_w3c.count, t.freeze_200ms.count, t.freeze_500ms.count),
                    fmt(t.freeze_time_pct, 2),
                    metric_stat(g, Metric::PsnrDb, |s| s.mean, 2),
                    metric_stat(g, Metric::Ssim, |s| s.mean, 4),
                    opt(t.marker_read_pct, 1),
                ]
            })
            .collect(),
    });
    out.push(Table {
        title: "Metric distributions".into(),
        note: None,
        headers: [
            "group", "metric", "unit", "count", "p50", "p90", "p95", "p99", "max",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .groups
            .iter()
            .flat_map(|g| {
                g.metrics.iter().map(move |(m, res)| {
                    let s = &res.summary;
                    vec![
                        g.name.clone(),
                        m.name().to_string(),
                        res.unit.clone(),
                        s.count.to_string(),
                        fmt(s.p50, 2),
                        fmt(s.p90, 2),
                        fmt(s.p95, 2),
                        fmt(s.p99, 2),
                        fmt(s.max, 2),
                    ]
                })
            })
            .collect(),
    });
    if r.provider.is_none() || r.groups.iter().any(|g| g.network_name != "clean") {
        out.push(Table {
            title: "Network: configured and realised".into(),
            note: Some(match r.provider {
                None => "Realised figures are counted at the simulated link, per packet.".into(),
                Some(_) => "Realised figures are counted at the impairment layer in front of each viewer's socket, per datagram towards the viewer (media, retransmissions and control alike), summed over viewers.".into(),
            }),
            headers: [
                "group",
                "profile",
                "delay",
                "jitter ±",
                "loss",
                "other",
                "realised mean delay ms",
                "realised loss %",
                "receivers' loss before / after repair %",
            ]
            .map(String::from)
            .to_vec(),
            rows: r
                .groups
                .iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        g.network_name.clone(),
                        humantime::format_duration(g.network.delay.0).to_string(),
                        humantime::format_duration(g.network.jitter.0).to_string(),
                        format!("{}%", g.network.loss.0),
                        network_extras(&g.network),
                        fmt(g.totals.link_delay_ms, 2),
                        fmt(g.totals.link_loss_pct, 2),
                        format!(
                            "{} / {}",
                            fmt(g.totals.packet_loss_before_repair_pct, 2),
                            fmt(g.totals.packet_loss_pct, 2)
                        ),
                    ]
                })
                .collect(),
        });
    }
    let sessions: Vec<_> = r.groups.iter().flat_map(|g| g.sessions.iter()).collect();
    out.push(Table {
        title: "Sessions".into(),
        note: (sessions.len() > MAX_SESSION_ROWS).then(|| {
            format!(
                "First {MAX_SESSION_ROWS} of {} sessions; sessions.csv has all.",
                sessions.len()
            )
        }),
        headers: [
            "session",
            "role",
            "first frame ms",
            "e2e p50 ms",
            "e2e p95 ms",
            "loss %",
            "jitter ms",
            "fps",
            "freezes W3C",
            "freeze time %",
            "PSNR dB",
            "SSIM",
        ]
        .map(String::from)
        .to_vec(),
        rows: sessions
            .iter()
            .take(MAX_SESSION_ROWS)
            .map(|s| {
                vec![
                    s.id.clone(),
                    format!("{:?}", s.role).to_lowercase(),
                    opt(s.first_frame_ms, 1),
                    opt(s.e2e_latency_p50_ms, 1),
                    opt(s.e2e_latency_p95_ms, 1),
                    fmt(s.packet_loss_pct, 2),
                    fmt(s.jitter_ms, 2),
                    fmt(s.fps, 1),
                    s.freeze_w3c.count.to_string(),
                    fmt(s.freeze_time_pct, 2),
                    opt(s.psnr_db, 2),
                    opt(s.ssim, 4),
                ]
            })
            .collect(),
    });
    if let Some(c) = &r.capacity {
        let gate_names: Vec<String> = c
            .steps
            .first()
            .map(|s| s.gates.iter().map(|g| g.gate.clone()).collect())
            .unwrap_or_default();
        let mut headers = vec!["viewers".to_string(), "window (s)".to_string()];
        headers.extend(gate_names);
        headers.extend([
            "verdict".to_string(),
            "rtcbench cores".to_string(),
            "timer lag p99 (ms)".to_string(),
            "join slip p95 (ms)".to_string(),
        ]);
        out.insert(
            usize::from(!r.gates.is_empty()),
            Table {
                title: "Capacity search".into(),
                note: Some(c.describe()),
                headers,
                rows: c
                    .steps
                    .iter()
                    .map(|s| {
                        let mut row = vec![
                            s.level.to_string(),
                            format!("{:.0}–{:.0}", s.from_s, s.to_s),
                        ];
                        row.extend(
                            s.gates
                                .iter()
                                .map(|g| g.observed.map_or("no data".into(), |v| fmt(v, 2))),
                        );
                        row.push(
                            match (s.held, s.generator_saturated) {
                                (true, _) => "held",
                                (false, false) => "BROKE",
                                (false, true) => "BROKE (rtcbench saturated)",
                            }
                            .into(),
                        );
                        row.push(fmt(s.generator_cores, 2));
                        row.push(fmt(s.timer_lag_p99_ms, 1));
                        row.push(opt(s.schedule_slip_p95_ms, 1));
                        row
                    })
                    .collect(),
            },
        );
    }
    out.extend(cohost::table(r));
    out.extend(http::table(r));
    out.extend(schedule::table(r));
    out.extend(recovery::table(r));
    let notes: Vec<Vec<String>> = r
        .groups
        .iter()
        .flat_map(|g| {
            g.notes
                .iter()
                .map(|(note, sessions)| vec![g.name.clone(), sessions.to_string(), note.clone()])
        })
        .collect();
    if !notes.is_empty() {
        out.push(Table {
            title: "Notes".into(),
            note: Some(
                "What came of the ICE servers (STUN/TURN) the provider handed out, and other observations that are not failures.".into(),
            ),
            headers: vec!["group".into(), "sessions".into(), "note".into()],
            rows: notes,
        });
    }
    let e = &r.environment;
    out.push(Table {
        title: "Method and environment".into(),
        note: Some(
            match &r.provider {
                Some(p) => format!(
                    "Media crossed real WebRTC (ICE, DTLS, SRTP, RTCP with NACK/RTX and PLI) between rtcbench's native clients and the provider \"{p}\", signalled over WHIP/WHEP. Latency is capture at the publisher to frame complete at the subscriber on this machine's clock; the harness's own decode time is excluded."
                ),
                None => "Media crossed rtcbench's in-process simulated link, not a network transport: figures are the harness's own floor (capture, H.264 encode, packetisation, assembly) plus the configured delay, jitter and loss. The simulated link has no retransmission or FEC, so one lost packet spoils the picture until a key frame, requested over the feedback path, arrives; WebRTC transports recover most losses with NACK.".to_string(),
            }
        ),
        headers: vec!["item".into(), "value".into()],
        rows: [
            ("scenario", r.scenario_name.clone()),
            ("seed", r.seed.to_string()),
            ("started (UTC)", r.started_at.clone()),
            ("duration", format!("{:.1} s{}", r.duration_s, if r.completed { "" } else { " (stopped early)" })),
            ("rtcbench", format!("{} ({} build)", e.rtcbench_version, e.build)),
            ("machine", format!("{} CPUs, {}", e.cpu_count, e.cpu_model)),
            ("system", format!("{}, kernel {}, {}", e.os, e.kernel, e.arch)),
            (
                "rtcbench's own cost",
                r.self_cost
                    .as_ref()
                    .map_or("not measured".to_string(), |c| c.describe()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect(),
    });
    out
}

/// Writes each chart as SVG and PNG under `dir`/charts.
fn write_charts(charts: &[charts::Chart], dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReportError::Io { path, source }
    };
    let chart_dir = dir.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(io(&chart_dir))?;
    let mut written = Vec::new();
    for c in charts {
        for (ext, bytes) in [("svg", c.svg.as_bytes()), ("png", c.png.as_slice())] {
            let path = chart_dir.join(format!("{}.{ext}", c.name));
            std::fs::write(&path, bytes).map_err(io(&path))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes the report files for `formats` and the charts into `dir`.
pub fn write(r: &RunResults, dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReportError::Io { path, source }
    };
    let mut written = Vec::new();
    let charts = if formats
        .iter()
        .any(|f| matches!(f, Format::Html | Format::Markdown))
    {
        let charts = charts::build(r)?;
        written.extend(write_charts(&charts, dir)?);
        charts
    } else {
        Vec::new()
    };
    let tables = tables(r);
    for format in formats {
        let (name, body) = match format {
            Format::Html => ("report.html", html::render(r, &tables, &charts)),
            Format::Markdown => ("report.md", markdown::render(r, &tables, &charts)),
            Format::Csv => ("sessions.csv", csv::render(r)),
            // Printed from the HTML by the caller (runner::rerender), which needs a browser.
            Format::Pdf => continue,
        };
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}
