//! A CDN viewer's session as run.json keeps it: the fields it shares with a WebRTC viewer
//! (first frame, frames shown, latency, freezes as stalls) and its own `cdn` block.

use super::LiveStats;
use crate::base::Micros;
use crate::metrics::SerHistogram;
use crate::record::{CdnError, CdnPlayback, FreezeTally, ReceiverSummary};
use hdrhistogram::Histogram;

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| ms(h.value_at_quantile(q)))
}

/// Stalls longer than `over_us`, counted and summed.
fn stalls_over(h: &Histogram<u64>, over_us: u64) -> FreezeTally {
    let mut tally = FreezeTally::default();
    for v in h.iter_recorded() {
        let value = h.highest_equivalent(v.value_iterated_to());
        if value > over_us {
            tally.count += v.count_at_value();
            tally.total_us += value * v.count_at_value();
        }
    }
    tally
}

/// Fills `base` (a viewer's blank summary) with what the player measured.
pub fn summarise(
    stats: &LiveStats,
    protocol: &str,
    mut base: ReceiverSummary,
    run_start: Micros,
) -> ReceiverSummary {
    let p = &stats.playback;
    let watched_s = p.watched_us as f64 / 1e6;
    base.first_frame_ms = stats.first_frame_us().map(ms);
    base.frames_complete = p.rendered_frames;
    base.frames_rendered = p.rendered_frames;
    base.rendered_ms = ms(p.watched_us);
    base.fps = if watched_s > 0.0 {
        p.rendered_frames as f64 / watched_s
    } else {
        0.0
    };
    base.bitrate_kbps = stats.bitrate_kbps().unwrap_or(0.0);
    base.freeze_w3c = FreezeTally {
        count: p.stalls,
        total_us: p.stall_time_us,
    };
    base.freeze_200ms = stalls_over(&stats.stall_us, 200_000);
    base.freeze_500ms = stalls_over(&stats.stall_us, 500_000);
    base.freeze_time_pct = p.stall_pct();
    base.e2e_latency_p50_ms = quantile_ms(&stats.latency_us, 0.5);
    base.e2e_latency_p95_ms = quantile_ms(&stats.latency_us, 0.95);
    base.e2e_latency_us =
        (!stats.latency_us.is_empty()).then(|| SerHistogram(stats.latency_us.clone()));
    base.joined = p.rendered_frames > 0;
    base.joined_within_5s = stats.startup_us().is_some_and(|us| us <= 5_000_000);
    base.connect_ms = stats.startup_us().map(ms);
    base.cdn = Some(CdnPlayback {
        protocol: protocol.to_string(),
        startup_ms: stats.startup_us().map(ms),
        stalls: p.stalls,
        underruns: p.underruns,
        stall_ms: ms(p.stall_time_us),
        stall_pct: p.stall_pct(),
        stalls_per_100s: if watched_s > 0.0 {
            p.stalls as f64 * 100.0 / watched_s
        } else {
            0.0
        },
        watched_s,
        live_latency_p50_ms: base.e2e_latency_p50_ms,
        live_latency_p95_ms: base.e2e_latency_p95_ms,
        segment_download_p50_ms: quantile_ms(&stats.segment_us, 0.5),
        segment_download_p95_ms: quantile_ms(&stats.segment_us, 0.95),
        part_download_p50_ms: quantile_ms(&stats.part_us, 0.5),
        bitrate_kbps: stats.bitrate_kbps(),
        rendition: stats.rendition.as_ref().map(|(url, _)| url.clone()),
        rendition_bandwidth_kbps: stats
            .rendition
            .as_ref()
            .map(|(_, bps)| *bps as f64 / 1000.0),
        http_errors: stats.http_errors,
        retries: stats.retries,
        skipped: stats.skipped,
        errors: stats
            .errors
            .iter()
            .map(|e| CdnError {
                at_s: e.at.saturating_sub(run_start) as f64 / 1e6,
                url: e.url.clone(),
                what: e.what.clone(),
            })
            .collect(),
    });
    base
}
