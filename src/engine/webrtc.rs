//! Stream groups over real WebRTC: every publisher and subscriber is a native peer on its own
//! UDP socket, signalling through the provider's WHIP/WHEP endpoints. Joins happen at their
//! planned instants (open model), and a failed step is recorded for that session only.

use super::clock::WallClock;
use super::ice;
use super::live::Live;
use super::room::GroupOutcome;
use crate::client::driver::{self, Hooks, PeerExit, Ticker};
use crate::client::native::{IcePolicy, NativePeer, Role as PeerRole};
use crate::media::codec::OpusDecoder;
use crate::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, ReceiverSummary, Role, SenderClock, SessionFailure,
    VideoReceiver,
};
use crate::media::sender::{MediaSender, SenderConfig, SenderStats};
use crate::media::source::VideoSource;
use crate::media::Micros;
use crate::metrics::{Metric, Recorder, Sample};
use crate::net::impair::{ImpairSpec, Impairment, RealisedSink};
use crate::plan::{room_name, GroupPlan, ReceiverPlan};
use crate::provider::whip_whep::{self, Step};
use crate::provider::Endpoints;
use crate::scenario::GroupKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Everything a session task needs, shared by the group.
#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) endpoints: Endpoints,
    pub(super) http: reqwest::Client,
    pub(super) clock: WallClock,
    pub(super) until: Instant,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) recorder: Arc<Mutex<Recorder>>,
    pub(super) run_start: Micros,
    pub(super) interval_us: u64,
    pub(super) group: String,
    pub(super) notes: ice::Notes,
    pub(super) live: Arc<Live>,
    /// What viewers' networks do to their traffic (down: to the viewer).
    pub(super) down: ImpairSpec,
    pub(super) up: ImpairSpec,
    /// The realised impairment, summed over viewers.
    pub(super) realised: RealisedSink,
    /// What publishers' networks do to what they send, and what that came to.
    pub(super) publisher_up: ImpairSpec,
    pub(super) publisher_realised: RealisedSink,
}

fn failure(step: Step, reason: impl Into<String>) -> SessionFailure {
    SessionFailure {
        step: step.to_string(),
        reason: reason.into(),
    }
}

/// The local address a peer should use to reach the provider's signalling host.
fn local_ip_for(url: &str) -> IpAddr {
    let host = reqwest::Url::parse(url).ok().and_then(|u| {
        let port = u.port_or_known_default().unwrap_or(443);
        u.host_str()
            .map(|h| format!("{}:{port}", h.trim_start_matches('[').trim_end_matches(']')))
    });
    let probe = || -> Option<IpAddr> {
        let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&host.clone()?)
            .ok()?
            .next()?;
        let any = if target.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::from([0u16; 8])
        };
        let socket = StdUdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
        socket.connect(target).ok()?;
        Some(socket.local_addr().ok()?.ip())
    };
    probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// How long before its planned instant a session builds its encoder or decoders.
const PREPARE_LEAD_US: Micros = 500_000;

async fn sleep_until_micros(clock: WallClock, at: Micros) {
    tokio::time::sleep_until(clock.instant_of(at).into()).await;
}

/// Publishes `config` into `room` from `dial_at` until `until`; returns what it sent.
pub(super) async fn publish(
    ctx: Ctx,
    id: String,
    config: SenderConfig,
    room: String,
    dial_at: Micros,
    until: Instant,
) -> (SenderStats, Option<SessionFailure>) {
    // The encoder is made just before the planned instant: rtcbench's own set-up must not make
    // every session planned for the same instant start late.
    sleep_until_micros(ctx.clock, dial_at.saturating_sub(PREPARE_LEAD_US)).await;
    let config_seed = config.seed;
    let sender = MediaSender::new(config, dial_at);
    sleep_until_micros(ctx.clock, dial_at).await;
    record_slip(&ctx, dial_at);
    let url = ctx.endpoints.whip(&room);
    let result = async {
        let sender = sender.map_err(|e| failure(Step::Offer, e.to_string()))?;
        let (peer, socket, resource) =
            signal(&ctx, &url, PeerRole::Publish(Box::new(sender))).await?;
        let impairment = Impairment::new(
            &ImpairSpec::default(),
            &ctx.publisher_up,
            config_seed,
            Instant::now(),
        )
        .map(|i| i.report_to(ctx.publisher_realised.clone()));
        let (peer, exit) = drive(&ctx, peer, socket, &resource, None, until, impairment).await;
        leave(&ctx, resource.url.as_deref()).await;
        let stats = peer.sender().map(|s| s.stats).unwrap_or_default();
        Ok::<_, SessionFailure>((stats, exit_failure(&peer, exit)))
    }
    .await;
    match result {
        Ok((stats, failure)) => (stats, failure.map(|f| tag(f, &id))),
        Err(f) => (SenderStats::default(), Some(tag(f, &id))),
    }
}

/// Notes how late the generator started a planned join; returns the actual start.
fn record_slip(ctx: &Ctx, planned: Micros) -> Micros {
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

fn tag(mut f: SessionFailure, id: &str) -> SessionFailure {
    f.reason = format!("{id}: {}", f.reason);
    f
}

fn exit_failure(peer: &NativePeer, exit: PeerExit) -> Option<SessionFailure> {
    match exit {
        PeerExit::Failed(e) => Some(failure(Step::Connect, e.to_string())),
        PeerExit::Io(e) => Some(failure(Step::Connect, format!("socket: {e}"))),
        _ if peer.connected_at.is_none() => Some(failure(
            Step::Connect,
            "ICE/DTLS had not connected when the run ended",
        )),
        PeerExit::Finished | PeerExit::Closed => None,
    }
}

/// Opens a socket, offers over WHIP/WHEP at `url` and applies the answer.
async fn signal(
    ctx: &Ctx,
    url: &str,
    role: PeerRole,
) -> Result<(NativePeer, tokio::net::UdpSocket, whip_whep::Resource), SessionFailure> {
    let socket = driver::bind(local_ip_for(url))
        .await
        .map_err(|e| failure(Step::Offer, format!("UDP socket: {e}")))?;
    let local = socket
        .local_addr()
        .map_err(|e| failure(Step::Offer, e.to_string()))?;
    let policy = ctx.endpoints.ice_policy;
    let mut peer = NativePeer::with_policy(role, local, ctx.clock, Instant::now(), policy)
        .map_err(|e| failure(Step::Offer, e.to_string()))?;
    let offer = peer
        .create_offer()
        .map_err(|e| failure(Step::Offer, e.to_string()))?;
    let resource = whip_whep::offer(
        &ctx.http,
        url,
        offer,
        ctx.endpoints.bearer.as_deref(),
        ctx.endpoints.step_timeout,
    )
    .await
    .map_err(|e| failure(e.step, e.reason))?;
    peer.accept_answer(&resource.answer)
        .map_err(|e| failure(Step::Answer, e.to_string()))?;
    let servers = ice::resolve(&resource, ctx.endpoints.step_timeout, &ctx.notes).await;
    if policy == IcePolicy::Relay && !servers.iter().any(|s| s.server.credential.is_some()) {
        return Err(failure(
            Step::Connect,
            "ice_transport_policy is \"relay\" but the provider named no TURN server",
        ));
    }
    peer.use_ice_servers(servers, &resource.answer);
    peer.set_connect_timeout(Instant::now(), ctx.endpoints.step_timeout);
    Ok((peer, socket, resource))
}

/// Runs a signalled peer to the end, trickling what its ICE servers give.
async fn drive(
    ctx: &Ctx,
    peer: NativePeer,
    socket: tokio::net::UdpSocket,
    resource: &whip_whep::Resource,
    ticker: Option<Ticker>,
    until: Instant,
    impairment: Option<Impairment>,
) -> (NativePeer, PeerExit) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let trickling = tokio::spawn(ice::trickle_outcomes(
        rx,
        ctx.http.clone(),
        ctx.endpoints.clone(),
        resource.clone(),
        ctx.notes.clone(),
    ));
    let hooks = Hooks {
        ticker,
        ice_servers: Some(tx),
        impairment,
    };
    let (peer, exit) = driver::run_with(peer, socket, until, ctx.stop.clone(), hooks).await;
    // The sender went with the driver; the last PATCH has its own timeout.
    let _ = tokio::time::timeout(ctx.endpoints.step_timeout, trickling).await;
    for outcome in peer.unfinished_ice_servers() {
        if let crate::client::native::IceServerOutcome::Failed { server, reason } = outcome {
            ice::note(&ctx.notes, format!("{server}: {reason}"));
        }
    }
    (peer, exit)
}

async fn leave(ctx: &Ctx, resource: Option<&str>) {
    if let Some(url) = resource {
        // Leaving is best effort: the measurement is over, and servers expire sessions anyway.
        let _ = whip_whep::leave(
            &ctx.http,
            url,
            ctx.endpoints.bearer.as_deref(),
            ctx.endpoints.step_timeout,
        )
        .await;
    }
}

pub(super) struct Watch {
    pub(super) plan: ReceiverPlan,
    pub(super) room: String,
    pub(super) dial_at: Micros,
    pub(super) reference: SenderConfig,
    /// When the watched publisher started (its audio RTP time counts from there), if ours.
    pub(super) publisher_start: Option<Micros>,
    /// When this viewer leaves, if before the end of the run.
    pub(super) leave_at: Option<Micros>,
}

/// Subscribes to `room` from `dial_at`; feeds the group's recorder; returns the session summary.
pub(super) async fn subscribe(ctx: Ctx, w: Watch) -> ReceiverSummary {
    // Decoders are made just before the planned instant, as the publisher's encoder is.
    sleep_until_micros(ctx.clock, w.dial_at.saturating_sub(PREPARE_LEAD_US)).await;
    let probe = match w.plan.role {
        Role::Probe => Some(QualityProbe::new(VideoSource::new(
            w.reference.seed,
            w.reference.width,
            w.reference.height,
        ))),
        Role::Light => None,
    };
    let opus = if w.plan.role == Role::Probe {
        OpusDecoder::new().ok()
    } else {
        None
    };
    sleep_until_micros(ctx.clock, w.dial_at).await;
    let url = ctx.endpoints.whep(&w.room);
    let whep_at = record_slip(&ctx, w.dial_at);
    let planned_join_s = w.dial_at.saturating_sub(ctx.run_start) as f64 / 1e6;
    let blank = |f: SessionFailure| {
        let receiver = Receiver::new(
            w.plan.id.clone(),
            w.plan.role,
            whep_at,
            VideoReceiver::new(whep_at, None),
            AudioReceiver::new(None, None),
        );
        let mut s = receiver.summary(&ctx.group, ctx.clock.now());
        s.joined = false;
        s.joined_within_5s = false;
        s.failure = Some(f);
        s.planned_join_s = Some(planned_join_s);
        s
    };
    let probe = match probe {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return blank(failure(Step::Offer, e.to_string())),
        None => None,
    };
    // Our publisher's audio RTP time starts at zero at its dial instant.
    let audio_clock = w.publisher_start.map(|capture_us| SenderClock {
        rtp_timestamp: 0,
        capture_us,
    });
    let receiver = Receiver::new(
        w.plan.id.clone(),
        w.plan.role,
        whep_at,
        VideoReceiver::new(whep_at, probe),
        AudioReceiver::new(audio_clock, opus),
    );
    let setup = signal(&ctx, &url, PeerRole::Subscribe(Box::new(receiver)));
    let (peer, socket, resource) = match setup.await {
        Ok(v) => v,
        Err(f) => {
            ctx.live.failure(&ctx.group);
            return blank(f);
        }
    };
    ctx.live.session_up();
    let recorder = ctx.recorder.clone();
    let (run_start, interval_us, clock) = (ctx.run_start, ctx.interval_us, ctx.clock);
    let first_boundary =
        run_start + (whep_at.saturating_sub(run_start) / interval_us + 1) * interval_us;
    let ticker = Ticker {
        next: clock.instant_of(first_boundary),
        every: Duration::from_micros(interval_us),
        on_tick: Box::new(move |peer: &mut NativePeer, at: Instant| {
            if let Some(r) = peer.receiver_mut() {
                let boundary = clock.micros_of(at);
                r.on_interval(boundary, interval_us);
                let samples = r.drain_samples();
                if let Ok(mut rec) = recorder.lock() {
                    rec.record_all(samples);
                }
            }
        }),
    };
    let until = w
        .leave_at
        .map_or(ctx.until, |l| ctx.clock.instant_of(l).min(ctx.until));
    let impairment = Impairment::new(&ctx.down, &ctx.up, w.plan.link_seed, Instant::now())
        .map(|i| i.report_to(ctx.realised.clone()));
    let (mut peer, exit) = drive(
        &ctx,
        peer,
        socket,
        &resource,
        Some(ticker),
        until,
        impairment,
    )
    .await;
    ctx.live.session_down();
    leave(&ctx, resource.url.as_deref()).await;
    let end = ctx.clock.now();
    let fail = exit_failure(&peer, exit);
    let Some(receiver) = peer.receiver_mut() else {
        return blank(failure(Step::Connect, "no receiver"));
    };
    let samples = receiver.drain_samples();
    let mut s = receiver.summary(&ctx.group, end);
    s.planned_join_s = Some(planned_join_s);
    s.left_s = Some(end.saturating_sub(ctx.run_start) as f64 / 1e6);
    s.connect_ms = s
        .first_frame_ms
        .map(|ms| ms + whep_at.saturating_sub(w.dial_at) as f64 / 1000.0);
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
    if let Some(f) = fail {
        ctx.live.failure(&ctx.group);
        s.joined = false;
        s.joined_within_5s = false;
        s.failure = Some(f);
    } else if !s.joined {
        s.failure = Some(failure(
            Step::Connect,
            "connected but no video frame was rendered",
        ));
    }
    if s.connect_ms.is_some_and(|ms| ms > 5_000.0) {
        s.joined_within_5s = false;
    }
    s
}

/// Runs one group over WebRTC through `endpoints` until its end or `stop`.
pub async fn run_group(
    plan: GroupPlan,
    endpoints: Endpoints,
    run_start: Micros,
    interval_us: u64,
    clock: WallClock,
    stop: watch::Receiver<bool>,
    live: Arc<Live>,
) -> Vec<GroupOutcome> {
    let ctx = Ctx {
        endpoints,
        http: reqwest::Client::new(),
        clock,
        until: clock.instant_of(run_start + plan.end_us),
        stop,
        recorder: Arc::new(Mutex::new(Recorder::new(run_start, interval_us))),
        run_start,
        interval_us,
        group: plan.name.clone(),
        notes: ice::Notes::default(),
        live,
        down: ImpairSpec::from(&plan.network),
        up: plan
            .network
            .uplink
            .as_deref()
            .map(ImpairSpec::from)
            .unwrap_or_default(),
        realised: Arc::default(),
        publisher_up: plan
            .publisher_network
            .as_ref()
            .map(ImpairSpec::from)
            .unwrap_or_default(),
        publisher_realised: Arc::default(),
    };
    ctx.live.watch_recorder(&ctx.group, ctx.recorder.clone());
    let t0 = run_start + plan.start_us;
    let mut publishers = Vec::new();
    let mut watchers = Vec::new();
    match plan.kind {
        GroupKind::Cohost => return super::cohost::run(ctx, &plan, t0).await,
        GroupKind::Room => {
            let room = plan.provider_room();
            if !plan.external_publisher {
                let host = format!("{}/host", plan.name);
                publishers.push(tokio::spawn(publish(
                    ctx.clone(),
                    host,
                    plan.sender.clone(),
                    room.clone(),
                    t0,
                    ctx.until,
                )));
            }
            let publisher_start = (!plan.external_publisher).then_some(t0);
            for r in &plan.receivers {
                let w = Watch {
                    plan: r.clone(),
                    room: room.clone(),
                    dial_at: t0 + r.join_us,
                    leave_at: r.leave_us.map(|l| t0 + l),
                    reference: plan.sender.clone(),
                    publisher_start,
                };
                watchers.push(tokio::spawn(subscribe(ctx.clone(), w)));
            }
        }
        GroupKind::Call => {
            for (k, (r, config)) in plan.receivers.iter().zip(&plan.call_senders).enumerate() {
                let dial_at = t0 + r.join_us;
                let mine = room_name(&plan.name, &format!("-{k}"));
                let theirs = room_name(&plan.name, &format!("-{}", k ^ 1));
                publishers.push(tokio::spawn(publish(
                    ctx.clone(),
                    r.id.clone(),
                    config.clone(),
                    mine,
                    dial_at,
                    ctx.until,
                )));
                let reference = plan.call_senders[k ^ 1].clone();
                let w = Watch {
                    plan: r.clone(),
                    room: theirs,
                    dial_at,
                    reference,
                    publisher_start: Some(dial_at),
                    leave_at: None,
                };
                watchers.push(tokio::spawn(subscribe(ctx.clone(), w)));
            }
        }
    }
    vec![gather(&ctx, &plan, publishers, watchers).await]
}

type Publishing = tokio::task::JoinHandle<(SenderStats, Option<SessionFailure>)>;
type Watching = tokio::task::JoinHandle<ReceiverSummary>;

/// Waits for a group's sessions and puts what they measured into one outcome.
pub(super) async fn gather(
    ctx: &Ctx,
    plan: &GroupPlan,
    publishers: Vec<Publishing>,
    watchers: Vec<Watching>,
) -> GroupOutcome {
    let mut sessions = Vec::new();
    for w in watchers {
        if let Ok(s) = w.await {
            sessions.push(s);
        }
    }
    let mut sender = SenderStats::default();
    let mut publisher_failures = Vec::new();
    for p in publishers {
        if let Ok((stats, failure)) = p.await {
            sender.frames_captured += stats.frames_captured;
            sender.frames_sent += stats.frames_sent;
            sender.keyframes += stats.keyframes;
            sender.keyframe_requests_honoured += stats.keyframe_requests_honoured;
            sender.video_packets += stats.video_packets;
            sender.video_bytes += stats.video_bytes;
            sender.audio_packets += stats.audio_packets;
            publisher_failures.extend(failure);
        }
    }
    let series = ctx
        .recorder
        .lock()
        .map(|r| r.series.clone())
        .unwrap_or_default();
    GroupOutcome {
        name: ctx.group.clone(),
        network_name: plan.network_name.clone(),
        network: plan.network.clone(),
        sender,
        link: ctx.realised.lock().map(|r| r.down).unwrap_or_default(),
        publisher_link: ctx
            .publisher_realised
            .lock()
            .map(|r| r.up)
            .unwrap_or_default(),
        series,
        sessions,
        publisher_failures,
        notes: ctx.notes.lock().map(|n| n.clone()).unwrap_or_default(),
    }
}
