//! The SFU on sockets: one UDP socket for all media, and WHIP/WHEP over HTTP on 127.0.0.1 (or
//! wherever `serve-reference --listen` says).

use super::census::Census;
use super::cost::CostSnapshot;
use super::faults::FaultSchedule;
use super::live_out::edge::{Edge, EdgeFeed};
use super::live_out::packager::PackagerConfig;
use super::worker::{RelayBatch, Worker, WorkerStats, RELAY_BACKLOG};
use super::{Sfu, SfuError};
use crate::client::link::WHEP_LAYER_REL;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};

pub(super) enum Command {
    Join {
        room: String,
        publish: bool,
        offer: String,
        reply: oneshot::Sender<Result<(u64, String), SfuError>>,
    },
    Leave {
        id: u64,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    Trickle {
        id: u64,
        candidates: Vec<String>,
        reply: oneshot::Sender<Result<usize, SfuError>>,
    },
    /// A viewer asks for a layer by stream id, or (`None`) for automatic choice again.
    AskLayer {
        id: u64,
        rid: Option<String>,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// From the RTMP listener (`rtmp_listener.rs`).
    IngestStart {
        room: String,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    IngestFrame {
        room: String,
        frame: super::live_out::packager::LiveFrame,
    },
    IngestEnd {
        room: String,
    },
}

#[derive(Clone)]
struct AppState {
    /// To each worker's media loop.
    workers: Arc<Vec<mpsc::Sender<Command>>>,
    /// Joins go to the workers in turn.
    next_worker: Arc<AtomicUsize>,
    /// `Link` header values naming ICE servers, sent with every answer.
    links: Vec<String>,
    /// How long a publisher's offer waits before it is taken (`Quirks::publish_delay_ms`).
    publish_delay: Duration,
    /// Viewers answered 404 because their room had nothing published yet.
    refused_viewers: Arc<AtomicU64>,
}

impl AppState {
    fn worker_for_join(&self) -> &mpsc::Sender<Command> {
        let turn = self.next_worker.fetch_add(1, Ordering::Relaxed);
        &self.workers[turn % self.workers.len()]
    }

    /// The worker that holds session `id` (ids are numbered `k * workers + worker`).
    fn worker_of(&self, id: u64) -> &mpsc::Sender<Command> {
        &self.workers[(id % self.workers.len() as u64) as usize]
    }
}

/// ICE servers the SFU hands to its clients (RFC 9725 section 4.6).
#[derive(Clone, Default)]
pub struct ServerOptions {
    pub ice_servers: Vec<AdvertisedIceServer>,
    /// Refuse (503) viewers beyond this many in a room, as a provider's room cap would.
    pub max_viewers_per_room: Option<usize>,
    /// Ways to behave as other servers do, for tests (all off by default).
    pub quirks: super::quirks::Quirks,
    /// The RTMP ingest's TCP port on the HTTP address's IP (0 or none: a free one).
    pub rtmp_port: Option<u16>,
    /// Media workers, each its own UDP socket and task (0 counts as 1). Viewers of one room
    /// spread over all of them; a publisher's packets are relayed to each.
    pub workers: usize,
}

#[derive(Clone)]
pub struct AdvertisedIceServer {
    /// `stun:host:port` or `turn:host:port?transport=udp`.
    pub url: String,
    pub username: Option<String>,
    pub credential: Option<String>,
}

impl AdvertisedIceServer {
    fn link(&self) -> String {
        let quoted = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        let mut link = format!("<{}>; rel=\"ice-server\"", self.url);
        if let (Some(user), Some(credential)) = (&self.username, &self.credential) {
            link.push_str(&format!(
                "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                quoted(user),
                quoted(credential)
            ));
        }
        link
    }
}

/// A running reference SFU.
pub struct ReferenceServer {
    pub http_addr: SocketAddr,
    /// Each media worker's UDP socket.
    pub media_addrs: Vec<SocketAddr>,
    pub rtmp_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    faults: FaultSchedule,
    refused_viewers: Arc<AtomicU64>,
    worker_stats: Vec<Arc<WorkerStats>>,
}

impl ReferenceServer {
    /// What each media worker has done so far, with the process's CPU, at `wall_s`.
    pub fn cost_snapshot(&self, wall_s: f64) -> CostSnapshot {
        CostSnapshot {
            cpu_s: crate::base::cpu::process_cpu_s().unwrap_or(0.0),
            wall_s,
            workers: self.worker_stats.iter().map(|s| s.read()).collect(),
        }
    }

    /// Base URL of the WHIP endpoint for `room`.
    pub fn whip_url(&self, room: &str) -> String {
        format!("http://{}/whip/{room}", self.http_addr)
    }
    pub fn whep_url(&self, room: &str) -> String {
        format!("http://{}/whep/{room}", self.http_addr)
    }
    /// The room's published video as HTTP-FLV, HLS and LL-HLS from the built-in CDN edge.
    pub fn flv_url(&self, room: &str) -> String {
        format!("http://{}/live/{room}.flv", self.http_addr)
    }
    pub fn hls_url(&self, room: &str) -> String {
        format!("http://{}/hls/{room}/index.m3u8", self.http_addr)
    }
    pub fn ll_hls_url(&self, room: &str) -> String {
        format!("http://{}/hls/{room}/ll.m3u8", self.http_addr)
    }
    /// Where an encoder pushes `room` over RTMP.
    pub fn rtmp_url(&self, room: &str) -> String {
        let app = super::live_out::rtmp_in::APP;
        format!("rtmp://{}/{app}/{room}", self.rtmp_addr)
    }

    /// How many viewers were answered 404 because nothing was published in their room yet.
    pub fn refused_viewers(&self) -> u64 {
        self.refused_viewers.load(Ordering::Relaxed)
    }

    /// Where this server's faults are scheduled.
    pub fn faults(&self) -> FaultSchedule {
        self.faults.clone()
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts the SFU: HTTP on `listen`, media on a UDP port of the same address.
pub async fn start(listen: SocketAddr) -> std::io::Result<ReferenceServer> {
    start_with(listen, ServerOptions::default()).await
}

/// As [`start`], handing out `options.ice_servers` with every answer.
pub async fn start_with(
    listen: SocketAddr,
    options: ServerOptions,
) -> std::io::Result<ReferenceServer> {
    let http = TcpListener::bind(listen).await?;
    let http_addr = http.local_addr()?;
    let rtmp = TcpListener::bind(SocketAddr::new(
        http_addr.ip(),
        options.rtmp_port.unwrap_or(0),
    ))
    .await?;
    let rtmp_addr = rtmp.local_addr()?;
    let faults = FaultSchedule::default();
    let refused_viewers = Arc::new(AtomicU64::new(0));
    let publish_delay = Duration::from_millis(options.quirks.publish_delay_ms.unwrap_or(0));
    let edge = Edge::new(PackagerConfig::default());
    let (edge_feed, packaging) = edge.run();
    let workers = start_workers(http_addr, &options, &faults, (&edge, &edge_feed)).await?;
    let mut tasks = vec![packaging];
    tasks.extend(workers.tasks);
    tasks.push(tokio::spawn(super::rtmp_listener::serve(
        rtmp,
        workers.commands[0].clone(),
    )));
    let app = Router::new()
        .route("/whip/{room}", post(whip))
        .route("/whep/{room}", post(whep))
        .route("/whip/{room}/{id}", delete(leave).patch(trickle))
        .route("/whep/{room}/{id}", delete(leave).patch(trickle))
        .route("/whep/{room}/{id}/layer", post(ask_layer))
        .with_state(AppState {
            workers: Arc::new(workers.commands),
            next_worker: Arc::default(),
            links: options.ice_servers.iter().map(|s| s.link()).collect(),
            publish_delay,
            refused_viewers: refused_viewers.clone(),
        })
        .layer(axum::middleware::from_fn_with_state(
            faults.clone(),
            super::faults::gate,
        ))
        .merge(super::api::router())
        .merge(super::live_out::edge::router(edge));
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(http, app).await;
    }));
    Ok(ReferenceServer {
        http_addr,
        media_addrs: workers.addrs,
        rtmp_addr,
        tasks,
        faults,
        refused_viewers,
        worker_stats: workers.stats,
    })
}

/// The running workers: where to send their commands, their sockets, their stats.
struct Workers {
    commands: Vec<mpsc::Sender<Command>>,
    addrs: Vec<SocketAddr>,
    stats: Vec<Arc<WorkerStats>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn start_workers(
    http_addr: SocketAddr,
    options: &ServerOptions,
    faults: &FaultSchedule,
    (edge, edge_feed): (&Arc<Edge>, &EdgeFeed),
) -> std::io::Result<Workers> {
    let count = options.workers.max(1);
    let census = Census::default();
    let relays: Vec<_> = (0..count)
        .map(|_| mpsc::channel::<RelayBatch>(RELAY_BACKLOG))
        .collect();
    let relay_senders: Vec<_> = relays.iter().map(|(tx, _)| tx.clone()).collect();
    let mut workers = Workers {
        commands: Vec::new(),
        addrs: Vec::new(),
        stats: Vec::new(),
        tasks: Vec::new(),
    };
    for (index, (_, relay_in)) in relays.into_iter().enumerate() {
        let socket = UdpSocket::bind(SocketAddr::new(http_addr.ip(), 0)).await?;
        let addr = socket.local_addr()?;
        let sfu = Sfu::new(addr)
            .worker(index, count, census.clone())
            .with_live_out(Instant::now())
            .with_max_viewers(options.max_viewers_per_room)
            .with_quirks(options.quirks)
            .map_err(std::io::Error::other)?;
        let (commands, commands_rx) = mpsc::channel(256);
        let stats = Arc::new(WorkerStats::default());
        let worker = Worker {
            sfu,
            socket,
            commands: commands_rx,
            relay_in,
            relay_open: true,
            relay_out: (0..count)
                .filter(|&other| other != index)
                .map(|other| relay_senders[other].clone())
                .collect(),
            restarts: faults.restarts(),
            edge: edge.clone(),
            edge_feed: edge_feed.clone(),
            stats: stats.clone(),
        };
        workers.tasks.push(tokio::spawn(worker.run()));
        workers.commands.push(commands);
        workers.addrs.push(addr);
        workers.stats.push(stats);
    }
    Ok(workers)
}

async fn whip(
    state: State<AppState>,
    room: Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    join(state, room, headers, body, true).await
}

async fn whep(
    state: State<AppState>,
    room: Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    join(state, room, headers, body, false).await
}

async fn join(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    offer: String,
    publish: bool,
) -> Response {
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/sdp"));
    if !is_sdp {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the offer as application/sdp",
        )
            .into_response();
    }
    if publish {
        tokio::time::sleep(state.publish_delay).await;
    }
    let (reply, answer) = oneshot::channel();
    if state
        .worker_for_join()
        .send(Command::Join {
            room: room.clone(),
            publish,
            offer,
            reply,
        })
        .await
        .is_err()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the media loop has stopped",
        )
            .into_response();
    }
    match answer.await {
        Ok(Ok((id, sdp))) => {
            let kind = if publish { "whip" } else { "whep" };
            let mut response = (
                StatusCode::CREATED,
                [
                    (header::CONTENT_TYPE, "application/sdp".to_string()),
                    (header::LOCATION, format!("/{kind}/{room}/{id}")),
                ],
                sdp,
            )
                .into_response();
            let layer_link =
                (!publish).then(|| format!("</whep/{room}/{id}/layer>; rel=\"{WHEP_LAYER_REL}\""));
            for link in state.links.iter().chain(&layer_link) {
                if let Ok(value) = header::HeaderValue::from_str(link) {
                    response.headers_mut().append(header::LINK, value);
                }
            }
            response
        }
        Ok(Err(e @ SfuError::RoomTaken(_))) => {
            (StatusCode::CONFLICT, e.to_string()).into_response()
        }
        Ok(Err(e @ SfuError::NotPublished(_))) => {
            state.refused_viewers.fetch_add(1, Ordering::Relaxed);
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
        Ok(Err(e @ SfuError::RoomFull(..))) => {
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
        }
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the media loop has stopped",
        )
            .into_response(),
    }
}

async fn leave(State(state): State<AppState>, Path((_room, id)): Path<(String, u64)>) -> Response {
    let (reply, done) = oneshot::channel();
    if state
        .worker_of(id)
        .send(Command::Leave { id, reply })
        .await
        .is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match done.await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// RFC 9725 trickle: a PATCH with an `application/trickle-ice-sdpfrag` body adds the client's
/// late candidates (an ICE-lite server would also learn them from the checks themselves).
async fn trickle(
    State(state): State<AppState>,
    Path((_room, id)): Path<(String, u64)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let is_fragment = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/trickle-ice-sdpfrag"));
    if !is_fragment {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send candidates as application/trickle-ice-sdpfrag",
        )
            .into_response();
    }
    let candidates = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:"))
        .map(str::to_string)
        .collect();
    let (reply, done) = oneshot::channel();
    let sent = state.worker_of(id).send(Command::Trickle {
        id,
        candidates,
        reply,
    });
    if sent.await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match done.await {
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e @ SfuError::NoSession(_))) => {
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A layer-selection request: `encodingId` names a simulcast layer by its stream id; without
/// it (`{}`), the server chooses again.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayerChoice {
    encoding_id: Option<String>,
    spatial_layer_id: Option<serde_json::Value>,
    temporal_layer_id: Option<serde_json::Value>,
}

/// The WHEP layer extension: a viewer asks for a simulcast layer, or for automatic choice.
async fn ask_layer(
    State(state): State<AppState>,
    Path((_room, id)): Path<(String, u64)>,
    body: String,
) -> Response {
    let choice: LayerChoice =
        match serde_json::from_str(if body.trim().is_empty() { "{}" } else { &body }) {
            Ok(c) => c,
            Err(e) => {
                let why = format!("the layer request is not the JSON object WHEP describes: {e}");
                return (StatusCode::BAD_REQUEST, why).into_response();
            }
        };
    if choice.spatial_layer_id.is_some() || choice.temporal_layer_id.is_some() {
        let why = "this server selects simulcast layers by encodingId; it sends no SVC layers";
        return (StatusCode::BAD_REQUEST, why).into_response();
    }
    let (reply, done) = oneshot::channel();
    let sent = state.worker_of(id).send(Command::AskLayer {
        id,
        rid: choice.encoding_id,
        reply,
    });
    if sent.await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match done.await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e @ SfuError::NoSession(_))) => {
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
        Ok(Err(e @ SfuError::OneLayer(_))) => (StatusCode::CONFLICT, e.to_string()).into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
