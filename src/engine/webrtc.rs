//! Stream groups over real WebRTC: every publisher and subscriber is a native peer on its own
//! UDP socket, signalling through the provider's WHIP/WHEP endpoints. Joins happen at their
//! planned instants (open model), and a failed step is recorded for that session only.

use super::ice;
use super::live::Live;
use super::room::GroupOutcome;
use super::session::{publish, subscribe, Watch};
use crate::base::Micros;
use crate::base::WallClock;
use crate::client::driver::{self, Hooks, PeerExit, Ticker};
use crate::client::native::{IcePolicy, NativePeer, Role as PeerRole};
use crate::media::receiver::{ReceiverSummary, Reconnects, SessionFailure};
use crate::media::sender::SenderStats;
use crate::metrics::Recorder;
use crate::net::impair::{ImpairSpec, Impairment, RealisedSink};
use crate::net::kernel::{ClientNet, KernelNet, KernelShape};
use crate::net::{LinkStats, NetworkPhase};
use crate::plan::{faults, room_name, GroupPlan};
use crate::provider::janus;
use crate::provider::whip_whep::{self, Step};
use crate::provider::Endpoints;
use crate::scenario::faults::ReconnectSpec;
use crate::scenario::schema::NetworkPath;
use crate::scenario::{profiles, GroupKind, NetworkProfile};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;
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
    /// What viewers' and publishers' networks do to their traffic, and what that came to.
    pub(super) viewers: SideNetwork,
    pub(super) publishers: SideNetwork,
    /// How clients come back from a lost connection, and what came of it for publishers.
    pub(super) reconnect: ReconnectSpec,
    pub(super) publisher_reconnects: Arc<Mutex<Reconnects>>,
    /// Fault windows on the run's clock: those that drop this group's media path at its clients,
    /// and all that stop its media (recovery is timed from their ends).
    pub(super) blackholes: Vec<(Micros, Micros)>,
    pub(super) media_stops: Vec<(Micros, Micros)>,
    /// Where network schedules count from: the group's start.
    pub(super) network_origin: Micros,
    /// The namespaces of clients on the kernel network path.
    pub(super) kernel: Option<Arc<KernelNet>>,
}

impl Ctx {
    /// Whether viewer `index` of a group (None: one whose group has no sidecar share, such as
    /// a co-host's audience) plays through the provider's sidecar.
    pub(super) fn sidecar_plays(&self, index: Option<usize>) -> bool {
        self.endpoints
            .sidecar
            .as_ref()
            .is_some_and(|s| s.publishes || index.is_some_and(|i| s.plays(i)))
    }

    /// The first measurement-interval boundary after now.
    pub(super) fn next_interval(&self) -> Instant {
        let now = self.clock.now();
        let elapsed = now.saturating_sub(self.run_start);
        let next = self.run_start + (elapsed / self.interval_us + 1) * self.interval_us;
        self.clock.instant_of(next)
    }
}

/// The network of one side of a group's clients (viewers or publishers): the user-space layer's
/// spec each way, or on the kernel path the kernel's shapes; and where what it did is added.
#[derive(Clone, Default)]
pub(super) struct SideNetwork {
    /// Towards the client, and from it.
    pub(super) down: ImpairSpec,
    pub(super) up: ImpairSpec,
    /// On the kernel path (towards the client, from it); `down` and `up` are then clean.
    pub(super) kernel: Option<(KernelShape, KernelShape)>,
    pub(super) realised: RealisedSink,
}

impl SideNetwork {
    /// Viewers: the profile is what reaches them, its `uplink` what they send.
    fn viewers(p: &NetworkProfile) -> Self {
        if p.path == NetworkPath::Kernel {
            let up = p.uplink.as_deref().map(KernelShape::of).unwrap_or_default();
            return Self {
                kernel: Some((KernelShape::of(p), up)),
                ..Self::default()
            };
        }
        Self {
            down: ImpairSpec::from(p),
            up: ImpairSpec::uplink(p),
            ..Self::default()
        }
    }

    /// Publishers: the profile is what it does to what they send.
    fn publishers(p: Option<&NetworkProfile>) -> Self {
        match p {
            None => Self::default(),
            Some(p) if p.path == NetworkPath::Kernel => Self {
                kernel: Some((KernelShape::default(), KernelShape::of(p))),
                ..Self::default()
            },
            Some(p) => Self {
                up: ImpairSpec::from(p),
                ..Self::default()
            },
        }
    }

    /// The same network with a sink of its own (another group's clients on it).
    pub(super) fn counted_apart(&self) -> Self {
        Self {
            realised: RealisedSink::default(),
            ..self.clone()
        }
    }
}

pub(super) fn failure(step: Step, reason: impl Into<String>) -> SessionFailure {
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

/// A signalling attempt that failed, with the media role back when it got as far as a peer
/// (a session that rejoins keeps its sender or receiver).
pub(super) type SignalError = (SessionFailure, Option<PeerRole>);

/// A signalled peer, its socket, and what it holds at the provider until it leaves.
pub(super) struct Signalled {
    pub(super) peer: NativePeer,
    pub(super) socket: tokio::net::UdpSocket,
    pub(super) held: Held,
}

/// What a peer holds at the provider: a WHIP/WHEP resource (trickled to, deleted on leaving) or
/// a Janus session (ended on leaving).
pub(super) enum Held {
    Whip(whip_whep::Resource),
    Janus(janus::Attachment),
}

/// Opens a socket, signals the peer into `room` through the provider (WHIP to publish, WHEP to
/// play, or Janus VideoRoom) and applies the answer.
pub(super) async fn signal(
    ctx: &Ctx,
    room: &str,
    role: PeerRole,
    namespace: Option<&ClientNet>,
) -> Result<Signalled, SignalError> {
    let publishing = matches!(role, PeerRole::Publish(_));
    let url = match (&ctx.endpoints.janus, publishing) {
        (Some(base), _) => base.clone(),
        (None, _) => ctx.endpoints.url(room, publishing),
    };
    let bound = match (namespace, &ctx.kernel) {
        (Some(c), Some(k)) => k.bind_udp(c).and_then(tokio::net::UdpSocket::from_std),
        _ => driver::bind(local_ip_for(&url)).await,
    };
    let socket = match bound {
        Ok(s) => s,
        Err(e) => return Err((failure(Step::Offer, format!("UDP socket: {e}")), Some(role))),
    };
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => return Err((failure(Step::Offer, e.to_string()), Some(role))),
    };
    let policy = ctx.endpoints.ice_policy;
    let peer = NativePeer::with_policy(role, local, ctx.clock, Instant::now(), policy)
        .map_err(|e| (failure(Step::Offer, e.to_string()), None))?;
    let mut peer = peer;
    let negotiated = match &ctx.endpoints.janus {
        Some(base) => negotiate_janus(ctx, base, room, &mut peer)
            .await
            .map(Held::Janus),
        None => negotiate(ctx, &url, publishing, &mut peer, policy)
            .await
            .map(Held::Whip),
    };
    match negotiated {
        Ok(held) => Ok(Signalled { peer, socket, held }),
        Err(f) => Err((f, Some(peer.into_role()))),
    }
}

/// Janus VideoRoom: a publisher offers and Janus answers; a subscriber answers Janus's offer.
async fn negotiate_janus(
    ctx: &Ctx,
    base: &str,
    room: &str,
    peer: &mut NativePeer,
) -> Result<janus::Attachment, SessionFailure> {
    let api = janus::Janus::new(ctx.http.clone(), base, ctx.endpoints.step_timeout)
        .recording(&ctx.endpoints.janus_rooms);
    let signal_failure = |e: whip_whep::SignalError| failure(e.step, e.reason);
    let attachment = if peer.sender().is_some() {
        let offer = peer
            .create_offer()
            .map_err(|e| failure(Step::Offer, e.to_string()))?;
        let (answer, attachment) = janus::join_publisher(&api, room, &offer)
            .await
            .map_err(signal_failure)?;
        if let Err(e) = peer.accept_answer(&answer) {
            attachment.leave().await;
            return Err(failure(Step::Answer, e.to_string()));
        }
        attachment
    } else {
        let (offer, pending) = janus::join_subscriber(&api, room)
            .await
            .map_err(signal_failure)?;
        let answer = peer
            .accept_offer(&offer)
            .map_err(|e| failure(Step::Answer, e.to_string()))?;
        pending.answer(&answer).await.map_err(signal_failure)?
    };
    peer.set_connect_timeout(Instant::now(), ctx.endpoints.step_timeout);
    Ok(attachment)
}

async fn negotiate(
    ctx: &Ctx,
    url: &str,
    publishing: bool,
    peer: &mut NativePeer,
    policy: IcePolicy,
) -> Result<whip_whep::Resource, SessionFailure> {
    let offer = peer
        .create_offer()
        .map_err(|e| failure(Step::Offer, e.to_string()))?;
    let resource = whip_whep::offer(
        &ctx.http,
        url,
        offer,
        ctx.endpoints.bearer(publishing),
        ctx.endpoints.step_timeout,
    )
    .await
    // A URL built from secret environment variables may be quoted in an HTTP error.
    .map_err(|e| failure(e.step, ctx.endpoints.redact(&e.reason)))?;
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
    Ok(resource)
}

/// Runs a signalled peer to the end (or until its connection is lost), trickling what its ICE
/// servers give to a WHIP/WHEP resource.
pub(super) async fn drive(
    ctx: &Ctx,
    peer: NativePeer,
    socket: tokio::net::UdpSocket,
    held: &Held,
    ticker: Option<Ticker>,
    until: Instant,
    impairment: Option<&mut Impairment>,
) -> (NativePeer, PeerExit) {
    let trickle = match held {
        Held::Whip(resource) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let task = tokio::spawn(ice::trickle_outcomes(
                rx,
                ctx.http.clone(),
                ctx.endpoints.clone(),
                resource.clone(),
                ctx.notes.clone(),
            ));
            Some((tx, task))
        }
        Held::Janus(_) => None,
    };
    let (ice_servers, trickling) = trickle.unzip();
    let hooks = Hooks {
        ticker,
        ice_servers,
        impairment,
        silence: Some(ctx.reconnect.after.0),
    };
    let (peer, exit) = driver::run_with(peer, socket, until, ctx.stop.clone(), hooks).await;
    // The sender went with the driver; the last PATCH has its own timeout.
    if let Some(task) = trickling {
        let _ = tokio::time::timeout(ctx.endpoints.step_timeout, task).await;
    }
    for outcome in peer.unfinished_ice_servers() {
        if let crate::client::native::IceServerOutcome::Failed { server, reason } = outcome {
            ice::note(&ctx.notes, format!("{server}: {reason}"));
        }
    }
    (peer, exit)
}

/// Leaves the provider: DELETE the WHIP/WHEP resource, or end the Janus session. Leaving is
/// best effort: the measurement is over, and servers expire sessions anyway.
pub(super) async fn leave(ctx: &Ctx, held: Held) {
    match held {
        Held::Janus(attachment) => attachment.leave().await,
        Held::Whip(resource) => {
            if let Some(url) = resource.url {
                let _ = whip_whep::leave(
                    &ctx.http,
                    &url,
                    resource.bearer.as_deref(),
                    ctx.endpoints.step_timeout,
                )
                .await;
            }
        }
    }
}

fn on_run_clock(run_start: Micros, windows: &[(u64, u64)]) -> Vec<(Micros, Micros)> {
    windows
        .iter()
        .map(|&(from, to)| (run_start + from, run_start + to))
        .collect()
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
    let endpoints_kernel = endpoints.kernel_net.clone();
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
        viewers: SideNetwork::viewers(&plan.network),
        publishers: SideNetwork::publishers(plan.publisher_network.as_ref()),
        reconnect: plan.reconnect.clone(),
        publisher_reconnects: Arc::default(),
        blackholes: on_run_clock(run_start, &faults::blackholes(&plan.faults)),
        media_stops: on_run_clock(run_start, &faults::media_stops(&plan.faults)),
        network_origin: run_start + plan.start_us,
        kernel: endpoints_kernel,
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
            // Our publisher's audio RTP time starts at its dial instant (a share of another
            // group's audience watches that group's publisher, which starts with it).
            let ours = !plan.external_publisher || plan.publisher_of.is_some();
            let publisher_start = ours.then_some(t0);
            for (i, r) in plan.receivers.iter().enumerate() {
                let w = Watch {
                    plan: r.clone(),
                    room: room.clone(),
                    dial_at: t0 + r.join_us,
                    leave_at: r.leave_us.map(|l| t0 + l),
                    reference: plan.sender.clone(),
                    publisher_start,
                    via_sidecar: ctx.sidecar_plays(Some(i)),
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
                    via_sidecar: ctx.sidecar_plays(Some(k)),
                };
                watchers.push(tokio::spawn(subscribe(ctx.clone(), w)));
            }
        }
    }
    vec![gather(&ctx, &plan, publishers, watchers).await]
}

/// The phases of a scheduled network (`name`, `profile`) with what was realised in each;
/// nothing for a profile without a schedule.
fn phases_of(
    plan: &GroupPlan,
    (name, profile): (&str, &NetworkProfile),
    realised: &[LinkStats],
) -> Vec<NetworkPhase> {
    if profile.schedule.is_empty() {
        return Vec::new();
    }
    let length = Duration::from_micros(plan.end_us.saturating_sub(plan.start_us));
    let start_s = plan.start_us as f64 / 1e6;
    profiles::phases(name, profile, length)
        .into_iter()
        .enumerate()
        .map(|(k, (from, to, label))| NetworkPhase {
            from_s: start_s + from.as_secs_f64(),
            to_s: start_s + to.as_secs_f64(),
            profile: label,
            link: realised.get(k).copied().unwrap_or_default(),
        })
        .collect()
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
    let realised = |side: &SideNetwork| side.realised.lock().map(|r| r.clone()).unwrap_or_default();
    let (viewers, publishers) = (realised(&ctx.viewers), realised(&ctx.publishers));
    let network_phases = phases_of(
        plan,
        (&plan.network_name, &plan.network),
        &viewers.down_phases,
    );
    let publisher_network_phases = match &plan.publisher_network {
        Some(p) => phases_of(
            plan,
            (&plan.publisher_network_name, p),
            &publishers.up_phases,
        ),
        None => Vec::new(),
    };
    GroupOutcome {
        name: ctx.group.clone(),
        network_name: plan.network_name.clone(),
        network: plan.network.clone(),
        sender,
        link: viewers.down,
        network_phases,
        publisher_network_phases,
        publisher_reconnects: ctx
            .publisher_reconnects
            .lock()
            .map(|r| *r)
            .unwrap_or_default(),
        publisher_link: publishers.up,
        series,
        sessions,
        publisher_failures,
        notes: ctx.notes.lock().map(|n| n.clone()).unwrap_or_default(),
    }
}
