//! Sessions a sidecar client plays (docs/sidecar-protocol.md): rtcbench sends the commands at
//! the planned instants and turns the events into the same receiver measurements as for its
//! own client. A sidecar's client reconnects by itself (an SDK does), so there is no rejoin
//! loop here: an error after the first frame is a drop, before it a failed join.

use super::webrtc::Ctx;
use crate::base::Micros;
use crate::client::sidecar::{ClientStats, Command, Event, VideoSpec};
use crate::media::receiver::{Receiver, SessionFailure};
use crate::media::sender::SenderConfig;
use crate::metrics::{Metric, Sample};
use crate::provider::SidecarUse;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// How long a sidecar may take to open a session's page (docs/sidecar-protocol.md).
const PAGE_LIMIT: Duration = Duration::from_secs(30);
/// How much longer than the sidecar's own timeouts rtcbench waits for its answer.
const SIDECAR_GRACE: Duration = Duration::from_secs(5);
/// How long a leaving session waits for the sidecar's `left`.
const LEAVE_WAIT: Duration = Duration::from_secs(3);

pub(super) struct Played {
    pub(super) failure: Option<SessionFailure>,
    /// The client's own counters, last reported.
    pub(super) stats: Option<ClientStats>,
    pub(super) drops: u64,
}

fn sidecar_failure(step: &str, reason: impl Into<String>) -> SessionFailure {
    SessionFailure {
        step: step.to_string(),
        reason: reason.into(),
    }
}

/// A session's next event, or the failure that ends it: the sidecar's error, or its exit
/// (counted at `step`).
fn event_or_end(
    sidecar: &SidecarUse,
    event: Option<Event>,
    step: &str,
) -> Result<Event, SessionFailure> {
    match event {
        Some(Event::Error { step, message, .. }) => Err(sidecar_failure(&step, message)),
        Some(e) => Ok(e),
        None => {
            let e = sidecar.process.broken("it exited".into());
            Err(sidecar_failure(step, e.to_string()))
        }
    }
}

/// Waits for the event `want` names; the sidecar's error, its exit or the step's timeout end
/// the wait with a failure at `step`.
async fn expect(
    sidecar: &SidecarUse,
    events: &mut UnboundedReceiver<Event>,
    step: &str,
    limit: Duration,
    want: fn(&Event) -> bool,
) -> Result<(), SessionFailure> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(event) => {
                if want(&event_or_end(sidecar, event, step)?) {
                    return Ok(());
                }
            }
            Err(_) => {
                return Err(sidecar_failure(
                    step,
                    format!("the sidecar gave no answer within {limit:?}"),
                ))
            }
        }
    }
}

/// Joins `room` through the sidecar: the endpoints (for a signalling page) and credentials.
async fn join(
    ctx: &Ctx,
    sidecar: &SidecarUse,
    id: &str,
    room: &str,
    events: &mut UnboundedReceiver<Event>,
) -> Result<(), SessionFailure> {
    let endpoints = ctx.provider.page_endpoints(room);
    let command = Command::Join {
        id: id.to_string(),
        page: sidecar.page.clone(),
        room: room.to_string(),
        endpoints,
        credentials: sidecar.credentials.clone(),
        timeout_ms: ctx.provider.step_timeout().as_millis() as u64,
    };
    send(sidecar, &command).await?;
    // The sidecar opens its page (within PAGE_LIMIT), then joins within the step timeout; its
    // own error, if any, should come first.
    let limit = PAGE_LIMIT + ctx.provider.step_timeout() + SIDECAR_GRACE;
    expect(sidecar, events, "join", limit, |e| {
        matches!(e, Event::Joined { .. })
    })
    .await
}

async fn send(sidecar: &SidecarUse, command: &Command) -> Result<(), SessionFailure> {
    sidecar
        .process
        .send(command)
        .await
        .map_err(|e| sidecar_failure("protocol", e.to_string()))
}

async fn leave(sidecar: &SidecarUse, id: &str, events: &mut UnboundedReceiver<Event>) {
    if send(sidecar, &Command::Leave { id: id.to_string() })
        .await
        .is_ok()
    {
        let _ = expect(sidecar, events, "leave", LEAVE_WAIT, |e| {
            matches!(e, Event::Left { .. })
        })
        .await;
    }
    sidecar.process.close(id);
}

/// Plays `room` for viewer `id` through the sidecar until `until`, feeding `receiver`.
pub(super) async fn watch(
    ctx: &Ctx,
    sidecar: &SidecarUse,
    id: &str,
    room: &str,
    receiver: &mut Receiver,
    until: Instant,
) -> Played {
    let mut events = sidecar.process.open(id);
    let mut played = Played {
        failure: None,
        stats: None,
        drops: 0,
    };
    if let Err(f) = join(ctx, sidecar, id, room, &mut events).await {
        played.failure = Some(f);
        leave(sidecar, id, &mut events).await;
        return played;
    }
    let subscribed = async {
        send(sidecar, &Command::Subscribe { id: id.to_string() }).await?;
        expect(
            sidecar,
            &mut events,
            "subscribe",
            ctx.provider.step_timeout(),
            |e| matches!(e, Event::Subscribed { .. }),
        )
        .await
    };
    if let Err(f) = subscribed.await {
        played.failure = Some(f);
        leave(sidecar, id, &mut events).await;
        return played;
    }
    ctx.live.session_up(&ctx.group, receiver.role, id);
    let interval = Duration::from_micros(ctx.interval_us);
    let mut tick = ctx.next_interval();
    let mut last = ClientStats::default();
    let mut stop = ctx.stop.clone();
    loop {
        tokio::select! {
            event = events.recv() => match event_or_end(sidecar, event, "media") {
                Ok(Event::Frames { samples, .. }) => {
                    for (frame, capture_us, received_us, shown_us) in samples {
                        receiver.video.show(received_us, shown_us, Some(capture_us), Some(frame));
                    }
                }
                Ok(Event::Stats { stats, .. }) => played.stats = Some(stats),
                Ok(_) => {}
                Err(f) => {
                    if receiver.video.first_frame_ms.is_some() {
                        played.drops += 1;
                        let drop = crate::record::Reconnects { drops: 1, ..Default::default() };
                        ctx.live.reconnect(&ctx.group, receiver.role, drop);
                    }
                    played.failure = Some(f);
                    break;
                }
            },
            _ = tokio::time::sleep_until(tick.into()) => {
                record_interval(ctx, receiver, tick, played.stats.as_ref(), &mut last);
                tick += interval;
            }
            _ = tokio::time::sleep_until(until.into()) => break,
            _ = stop.changed() => break,
        }
    }
    leave(sidecar, id, &mut events).await;
    played
}

/// Closes a measurement interval for a sidecar's viewer: its frames, and from the client's
/// counters the bytes, jitter and loss of the interval.
fn record_interval(
    ctx: &Ctx,
    receiver: &mut Receiver,
    at: Instant,
    stats: Option<&ClientStats>,
    last: &mut ClientStats,
) {
    let boundary: Micros = ctx.clock.micros_of(at);
    let now = stats.cloned().unwrap_or_default();
    let delta = |a: Option<u64>, b: Option<u64>| a.unwrap_or(0).saturating_sub(b.unwrap_or(0));
    let bytes = delta(now.bytes_received, last.bytes_received);
    receiver
        .video
        .on_reported_interval(boundary, ctx.interval_us, bytes, now.jitter_ms);
    let received = delta(now.packets_received, last.packets_received);
    let lost = now
        .packets_lost
        .unwrap_or(0)
        .saturating_sub(last.packets_lost.unwrap_or(0))
        .max(0) as u64;
    let mut samples = receiver.drain_samples();
    if let Some(pct) = loss_pct(received, lost) {
        samples.push(Sample {
            metric: Metric::PacketLossPct,
            at: boundary.saturating_sub(1),
            value: pct,
        });
    }
    if let Ok(mut rec) = ctx.recorder.lock() {
        rec.record_all(samples);
    }
    *last = now;
}

/// Publishes through the sidecar (a vendor SDK publishing its own source) until `until`.
pub(super) async fn publish(
    ctx: &Ctx,
    sidecar: &SidecarUse,
    id: &str,
    room: &str,
    config: &SenderConfig,
    until: Instant,
) -> Option<SessionFailure> {
    let mut events = sidecar.process.open(id);
    if let Err(f) = join(ctx, sidecar, id, room, &mut events).await {
        leave(sidecar, id, &mut events).await;
        return Some(f);
    }
    let command = Command::Publish {
        id: id.to_string(),
        video: VideoSpec {
            width: config.width as u32,
            height: config.height as u32,
            fps: config.fps,
            bitrate_kbps: config.video_bitrate_bps / 1000,
            seed: config.seed,
        },
        audio: config.audio_bitrate_bps.is_some(),
    };
    let published = async {
        send(sidecar, &command).await?;
        expect(
            sidecar,
            &mut events,
            "publish",
            ctx.provider.step_timeout(),
            |e| matches!(e, Event::Published { .. }),
        )
        .await
    };
    let mut outcome = published.await.err();
    if outcome.is_none() {
        let mut stop = ctx.stop.clone();
        loop {
            tokio::select! {
                event = events.recv() => if let Err(f) = event_or_end(sidecar, event, "media") {
                    outcome = Some(f);
                    break;
                },
                _ = tokio::time::sleep_until(until.into()) => break,
                _ = stop.changed() => break,
            }
        }
    }
    leave(sidecar, id, &mut events).await;
    outcome
}

/// Lost packets as a share of those expected; `None` with nothing expected.
fn loss_pct(received: u64, lost: u64) -> Option<f64> {
    (received + lost > 0).then(|| lost as f64 * 100.0 / (received + lost) as f64)
}

/// A session summary's loss and jitter from the client's own counters.
pub(super) fn apply_stats(s: &mut crate::media::receiver::ReceiverSummary, stats: &ClientStats) {
    let received = stats.packets_received.unwrap_or(0);
    let lost = stats.packets_lost.unwrap_or(0).max(0) as u64;
    s.packets_received = received;
    s.packets_lost = lost;
    s.packets_expected = received + lost;
    s.packet_loss_pct = loss_pct(received, lost).unwrap_or(0.0);
    if let Some(j) = stats.jitter_ms {
        s.jitter_ms = j;
    }
    s.client_frames_decoded = stats.frames_decoded;
    s.client_frames_dropped = stats.frames_dropped;
}
