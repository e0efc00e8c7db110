//! The CDN audience in the report: per group that watched through the CDN, what the live
//! streaming industry reports (startup and 秒开率, stalls per 100 s, stall time share, the share
//! of viewers who stalled, live latency) and what the delivery did (segment downloads, errors).

use super::document::Table;
use crate::record::{CdnPlayback, GroupResult};
use crate::results::RunResults;

/// A percentile of `values` (nearest rank), or none.
fn percentile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "not measured".into(),
        Some(v) if v < 10.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.0} ms"),
    }
}

fn pct(part: usize, whole: usize) -> String {
    match whole {
        0 => "–".into(),
        _ => format!("{:.1}%", 100.0 * part as f64 / whole as f64),
    }
}

fn row(g: &GroupResult) -> Option<Vec<String>> {
    let played: Vec<&CdnPlayback> = g.sessions.iter().filter_map(|s| s.cdn.as_ref()).collect();
    let first = played.first()?;
    let startups: Vec<f64> = played.iter().filter_map(|c| c.startup_ms).collect();
    let within_1s = startups.iter().filter(|&&ms| ms <= 1_000.0).count();
    let watched: f64 = played.iter().map(|c| c.watched_s).sum();
    let stalls: u64 = played.iter().map(|c| c.stalls).sum();
    let stall_s: f64 = played.iter().map(|c| c.stall_ms / 1000.0).sum();
    let stalled = played.iter().filter(|c| c.stalls > 0).count();
    let latencies: Vec<f64> = played
        .iter()
        .filter_map(|c| c.live_latency_p50_ms)
        .collect();
    let downloads: Vec<f64> = played
        .iter()
        .filter_map(|c| c.part_download_p50_ms.or(c.segment_download_p50_ms))
        .collect();
    let errors: u64 = played.iter().map(|c| c.http_errors).sum();
    let per_100s = |n: f64| match watched > 0.0 {
        true => format!("{:.2}", n * 100.0 / watched),
        false => "–".into(),
    };
    Some(vec![
        g.name.clone(),
        first.protocol.clone(),
        played.len().to_string(),
        format!(
            "{} / {}",
            ms(percentile(startups.clone(), 0.5)),
            ms(percentile(startups.clone(), 0.95))
        ),
        pct(within_1s, played.len()),
        per_100s(stalls as f64),
        match watched > 0.0 {
            true => format!("{:.2}%", 100.0 * stall_s / watched),
            false => "–".into(),
        },
        pct(stalled, played.len()),
        format!(
            "{} / {}",
            ms(percentile(latencies.clone(), 0.5)),
            ms(percentile(latencies, 0.95))
        ),
        ms(percentile(downloads, 0.5)),
        errors.to_string(),
    ])
}

const NOTE: &str = "Startup: the tap (first request) to playback starting with the start buffer filled; 秒开率 is the share of viewers started within 1 s. Stalls: the buffer ran dry for 250 ms or more after playback started (卡顿), per 100 s watched (百秒卡顿次数), as a share of time watched (卡顿时长占比) and as the share of viewers with any (卡顿用户率). Live latency: the wall clock when a frame is shown minus its capture time from the SEI marker, each viewer's median, then p50 / p95 over viewers. Download: request to last byte of each part (LL-HLS, including the time the server held a preload-hinted part until it was finished) or segment (HLS), viewers' medians' median. HTTP-FLV viewers download one long stream. Players model hls.js and flv.js defaults (docs/cdn.md); they do not decode, so picture quality is not measured for them.";

/// One row per group that watched through the CDN, if any did.
pub(super) fn table(r: &RunResults) -> Option<Table> {
    let rows: Vec<Vec<String>> = r.groups.iter().filter_map(row).collect();
    if rows.is_empty() {
        return None;
    }
    let headers = [
        "group",
        "protocol",
        "viewers",
        "startup p50 / p95",
        "秒开率 (≤ 1 s)",
        "stalls / 100 s",
        "stall time",
        "viewers who stalled",
        "live latency p50 / p95",
        "download p50",
        "HTTP errors",
    ];
    Some(Table {
        title: "CDN audience".into(),
        note: Some(NOTE.into()),
        headers: headers.map(String::from).to_vec(),
        rows,
    })
}
