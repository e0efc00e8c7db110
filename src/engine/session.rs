//! One publisher's or viewer's session over WebRTC: it dials at its planned instant and runs to
//! its end; when its connection is lost it comes back as an SDK would (a rejoin on a new socket,
//! with backoff), while the same sender or receiver keeps measuring across connections and the
//! same impairment layer stands for the client's network throughout.

use super::published::Published;
pub(super) use super::rejoin::back_off;
use super::rejoin::tally;
use super::webrtc::{drive, signal, Ctx, SideNetwork, Signalled};
use crate::base::Micros;
use crate::base::WallClock;
use crate::client::driver::{PeerExit, Ticker};
use crate::client::native::Role as PeerRole;
use crate::client::peer::Peer;
use crate::media::codec::OpusDecoder;
use crate::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, ReceiverSummary, Reconnects, Role, SessionFailure,
    VideoReceiver,
};
use crate::media::sender::{MediaSender, SenderConfig, SenderStats};
use crate::metrics::{Metric, Sample};
use crate::net::impair::{ImpairSpec, Impairment, Realised, RealisedSink};
use crate::net::kernel::ClientNet;
use crate::plan::ReceiverPlan;
use crate::provider::Step;
use std::time::{Duration, Instant};

/// How long before its planned instant a session builds its encoder or decoders.
pub(super) const PREPARE_LEAD_US: Micros = 500_000;

pub(super) async fn sleep_until_micros(clock: WallClock, at: Micros) {
    tokio::time::sleep_until(clock.instant_of(at).into()).await;
}

/// Notes how late the generator started a planned join; returns the actual start.
pub(super) fn record_slip(ctx: &Ctx, planned: Micros) -> Micros {
    let now = ctx.clock.now();
    if let Ok(mut rec) = ctx.recorder.lock() {
        rec.record(Sample {
            metric: Metric::ScheduleSlipMs,
            at: now,
            value: now.saturating_sub(planned) as f64 / 1000.0,
        });
    }
    now
}

pub(super) fn tag(mut f: SessionFailure, id: &str) -> SessionFailure {
    f.reason = format!("{id}: {}", f.reason);
    f
}

fn exit_failure(peer: &dyn Peer, exit: &PeerExit) -> Option<SessionFailure> {
    match exit {
        PeerExit::Failed(e) => Some(Step::Connect.failed(e.to_string())),
        PeerExit::Io(e) => Some(Step::Connect.failed(format!("socket: {e}"))),
        _ if peer.connected_at().is_none() => {
            Some(Step::Connect.failed("ICE/DTLS had not connected when the run ended"))
        }
        PeerExit::Finished | PeerExit::Closed | PeerExit::Silent => None,
    }
}

/// A client's network for one session: its impairment layer (which outlives connections, as
/// a network outlives a session that rejoins) or its namespace on the kernel path.
struct ClientNetwork {
    layer: Option<Impairment>,
    namespace: Option<ClientNet>,
    realised: RealisedSink,
    /// When the downlink's schedule changes it (on the run's clock).
    changes: Vec<Micros>,
}

impl ClientNetwork {
    /// The network of a client of `side` starting now, with the faults that blackhole its media
    /// path as outages; and the windows (on the run's clock) after which its recovery is timed.
    fn open(
        ctx: &Ctx,
        side: &SideNetwork,
        seed: u64,
    ) -> Result<(Self, Vec<(Micros, Micros)>), SessionFailure> {
        let now = Instant::now();
        let now_us = ctx.clock.micros_of(now);
        let since_now = |us: Micros| Duration::from_micros(us.saturating_sub(now_us));
        let blackholes: Vec<(Duration, Duration)> = ctx
            .blackholes
            .iter()
            .filter(|&&(_, end)| end > now_us)
            .map(|&(start, end)| (since_now(start), since_now(end)))
            .collect();
        // Schedules count from the group's start, the layer from now.
        let elapsed = Duration::from_micros(now_us.saturating_sub(ctx.network_origin));
        let with_blackholes = |spec: &ImpairSpec| {
            let mut spec = spec.started_after(elapsed);
            spec.outages.extend(blackholes.iter().copied());
            spec
        };
        let layer = Impairment::new(
            &with_blackholes(&side.down),
            &with_blackholes(&side.up),
            seed,
            now,
        )
        .map(|i| i.report_to(side.realised.clone()));
        let at = |d: &Duration| now_us + d.as_micros() as u64;
        let mut windows = ctx.media_stops.clone();
        windows.extend(
            side.down
                .outages
                .iter()
                .chain(&side.up.outages)
                .map(|(from, to)| (at(from), at(to))),
        );
        let namespace = match (&side.kernel, &ctx.kernel) {
            (Some((down, up)), Some(k)) => Some(
                k.client(down, up)
                    .map_err(|e| Step::Offer.failed(e.to_string()))?,
            ),
            _ => None,
        };
        let changes = side
            .down
            .phases
            .iter()
            .map(|(from, _)| ctx.network_origin + from.as_micros() as u64)
            .collect();
        let network = Self {
            layer,
            namespace,
            realised: side.realised.clone(),
            changes,
        };
        Ok((network, windows))
    }

    /// Adds what the layer or the kernel did to the side's sink; removes the namespace.
    fn finish(self, ctx: &Ctx) {
        if let Some(l) = &self.layer {
            l.finish();
        }
        let (Some(c), Some(k)) = (self.namespace, &ctx.kernel) else {
            return;
        };
        let (down, up) = k.realised(&c);
        if let Ok(mut r) = self.realised.lock() {
            r.add(&Realised {
                down,
                up,
                ..Realised::default()
            });
        }
        k.release(c);
    }
}

/// How a session's connections went.
#[derive(Default)]
struct Connections {
    reconnects: Reconnects,
    /// Why it never connected, if it did not.
    join_failure: Option<SessionFailure>,
    /// Whether signalling ever succeeded (the session counted as up in the live view).
    went_up: bool,
}

/// Connects `role` into `room` and runs it until `until`; a lost connection is rejoined as
/// `ctx.reconnect` says. Gives the role back (unless a peer could not even be built).
async fn run_connections(
    ctx: &Ctx,
    room: &str,
    mut role: PeerRole,
    until: Instant,
    network: &mut ClientNetwork,
    ticker: impl Fn() -> Option<Ticker>,
    on_up: impl Fn(),
) -> (Option<PeerRole>, Connections) {
    let policy = &ctx.reconnect;
    let mut out = Connections::default();
    let mut ever_connected = false;
    let mut tries_left = policy.attempts;
    let mut wait = policy.backoff.0;
    loop {
        let attempt = match signal(ctx, room, role, network.namespace.as_ref()).await {
            Ok(signalled) => signalled,
            Err((f, back)) => {
                let Some(back) = back else {
                    out.join_failure = (!ever_connected).then_some(f);
                    return (None, out);
                };
                role = back;
                if !ever_connected {
                    out.join_failure = Some(f);
                    return (Some(role), out);
                }
                tally(ctx, &role, &mut out.reconnects, |r| r.rejoin_failures += 1);
                if !back_off(ctx, &mut tries_left, &mut wait, until).await {
                    return (Some(role), out);
                }
                continue;
            }
        };
        let Signalled {
            peer,
            socket,
            mut held,
        } = attempt;
        if !out.went_up {
            out.went_up = true;
            on_up();
        }
        let (peer, exit) = drive(
            ctx,
            peer,
            socket,
            held.as_mut(),
            ticker(),
            until,
            network.layer.as_mut(),
        )
        .await;
        held.leave().await;
        let connected = peer.connected_at().is_some();
        let why = exit_failure(peer.as_ref(), &exit);
        role = peer.into_role();
        if connected {
            if ever_connected {
                tally(ctx, &role, &mut out.reconnects, |r| r.rejoins += 1);
            }
            ever_connected = true;
            tries_left = policy.attempts;
            wait = policy.backoff.0;
        }
        match (exit, connected, ever_connected) {
            (_, false, false) => {
                out.join_failure = why;
                return (Some(role), out);
            }
            (PeerExit::Finished, ..) => return (Some(role), out),
            (_, false, true) => tally(ctx, &role, &mut out.reconnects, |r| r.rejoin_failures += 1),
            (_, true, _) => tally(ctx, &role, &mut out.reconnects, |r| r.drops += 1),
        }
        match &mut role {
            PeerRole::Subscribe(r) => r.on_reconnect(),
            PeerRole::Publish(s) => s.on_reconnect(ctx.clock.now()),
        }
        if !back_off(ctx, &mut tries_left, &mut wait, until).await {
            return (Some(role), out);
        }
    }
}

/// Where and when a publisher publishes, and who waits for it.
pub(super) struct Publication {
    pub(super) id: String,
    pub(super) config: SenderConfig,
    pub(super) room: String,
    pub(super) dial_at: Micros,
    pub(super) until: Instant,
    /// Marked when the provider has taken the stream (the viewers waiting on it then dial).
    pub(super) published: Option<Published>,
}

type PublisherOutcome = (SenderStats, Option<SessionFailure>);

/// Publishes `p.config` into `p.room` from `p.dial_at` until `p.until`; returns what it sent.
pub(super) async fn publish(ctx: Ctx, p: Publication) -> PublisherOutcome {
    counted(ctx.clone(), publish_natively(ctx, p)).await
}

/// A publisher's outcome, its failure counted in the live view as soon as it is known.
pub(super) async fn counted(
    ctx: Ctx,
    publishing: impl std::future::Future<Output = PublisherOutcome>,
) -> PublisherOutcome {
    let out = publishing.await;
    if let Some(f) = &out.1 {
        ctx.live.publish_failed(&ctx.group, &f.step);
    }
    out
}

async fn publish_natively(ctx: Ctx, p: Publication) -> PublisherOutcome {
    let Publication {
        id,
        config,
        room,
        dial_at,
        until,
        published,
    } = p;
    if let Some(sidecar) = ctx.provider.sidecar().filter(|s| s.publishes) {
        // The sidecar's client makes its own stream: no encoder here.
        sleep_until_micros(ctx.clock, dial_at).await;
        record_slip(&ctx, dial_at);
        // A call side publishes and plays under one plan id; the sidecar needs two sessions.
        let session = format!("{id}/publish");
        let f = super::sidecar::publish(&ctx, sidecar, &session, &room, &config, until).await;
        return (SenderStats::default(), f.map(|f| tag(f, &id)));
    }
    // The encoder is made just before the planned instant: rtcbench's own set-up must not make
    // every session planned for the same instant start late.
    sleep_until_micros(ctx.clock, dial_at.saturating_sub(PREPARE_LEAD_US)).await;
    let seed = config.seed;
    let sender = MediaSender::new(config, dial_at);
    sleep_until_micros(ctx.clock, dial_at).await;
    record_slip(&ctx, dial_at);
    let sender = match sender {
        Ok(s) => s,
        Err(e) => {
            let f = Step::Offer.failed(e.to_string());
            return (SenderStats::default(), Some(tag(f, &id)));
        }
    };
    let mut network = match ClientNetwork::open(&ctx, &ctx.publishers, seed) {
        Ok((n, _)) => n,
        Err(f) => return (SenderStats::default(), Some(tag(f, &id))),
    };
    let role = PeerRole::Publish(Box::new(sender));
    let on_published = || {
        if let Some(p) = &published {
            p.mark(ctx.clock.now());
        }
    };
    let (role, connections) = run_connections(
        &ctx,
        &room,
        role,
        until,
        &mut network,
        || None,
        on_published,
    )
    .await;
    network.finish(&ctx);
    if let Ok(mut r) = ctx.publisher_reconnects.lock() {
        r.add(&connections.reconnects);
    }
    let stats = match role {
        Some(PeerRole::Publish(s)) => s.stats,
        _ => SenderStats::default(),
    };
    (stats, connections.join_failure.map(|f| tag(f, &id)))
}

pub(super) struct Watch {
    pub(super) plan: ReceiverPlan,
    pub(super) room: String,
    pub(super) dial_at: Micros,
    pub(super) reference: SenderConfig,
    /// When this viewer leaves, if before the end of the run.
    pub(super) leave_at: Option<Micros>,
    /// Played by the provider's sidecar client instead of the native one.
    pub(super) via_sidecar: bool,
    /// The watched publisher's publication, when ours: the viewer dials once it is published.
    pub(super) publisher: Option<Published>,
}

/// Waits (from the planned instant, up to the provider's step timeout) for the watched
/// publisher to be published; returns the instant the viewer's own times count from: the
/// later of its planned instant and the publication, so the provider's publish time is not
/// counted against the viewer (docs/measurement.md).
pub(super) async fn wait_for_publisher(ctx: &Ctx, w: &Watch) -> Micros {
    let Some(publisher) = &w.publisher else {
        return w.dial_at;
    };
    let deadline = (ctx.clock.instant_of(w.dial_at) + ctx.provider.step_timeout()).min(ctx.until);
    match publisher.wait(deadline, ctx.stop.clone()).await {
        Some(at) => at.max(w.dial_at),
        None => w.dial_at,
    }
}

/// Closes the group's measurement intervals from the next boundary after now.
fn interval_ticker(ctx: &Ctx) -> Ticker {
    let recorder = ctx.recorder.clone();
    let (interval_us, clock) = (ctx.interval_us, ctx.clock);
    Ticker {
        next: ctx.next_interval(),
        every: Duration::from_micros(interval_us),
        on_tick: Box::new(move |peer: &mut dyn Peer, at: Instant| {
            if let Some(r) = peer.receiver_mut() {
                let boundary = clock.micros_of(at);
                r.on_interval(boundary, interval_us);
                let samples = r.drain_samples();
                if let Ok(mut rec) = recorder.lock() {
                    rec.record_all(samples);
                }
            }
        }),
    }
}

/// Subscribes to `room` from `dial_at`; feeds the group's recorder; returns the session summary.
pub(super) async fn subscribe(ctx: Ctx, w: Watch) -> ReceiverSummary {
    let s = viewer_session(&ctx, &w).await;
    ctx.live.settled(&s);
    s
}

async fn viewer_session(ctx: &Ctx, w: &Watch) -> ReceiverSummary {
    // Decoders are made just before the planned instant, as the publisher's encoder is.
    sleep_until_micros(ctx.clock, w.dial_at.saturating_sub(PREPARE_LEAD_US)).await;
    // A sidecar's client decodes for itself: its viewers only report frames.
    let decodes = w.plan.role == Role::Probe && !w.via_sidecar;
    let probe = decodes.then(|| QualityProbe::of(&w.reference));
    let opus = decodes.then(OpusDecoder::new).and_then(Result::ok);
    sleep_until_micros(ctx.clock, w.dial_at).await;
    let counted_from = wait_for_publisher(ctx, w).await;
    let whep_at = record_slip(ctx, counted_from);
    let dialled = Dialled {
        whep: whep_at,
        counted_from,
    };
    let probe = match probe {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return blank(ctx, w, dialled, Step::Offer.failed(e.to_string())),
        None => None,
    };
    let receiver = Receiver::new(
        w.plan.id.clone(),
        w.plan.role,
        whep_at,
        VideoReceiver::new(whep_at, probe),
        AudioReceiver::new(opus),
    );
    let receiver = match w.reference.audio_bitrate_bps {
        Some(_) => receiver,
        None => receiver.expect_no_audio(),
    };
    let until = w
        .leave_at
        .map_or(ctx.until, |l| ctx.clock.instant_of(l).min(ctx.until));
    match ctx.provider.sidecar().filter(|_| w.via_sidecar) {
        Some(sidecar) => watch_in_sidecar(ctx, w, sidecar, receiver, dialled, until).await,
        None => watch_natively(ctx, w, receiver, dialled, until).await,
    }
}

/// When a viewer dialled, and the instant its connect time counts from (its planned instant,
/// or its publisher's publication if that came later).
#[derive(Clone, Copy)]
struct Dialled {
    whep: Micros,
    counted_from: Micros,
}

/// The summary of a viewer that never got a receiver going.
fn blank(ctx: &Ctx, w: &Watch, dialled: Dialled, f: SessionFailure) -> ReceiverSummary {
    let receiver = Receiver::new(
        w.plan.id.clone(),
        w.plan.role,
        dialled.whep,
        VideoReceiver::new(dialled.whep, None),
        AudioReceiver::new(None),
    );
    let mut s = receiver.summary(&ctx.group, ctx.clock.now());
    s.joined = false;
    s.joined_within_5s = false;
    s.failure = Some(f);
    s.planned_join_s = Some(w.dial_at.saturating_sub(ctx.run_start) as f64 / 1e6);
    s
}

/// A viewer played by the provider's sidecar client.
async fn watch_in_sidecar(
    ctx: &Ctx,
    w: &Watch,
    sidecar: &crate::provider::SidecarUse,
    mut receiver: Receiver,
    dialled: Dialled,
    until: Instant,
) -> ReceiverSummary {
    let played =
        super::sidecar::watch(ctx, sidecar, &w.plan.id, &w.room, &mut receiver, until).await;
    let mut s = receiver.summary(&ctx.group, ctx.clock.now());
    s.client = sidecar.process.identity.client.clone();
    if let Some(stats) = &played.stats {
        super::sidecar::apply_stats(&mut s, stats);
    }
    s.reconnects.drops = played.drops;
    finish(ctx, w, s, &mut receiver, dialled, played.failure)
}

/// A viewer on our native client, through its network, rejoining as the scenario says.
async fn watch_natively(
    ctx: &Ctx,
    w: &Watch,
    mut receiver: Receiver,
    dialled: Dialled,
    until: Instant,
) -> ReceiverSummary {
    let mut network = match ClientNetwork::open(ctx, &ctx.viewers, w.plan.link_seed) {
        Ok((n, windows)) => {
            receiver.watch_recovery(windows);
            // An ask made as the viewer joins picks where it starts; later ones are switches.
            let joined = ctx.clock.now();
            let mut changes = n.changes.clone();
            let asks = ctx.layer_asks.iter().map(|&(at, _)| at);
            changes.extend(asks.filter(|&at| at > joined));
            changes.sort_unstable();
            receiver.video.layers.watch_changes(changes);
            n
        }
        Err(f) => return blank(ctx, w, dialled, f),
    };
    let role = PeerRole::Subscribe(Box::new(receiver));
    let (role, connections) = run_connections(
        ctx,
        &w.room,
        role,
        until,
        &mut network,
        || Some(interval_ticker(ctx)),
        || ctx.live.session_up(&ctx.group, w.plan.role, &w.plan.id),
    )
    .await;
    network.finish(ctx);
    let Some(PeerRole::Subscribe(mut receiver)) = role else {
        let f = connections
            .join_failure
            .unwrap_or_else(|| Step::Connect.failed("no receiver"));
        return blank(ctx, w, dialled, f);
    };
    let mut s = receiver.summary(&ctx.group, ctx.clock.now());
    s.reconnects = connections.reconnects;
    finish(ctx, w, s, &mut receiver, dialled, connections.join_failure)
}

/// A negotiated track that carried nothing fails the session: its loss, gaps and freezes
/// would otherwise read as perfect.
fn silent_track_failure(silent: &[String]) -> Option<SessionFailure> {
    (!silent.is_empty()).then(|| {
        Step::Media.failed(format!(
            "{} track negotiated but no packet arrived in {} s of being connected",
            silent.join(" and "),
            crate::media::receiver::silence::SILENT_TRACK_AFTER_US / 1_000_000
        ))
    })
}

/// Records a viewer's remaining samples and connect time, and settles whether it joined.
fn finish(
    ctx: &Ctx,
    w: &Watch,
    mut s: ReceiverSummary,
    receiver: &mut Receiver,
    dialled: Dialled,
    join_failure: Option<SessionFailure>,
) -> ReceiverSummary {
    let end = ctx.clock.now();
    let samples = receiver.drain_samples();
    s.planned_join_s = Some(w.dial_at.saturating_sub(ctx.run_start) as f64 / 1e6);
    s.left_s = Some(end.saturating_sub(ctx.run_start) as f64 / 1e6);
    s.layers = receiver.video.layers.summary(ctx.run_start);
    s.connect_ms = s
        .first_frame_ms
        .map(|ms| ms + dialled.whep.saturating_sub(dialled.counted_from) as f64 / 1000.0);
    if let Ok(mut rec) = ctx.recorder.lock() {
        rec.record_all(samples);
        if let Some(ms) = s.connect_ms {
            rec.record(Sample {
                metric: Metric::ConnectMs,
                at: end,
                value: ms,
            });
        }
    }
    // A failure after frames were shown (a sidecar's client giving up) is kept, but the
    // session had joined; before any frame it is a failed join.
    if let Some(f) = join_failure {
        if !s.joined {
            s.joined_within_5s = false;
        }
        s.failure = Some(f);
    } else if let Some(silent) = silent_track_failure(&s.silent_tracks) {
        s.joined = false;
        s.joined_within_5s = false;
        s.failure = Some(silent);
    } else if !s.joined {
        s.failure = Some(Step::Connect.failed("connected but no video frame was rendered"));
    }
    if s.connect_ms.is_some_and(|ms| ms > 5_000.0) {
        s.joined_within_5s = false;
    }
    s
}
