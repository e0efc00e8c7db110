//! A viewer of the CDN audience: it taps play at its planned instant (once the host it watches
//! is published), plays the provider's HTTP-FLV, HLS or LL-HLS URL with the scenario's buffer,
//! feeds the group's series every second, and reports as a viewer does (`ReceiverSummary` with
//! its `cdn` block).

use super::session::{record_slip, sleep_until_micros, wait_for_publisher, Watch};
use super::webrtc::Ctx;
use crate::base::Micros;
use crate::client::live_http::{run_flv, run_hls, Ticks};
use crate::media::live::player::flv::{FlvConfig, FlvPlayer};
use crate::media::live::player::hls::{HlsConfig, HlsPlayer};
use crate::media::live::player::summary::summarise;
use crate::media::live::player::LiveStats;
use crate::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, ReceiverSummary, Role, VideoReceiver,
};
use crate::metrics::{Metric, Sample};
use crate::plan::LivePlan;
use crate::provider::Step;
use crate::scenario::audience::LiveProtocol;

pub(super) async fn watch(ctx: Ctx, w: Watch, live: LivePlan) -> ReceiverSummary {
    sleep_until_micros(ctx.clock, w.dial_at).await;
    let counted_from = wait_for_publisher(&ctx, &w).await;
    let tap = record_slip(&ctx, counted_from);
    let until = w
        .leave_at
        .map_or(ctx.until, |l| ctx.clock.instant_of(l).min(ctx.until));
    let until = ctx.clock.micros_of(until);
    // A probe decodes every frame it is given and scores it against the source.
    let probe = (w.plan.role == Role::Probe)
        .then(|| QualityProbe::of(&w.reference).ok())
        .flatten();
    let blank = |probe: Option<QualityProbe>| {
        Receiver::new(
            w.plan.id.clone(),
            w.plan.role,
            tap,
            VideoReceiver::new(tap, probe),
            AudioReceiver::new(None),
        )
    };
    let Some(url) = ctx.provider.playback_url(&w.room, live.protocol) else {
        let mut s = blank(None).summary(&ctx.group, ctx.clock.now());
        s.joined = false;
        s.joined_within_5s = false;
        s.failure = Some(Step::Offer.failed(format!(
            "the provider serves no {} playback",
            live.protocol.name()
        )));
        ctx.live.settled(&s);
        return s;
    };
    ctx.live.session_up(&ctx.group, w.plan.role, &w.plan.id);
    let (stats, probe) = play(&ctx, &live, &url, tap, until, probe).await;
    let end = ctx.clock.now();
    let base = blank(probe).summary(&ctx.group, end);
    let mut s = summarise(&stats, live.protocol.name(), base, ctx.run_start);
    settle(&ctx, &w, &live, &stats, &mut s, (tap, counted_from, end));
    ctx.live.settled(&s);
    s
}

/// Plays the URL with the protocol's player until `until` or the stop; the stats and the
/// probe, which the summary needs.
async fn play(
    ctx: &Ctx,
    live: &LivePlan,
    url: &str,
    tap: Micros,
    until: Micros,
    probe: Option<QualityProbe>,
) -> (LiveStats, Option<QualityProbe>) {
    let recorder = ctx.recorder.clone();
    let ticks = Ticks::new(move |stats: &mut LiveStats, now| {
        if let Ok(mut rec) = recorder.lock() {
            rec.record_all(stats.drain_samples(now));
        }
    });
    let span = (until, ctx.stop.clone());
    let http = ctx.http.clone();
    match live.protocol {
        LiveProtocol::HttpFlv => {
            let config = FlvConfig {
                buffer: live.buffer,
                ..FlvConfig::default()
            };
            let mut player = FlvPlayer::new(url, config, tap);
            player.probe = probe;
            let played = run_flv(player, http, ctx.clock, span, ticks).await;
            (played.stats, played.probe)
        }
        LiveProtocol::Hls | LiveProtocol::LlHls => {
            let config = HlsConfig {
                buffer: live.buffer,
                low_latency: live.protocol == LiveProtocol::LlHls,
                ..HlsConfig::default()
            };
            let mut player = HlsPlayer::new(url, config, tap);
            player.probe = probe;
            let played = run_hls(player, http, ctx.clock, span, ticks).await;
            (played.stats, played.probe)
        }
    }
}

/// What the summary of a played URL needs besides the player's figures: secrets redacted, the
/// planned and actual times, connect time from the planned tap, the session-end samples and the
/// failure of a viewer that saw nothing. The instants are the tap, the one connect time counts
/// from (the planned tap, or the publication if later) and the end.
fn settle(
    ctx: &Ctx,
    w: &Watch,
    live: &LivePlan,
    stats: &LiveStats,
    s: &mut ReceiverSummary,
    (tap, counted_from, end): (Micros, Micros, Micros),
) {
    if let Some(cdn) = s.cdn.as_mut() {
        // A CDN URL may carry an auth key from the environment.
        for e in &mut cdn.errors {
            e.url = ctx.provider.redact(&e.url);
            e.what = ctx.provider.redact(&e.what);
        }
        cdn.rendition = cdn.rendition.as_deref().map(|r| ctx.provider.redact(r));
    }
    s.planned_join_s = Some(w.dial_at.saturating_sub(ctx.run_start) as f64 / 1e6);
    s.left_s = Some(end.saturating_sub(ctx.run_start) as f64 / 1e6);
    // Connect time counts from the planned tap (or the publication, if later), as for WebRTC.
    let waited_ms = tap.saturating_sub(counted_from) as f64 / 1000.0;
    s.connect_ms = s.connect_ms.map(|ms| ms + waited_ms);
    if let Ok(mut rec) = ctx.recorder.lock() {
        for (metric, value) in [
            (Metric::ConnectMs, s.connect_ms),
            (Metric::FirstFrameMs, s.first_frame_ms),
        ] {
            if let Some(value) = value {
                rec.record(Sample {
                    metric,
                    at: end,
                    value,
                });
            }
        }
    }
    if !s.joined {
        let why = stats
            .errors
            .first()
            .map(|e| ctx.provider.redact(&format!("{}: {}", e.url, e.what)))
            .unwrap_or_else(|| "no frame was shown".into());
        s.failure = Some(Step::Media.failed(format!("{} playback: {why}", live.protocol.name())));
    }
}
