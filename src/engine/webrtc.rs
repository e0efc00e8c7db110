//! Stream groups over real WebRTC: every publisher and subscriber is a native peer on its own
//! UDP socket, signalling through the provider. Joins happen at their
//! planned instants (open model), and a failed step is recorded for that session only.

use super::live::Live;
use super::published::Published;
use super::room::GroupOutcome;
use super::session::{publish, subscribe, Publication, Watch};
use crate::base::Micros;
use crate::base::WallClock;
use crate::client::driver::{self, Hooks, PeerExit, Ticker};
use crate::client::light::peer::LightPeer;
use crate::client::native::{NativePeer, Role as PeerRole};
use crate::client::peer::Peer;
use crate::media::receiver::{ReceiverSummary, Reconnects, SessionFailure};
use crate::media::sender::SenderStats;
use crate::media::simulcast::LayerAsk;
use crate::metrics::Recorder;
use crate::net::impair::{ImpairSpec, Impairment, RealisedSink};
use crate::net::kernel::{ClientNet, KernelNet, KernelShape};
use crate::net::{LinkStats, NetworkPhase};
use crate::plan::{faults, room_name, GroupPlan};
use crate::provider::{Join, Joined, Notes, Provider, Step};
use crate::scenario::faults::ReconnectSpec;
use crate::scenario::schema::{NetworkPath, ViewerClient};
use crate::scenario::{profiles, GroupKind, NetworkProfile};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;
use tokio::sync::watch;

/// Everything a session task needs, shared by the group.
#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) provider: Arc<dyn Provider>,
    pub(super) http: reqwest::Client,
    pub(super) clock: WallClock,
    pub(super) until: Instant,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) recorder: Arc<Mutex<Recorder>>,
    pub(super) run_start: Micros,
    pub(super) interval_us: u64,
    pub(super) group: String,
    pub(super) notes: Notes,
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
    /// Publications shared with the other shards, in a sharded run.
    pub(super) relay: super::published::Relay,
    /// This process's publications by room.
    pub(super) publications: super::published::Publications,
    /// What a room's viewers ask their provider for, on the run's clock.
    pub(super) layer_asks: Vec<(Micros, LayerAsk)>,
    /// The client native viewers run on.
    pub(super) viewer_client: ViewerClient,
}

impl Ctx {
    /// Whether viewer `index` of a group (None: one whose group has no sidecar share, such as
    /// a co-host's audience) plays through the provider's sidecar.
    pub(super) fn sidecar_plays(&self, index: Option<usize>) -> bool {
        self.provider
            .sidecar()
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
    pub(super) peer: Box<dyn Peer>,
    pub(super) socket: tokio::net::UdpSocket,
    pub(super) held: Box<dyn Joined>,
}

/// Opens a socket and signals the peer into `room` through the provider.
pub(super) async fn signal(
    ctx: &Ctx,
    room: &str,
    role: PeerRole,
    namespace: Option<&ClientNet>,
) -> Result<Signalled, SignalError> {
    let publishing = matches!(role, PeerRole::Publish(_));
    let bound = match (namespace, &ctx.kernel) {
        (Some(c), Some(k)) => k.bind_udp(c).and_then(tokio::net::UdpSocket::from_std),
        _ => {
            let url = ctx.provider.signalling_url(room, publishing);
            driver::bind(local_ip_for(&url)).await
        }
    };
    let socket = match bound {
        Ok(s) => s,
        Err(e) => return Err((Step::Offer.failed(format!("UDP socket: {e}")), Some(role))),
    };
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => return Err((Step::Offer.failed(e.to_string()), Some(role))),
    };
    let mut peer =
        new_peer(ctx, role, local).map_err(|e| (Step::Offer.failed(e.to_string()), None))?;
    let join = Join {
        room,
        peer: peer.as_mut(),
        http: &ctx.http,
        notes: &ctx.notes,
    };
    match ctx.provider.join(join).await {
        Ok(held) => {
            peer.set_connect_timeout(Instant::now(), ctx.provider.step_timeout());
            Ok(Signalled { peer, socket, held })
        }
        Err(f) => Err((f, Some(peer.into_role()))),
    }
}

/// A peer for `role` on the client the scenario asks for: viewers on the light path when it
/// says so (the runner has checked that the provider takes their offers), all else on str0m.
fn new_peer(
    ctx: &Ctx,
    role: PeerRole,
    local: SocketAddr,
) -> Result<Box<dyn Peer>, crate::client::ClientError> {
    let now = Instant::now();
    match (role, ctx.viewer_client) {
        (PeerRole::Subscribe(receiver), ViewerClient::Light) => {
            Ok(Box::new(LightPeer::new(*receiver, local, ctx.clock, now)?))
        }
        (role, _) => {
            let policy = ctx.provider.ice_policy();
            let peer = NativePeer::with_policy(role, local, ctx.clock, now, policy)?;
            Ok(Box::new(peer))
        }
    }
}

/// Runs a signalled peer to the end (or until its connection is lost), handing what its ICE
/// servers give to the provider (a WHIP/WHEP resource trickles it).
pub(super) async fn drive(
    ctx: &Ctx,
    mut peer: Box<dyn Peer>,
    socket: tokio::net::UdpSocket,
    held: &mut dyn Joined,
    ticker: Option<Ticker>,
    until: Instant,
    impairment: Option<&mut Impairment>,
) -> (Box<dyn Peer>, PeerExit) {
    let hooks = Hooks {
        ticker,
        ice_servers: held.ice_outcomes(),
        impairment,
        silence: Some(ctx.reconnect.after.0),
    };
    // Only a room's viewers ask (the scenario allows asks nowhere else).
    let asks = match peer.publishing() {
        false => ctx.layer_asks.as_slice(),
        true => &[],
    };
    let mut stop = ctx.stop.clone();
    let exit = {
        let driving = driver::run_borrowed(peer.as_mut(), socket, until, &mut stop, hooks);
        tokio::pin!(driving);
        tokio::select! {
            exit = &mut driving => exit,
            () = ask_layers(ctx, &*held, asks) => driving.await,
        }
    };
    for outcome in peer.unfinished_ice_servers() {
        if let crate::client::native::IceServerOutcome::Failed { server, reason } = outcome {
            crate::provider::signal::ice::note(&ctx.notes, format!("{server}: {reason}"));
        }
    }
    (peer, exit)
}

/// Makes a viewer's asks for layers at their times; one already due (the latest) is made at
/// once, as a viewer joining late or rejoining would. What the provider refuses is noted.
async fn ask_layers(ctx: &Ctx, held: &dyn Joined, asks: &[(Micros, LayerAsk)]) {
    let now = ctx.clock.now();
    let from = asks.iter().rposition(|&(at, _)| at <= now).unwrap_or(0);
    for &(at, ask) in &asks[from..] {
        super::session::sleep_until_micros(ctx.clock, at).await;
        if let Err(e) = held.ask_layer(ask).await {
            let what = format!("asking {} for the {ask} layer: {e}", ctx.provider.name());
            crate::provider::signal::ice::note(&ctx.notes, ctx.provider.redact(&what));
        }
    }
}

fn on_run_clock(run_start: Micros, windows: &[(u64, u64)]) -> Vec<(Micros, Micros)> {
    windows
        .iter()
        .map(|&(from, to)| (run_start + from, run_start + to))
        .collect()
}

/// What every WebRTC group of a run shares.
#[derive(Clone)]
pub struct RunShared {
    pub provider: Arc<dyn Provider>,
    /// The group's signalling client.
    pub http: reqwest::Client,
    /// The namespaces of clients on the kernel network path.
    pub kernel: Option<Arc<KernelNet>>,
    pub run_start: Micros,
    pub interval_us: u64,
    pub clock: WallClock,
    pub stop: watch::Receiver<bool>,
    pub live: Arc<Live>,
    pub relay: super::published::Relay,
    pub publications: super::published::Publications,
}

fn context(plan: &GroupPlan, run: RunShared) -> Ctx {
    let run_start = run.run_start;
    Ctx {
        provider: run.provider,
        http: run.http,
        clock: run.clock,
        until: run.clock.instant_of(run_start + plan.end_us),
        stop: run.stop,
        recorder: Arc::new(Mutex::new(Recorder::new(run_start, run.interval_us))),
        run_start,
        interval_us: run.interval_us,
        group: plan.name.clone(),
        notes: Notes::default(),
        live: run.live,
        viewers: SideNetwork::viewers(&plan.network),
        publishers: SideNetwork::publishers(plan.publisher_network.as_ref()),
        reconnect: plan.reconnect.clone(),
        publisher_reconnects: Arc::default(),
        blackholes: on_run_clock(run_start, &faults::blackholes(&plan.faults)),
        media_stops: on_run_clock(run_start, &faults::media_stops(&plan.faults)),
        network_origin: run_start + plan.start_us,
        kernel: run.kernel,
        relay: run.relay,
        publications: run.publications,
        layer_asks: plan
            .layer_asks
            .iter()
            .map(|&(at, ask)| (run_start + plan.start_us + at, ask))
            .collect(),
        viewer_client: plan.viewer_client,
    }
}

/// Runs one group over WebRTC through the run's provider until its end or `stop`.
pub async fn run_group(plan: GroupPlan, run: RunShared) -> Vec<GroupOutcome> {
    let ctx = context(&plan, run);
    ctx.live.watch_recorder(&ctx.group, ctx.recorder.clone());
    let t0 = ctx.run_start + plan.start_us;
    let (publishers, watchers) = match plan.kind {
        GroupKind::Cohost => return super::cohost::run(ctx, &plan, t0).await,
        GroupKind::Room => room(&ctx, &plan, t0),
        GroupKind::Call => calls(&ctx, &plan, t0),
    };
    vec![gather(&ctx, &plan, publishers, watchers).await]
}

/// A room: our host publishes (unless someone else is live there) and the viewers watch.
fn room(ctx: &Ctx, plan: &GroupPlan, t0: Micros) -> (Vec<Publishing>, Vec<Watching>) {
    let mut publishers = Vec::new();
    let room = plan.provider_room();
    // Viewers wait only for a publisher of this group (another group's publication is not
    // watched here; a refusal before it is published is asked again).
    let ours_here = !plan.external_publisher && !plan.publisher_elsewhere;
    // A CDN audience watches another group's host: it waits for that publication too.
    let ours_beside = plan.live.is_some() && plan.publisher_of.is_some();
    let published = match (publishes_natively(ctx), ours_here || ours_beside) {
        (false, _) => None,
        (true, _) if plan.publisher_elsewhere => Published::there(&ctx.relay, &room),
        (true, true) => Some(ctx.publications.here(&ctx.relay, &room)),
        // A share of the room's viewers on another network waits for the room's host, on
        // whichever shard it runs.
        (true, false) if plan.publisher_of.is_some() => Published::there(&ctx.relay, &room)
            .or_else(|| Some(ctx.publications.here(&ctx.relay, &room))),
        (true, false) => None,
    };
    if ours_here {
        let publication = Publication {
            id: format!("{}/host", plan.name),
            config: plan.sender.clone(),
            room: room.clone(),
            dial_at: t0,
            until: ctx.until,
            published: published.clone(),
        };
        publishers.push(match plan.rtmp_publisher {
            true => {
                let pushing = super::rtmp::publish(ctx.clone(), publication);
                tokio::spawn(super::session::counted(ctx.clone(), pushing))
            }
            false => tokio::spawn(publish(ctx.clone(), publication)),
        });
    }
    let watchers = plan
        .receivers
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.elsewhere)
        .map(|(i, r)| {
            let w = Watch {
                plan: r.clone(),
                room: room.clone(),
                dial_at: t0 + r.join_us,
                leave_at: r.leave_us.map(|l| t0 + l),
                reference: plan.sender.clone(),
                via_sidecar: ctx.sidecar_plays(Some(i)),
                publisher: published.clone(),
            };
            match plan.live {
                Some(live) => tokio::spawn(super::cdn::watch(ctx.clone(), w, live)),
                None => tokio::spawn(subscribe(ctx.clone(), w)),
            }
        })
        .collect();
    (publishers, watchers)
}

/// Whether our publishers publish from this process (a sidecar's client reports no
/// publication to wait on).
pub(super) fn publishes_natively(ctx: &Ctx) -> bool {
    !ctx.provider.sidecar().is_some_and(|s| s.publishes)
}

/// 1v1 calls: each side publishes into its own room and watches the other's.
fn calls(ctx: &Ctx, plan: &GroupPlan, t0: Micros) -> (Vec<Publishing>, Vec<Watching>) {
    let mut publishers = Vec::new();
    let mut watchers = Vec::new();
    let rooms: Vec<String> = (0..plan.receivers.len())
        .map(|k| room_name(&plan.room_tag, &plan.name, &format!("-{k}")))
        .collect();
    let published: Vec<Option<Published>> = plan
        .receivers
        .iter()
        .zip(&rooms)
        .map(|(r, room)| match (publishes_natively(ctx), r.elsewhere) {
            (false, _) => None,
            (true, false) => Some(Published::here(&ctx.relay, room)),
            (true, true) => Published::there(&ctx.relay, room),
        })
        .collect();
    for (k, (r, config)) in plan.receivers.iter().zip(&plan.call_senders).enumerate() {
        if r.elsewhere {
            continue;
        }
        let dial_at = t0 + r.join_us;
        let mine = rooms[k].clone();
        let theirs = rooms.get(k ^ 1).cloned().unwrap_or_default();
        let publication = Publication {
            id: r.id.clone(),
            config: config.clone(),
            room: mine,
            dial_at,
            until: ctx.until,
            published: published[k].clone(),
        };
        publishers.push(tokio::spawn(publish(ctx.clone(), publication)));
        let reference = plan.call_senders[k ^ 1].clone();
        let w = Watch {
            plan: r.clone(),
            room: theirs,
            dial_at,
            reference,
            leave_at: None,
            via_sidecar: ctx.sidecar_plays(Some(k)),
            publisher: published.get(k ^ 1).cloned().flatten(),
        };
        watchers.push(tokio::spawn(subscribe(ctx.clone(), w)));
    }
    (publishers, watchers)
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

pub(super) type Publishing = tokio::task::JoinHandle<(SenderStats, Option<SessionFailure>)>;
pub(super) type Watching = tokio::task::JoinHandle<ReceiverSummary>;

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
