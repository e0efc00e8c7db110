//! Our host pushing over RTMP, as a live-commerce encoder does: the sender's frames (video
//! only) to the provider's `rtmp_push_url`, reconnecting with the scenario's backoff when the
//! connection is lost, as OBS and hardware encoders do. Its viewers wait for the ingest to
//! take the publish, as they wait for a WHIP answer.

use super::session::{
    back_off, record_slip, sleep_until_micros, tag, Publication, PREPARE_LEAD_US,
};
use super::webrtc::Ctx;
use crate::client::rtmp_link::{push_connection, PushSpan};
use crate::client::rtmp_push::{PushedStream, RtmpTarget};
use crate::media::receiver::SessionFailure;
use crate::media::sender::{MediaSender, SenderStats};
use crate::provider::Step;
use std::time::Instant;

pub(super) async fn publish(ctx: Ctx, p: Publication) -> (SenderStats, Option<SessionFailure>) {
    let fail = |step: Step, why: String| {
        let failure = tag(step.failed(ctx.provider.redact(&why)), &p.id);
        (SenderStats::default(), Some(failure))
    };
    let Some(url) = ctx.provider.rtmp_push_url(&p.room) else {
        return fail(
            Step::Offer,
            "the provider takes no RTMP push (rtmp_push_url)".into(),
        );
    };
    let target = match RtmpTarget::parse(&url) {
        Ok(t) => t,
        Err(e) => return fail(Step::Offer, e.to_string()),
    };
    let stream = PushedStream {
        width: p.config.width as u32,
        height: p.config.height as u32,
        fps: p.config.fps,
        bitrate_bps: p.config.video_bitrate_bps,
    };
    sleep_until_micros(ctx.clock, p.dial_at.saturating_sub(PREPARE_LEAD_US)).await;
    let sender = MediaSender::new(p.config.clone(), p.dial_at);
    sleep_until_micros(ctx.clock, p.dial_at).await;
    record_slip(&ctx, p.dial_at);
    let mut sender = match sender {
        Ok(s) => s.into_whole_frames(),
        Err(e) => return fail(Step::Offer, e.to_string()),
    };
    let until = p.until.min(ctx.until);
    let mut span = PushSpan {
        clock: ctx.clock,
        until,
        stop: ctx.stop.clone(),
        step_timeout: ctx.provider.step_timeout(),
    };
    let on_published = |at| {
        if let Some(published) = &p.published {
            published.mark(at);
        }
    };
    let (mut ever_published, mut tries_left, mut wait) =
        (false, ctx.reconnect.attempts, ctx.reconnect.backoff.0);
    loop {
        let mut published_now = false;
        let mut mark = |at| {
            published_now = true;
            on_published(at);
        };
        let result = push_connection(&target, stream, &mut sender, &mut span, &mut mark).await;
        let rejoined = ever_published && published_now;
        let error = result.err();
        if let Ok(mut r) = ctx.publisher_reconnects.lock() {
            r.rejoins += u64::from(rejoined);
            r.drops += u64::from(published_now && error.is_some());
            r.rejoin_failures += u64::from(ever_published && !published_now && error.is_some());
        }
        let Some(e) = error else { break };
        if !ever_published && !published_now {
            // As for WebRTC, a host that never got on air is a failed join, not a reconnect.
            return fail(Step::Connect, format!("RTMP push to {url}: {e}"));
        }
        ever_published = true;
        if Instant::now() >= until || !back_off(&ctx, &mut tries_left, &mut wait, until).await {
            break;
        }
        sender.on_reconnect(ctx.clock.now());
    }
    (sender.stats, None)
}
