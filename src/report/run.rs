//! A run's report document: the verdicts and key figures first, then the charts, then the
//! detail (distributions, network, sessions, co-hosting, HTTP, schedules, recovery, notes) and
//! the method. Every table is built here, once, for every format.

use super::document::{DataFile, Document, Section, Table};
use super::{charts, cohost, fmt, http, metric_stat, network_extras, opt, recovery, schedule};
use super::{saturation_warning, sessions, ReportError};
use crate::metrics::Metric;
use crate::record::CapacityResult;
use crate::results::RunResults;

/// Sessions listed in the report body; sessions.csv has them all.
const MAX_SESSION_ROWS: usize = 50;

/// The document of run `r`; charts are drawn only when a format shows them.
pub(super) fn document(r: &RunResults, with_charts: bool) -> Result<Document, ReportError> {
    let mut sections: Vec<Section> = Vec::new();
    let lead = [
        gates(r),
        r.capacity.as_ref().map(capacity),
        Some(key_figures(r)),
        super::cdn::table(r),
    ];
    sections.extend(lead.into_iter().flatten().map(Section::Table));
    let charts = match with_charts {
        true => charts::build(r)?,
        false => Vec::new(),
    };
    sections.push(Section::Charts(charts));
    let detail = [
        Some(distributions(r)),
        network(r),
        Some(sessions_listed(r)),
        cohost::table(r),
        super::layers::table(r),
        http::table(r),
        schedule::table(r),
        recovery::table(r),
        super::shards::table(r),
        notes(r),
        Some(method(r)),
    ];
    sections.extend(detail.into_iter().flatten().map(Section::Table));
    Ok(Document {
        stem: "report",
        title: format!("rtcbench report: {}", r.scenario_name),
        subtitle: Some(format!(
            "started {} UTC · {:.1} s · seed {} · rtcbench {}",
            r.started_at, r.duration_s, r.seed, r.rtcbench_version
        )),
        warnings: warnings(r),
        sections,
        links: Vec::new(),
        data: vec![DataFile {
            name: "sessions.csv",
            table: sessions::table(r),
        }],
        attachments: Vec::new(),
    })
}

fn warnings(r: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    if !r.completed {
        out.push("This run was stopped early; figures cover the part that ran.".to_string());
    }
    out.extend(r.failures.iter().map(|f| format!("Failure: {f}")));
    out.extend(r.groups.iter().filter_map(silent_tracks_warning));
    out.extend(saturation_warning(r));
    out.extend(super::shards::warnings(r));
    out
}

/// A group whose sessions negotiated a track that carried nothing: the provider forwarded no
/// audio (or video), which its loss and gap figures alone would hide.
fn silent_tracks_warning(g: &crate::record::GroupResult) -> Option<String> {
    let silent: Vec<_> = g
        .sessions
        .iter()
        .filter(|s| !s.silent_tracks.is_empty())
        .collect();
    let first = silent.first()?;
    Some(format!(
        "{}: {} of {} sessions had a negotiated track that carried no packet ({} in {}); they count as failed.",
        g.name,
        silent.len(),
        g.sessions.len(),
        first.silent_tracks.join(" and "),
        first.id
    ))
}

fn gates(r: &RunResults) -> Option<Table> {
    if r.gates.is_empty() {
        return None;
    }
    Some(Table {
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
    })
}

fn key_figures(r: &RunResults) -> Table {
    Table {
        title: "Key figures per stream group".into(),
        note: Some(
            "e2e latency: capture at the publisher to frame complete and decodable at the receiver. Freezes: W3C rule / >200 ms / >500 ms render gaps; below 15 fps: rendered time with fewer than 15 frames in the second before, which a steady low frame rate reaches without any freeze. PSNR and SSIM from quality probes only."
                .into(),
        ),
        headers: [
            "group", "network", "receivers (probes)", "joined % (within 5 s)", "connect p50 ms", "first frame p50 ms",
            "e2e p50 ms", "e2e p95 ms", "e2e p99 ms",
            "loss %", "jitter p95 ms", "fps mean", "kbps mean", "freezes W3C/200/500", "freeze time %", "below 15 fps %", "PSNR dB", "SSIM",
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
                    fmt(t.low_fps_time_pct, 1),
                    metric_stat(g, Metric::PsnrDb, |s| s.mean, 2),
                    metric_stat(g, Metric::Ssim, |s| s.mean, 4),
                    opt(t.marker_read_pct, 1),
                ]
            })
            .collect(),
    }
}

fn distributions(r: &RunResults) -> Table {
    Table {
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
    }
}

fn network(r: &RunResults) -> Option<Table> {
    if !(r.provider.is_none() || r.groups.iter().any(|g| g.network_name != "clean")) {
        return None;
    }
    Some(Table {
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
        })
}

fn sessions_listed(r: &RunResults) -> Table {
    let sessions: Vec<_> = r.groups.iter().flat_map(|g| g.sessions.iter()).collect();
    Table {
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
    }
}

fn capacity(c: &CapacityResult) -> Table {
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
    }
}

fn notes(r: &RunResults) -> Option<Table> {
    let notes: Vec<Vec<String>> = r
        .groups
        .iter()
        .flat_map(|g| {
            g.notes
                .iter()
                .map(|(note, sessions)| vec![g.name.clone(), sessions.to_string(), note.clone()])
        })
        .collect();
    if notes.is_empty() {
        return None;
    }
    Some(Table {
            title: "Notes".into(),
            note: Some(
                "What came of the ICE servers (STUN/TURN) the provider handed out, and other observations that are not failures.".into(),
            ),
            headers: vec!["group".into(), "sessions".into(), "note".into()],
            rows: notes,
        })
}

fn method(r: &RunResults) -> Table {
    let e = &r.environment;
    Table {
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
    }
}
