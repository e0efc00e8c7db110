//! Shard 0's side of a sharded run: it keeps the reference clock (answering time exchanges),
//! takes the other shards' joins (refusing one of another run or an index already taken), and
//! announces one start once all have joined or the barrier's deadline has passed.

use super::protocol::{Identity, JoinRequest, Publication, SharedEmbedded, Start, TimeReply};
use super::protocol::{JOIN_PATH, PUBLISHED_PATH, PUBLISHED_WAIT_PATH, START_PATH, TIME_PATH};
use crate::base::WallClock;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How far ahead of the announcement the start is set: time for every shard's long poll to
/// come back and for it to open its sessions.
pub const START_LEAD: Duration = Duration::from_secs(2);
/// How long one poll for the start is held open before it is answered "not yet".
const POLL_HOLD: Duration = Duration::from_secs(20);

struct Barrier {
    identity: Identity,
    joined: BTreeMap<u32, JoinRequest>,
    room_tag: String,
    embedded: Option<SharedEmbedded>,
}

/// Rooms the run's publishers have published, by name: when each was.
type Publications = Arc<Mutex<HashMap<String, watch::Sender<Option<u64>>>>>;
/// The most rooms the table keeps (a run names a few per group).
const MAX_ROOMS: usize = 100_000;

#[derive(Clone)]
struct Shared {
    barrier: Arc<Mutex<Barrier>>,
    start: watch::Sender<Option<Start>>,
    clock: WallClock,
    publications: Publications,
}

impl Shared {
    /// The slot of `room`, made on first use; `None` once the table is full.
    fn slot(&self, room: &str) -> Option<watch::Sender<Option<u64>>> {
        let mut rooms = self.publications.lock().ok()?;
        if !rooms.contains_key(room) && rooms.len() >= MAX_ROOMS {
            return None;
        }
        Some(
            rooms
                .entry(room.to_string())
                .or_insert_with(|| watch::Sender::new(None))
                .clone(),
        )
    }
}

/// The running coordinator; it stops when dropped.
pub struct Coordinator {
    start: watch::Receiver<Option<Start>>,
    task: tokio::task::JoinHandle<()>,
    deadline: tokio::task::JoinHandle<()>,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.task.abort();
        self.deadline.abort();
    }
}

/// What the coordinator is started with.
pub struct Opening {
    pub listen: SocketAddr,
    /// Shard 0's own join (it joins first).
    pub own: JoinRequest,
    pub room_tag: String,
    pub embedded: Option<SharedEmbedded>,
    /// After this the run starts with the shards that joined.
    pub deadline: Duration,
    /// The reference clock (shard 0's, never corrected).
    pub clock: WallClock,
}

impl Coordinator {
    pub async fn start(o: Opening) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(o.listen).await?;
        let (start_tx, start) = watch::channel(None);
        let mut joined = BTreeMap::new();
        joined.insert(o.own.shard, o.own.clone());
        let shared = Shared {
            barrier: Arc::new(Mutex::new(Barrier {
                identity: o.own.identity.clone(),
                joined,
                room_tag: o.room_tag,
                embedded: o.embedded,
            })),
            start: start_tx,
            clock: o.clock,
            publications: Arc::default(),
        };
        decide_if_complete(&shared);
        let app = Router::new()
            .route(TIME_PATH, get(time))
            .route(JOIN_PATH, post(join))
            .route(START_PATH, get(start_poll))
            .route(PUBLISHED_PATH, post(published))
            .route(PUBLISHED_WAIT_PATH, post(published_wait))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(o.deadline).await;
            decide(&shared);
        });
        Ok(Self {
            start,
            task,
            deadline,
        })
    }

    /// Waits for the announced start (all joined, or the deadline); `None` if the server has
    /// gone without announcing one.
    pub async fn announced(&self) -> Option<Start> {
        let mut start = self.start.clone();
        let announced = start.wait_for(Option::is_some).await.ok()?;
        announced.clone()
    }
}

async fn time(State(s): State<Shared>) -> Json<TimeReply> {
    let received_us = s.clock.now();
    Json(TimeReply {
        received_us,
        sent_us: s.clock.now(),
    })
}

fn refuse(reason: String) -> Response {
    (StatusCode::CONFLICT, reason).into_response()
}

async fn join(State(s): State<Shared>, Json(request): Json<JoinRequest>) -> Response {
    if let Some(started) = s.start.borrow().clone() {
        let late_s = s.clock.now() as f64 / 1e6 - started.start_at_us as f64 / 1e6;
        return refuse(format!(
            "shard {}: the run had been announced to start without it ({:+.1} s from its start); it is recorded as missing",
            request.shard, late_s
        ));
    }
    {
        let Ok(mut barrier) = s.barrier.lock() else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "barrier poisoned").into_response();
        };
        if let Some(why) = barrier.identity.differs(&request.identity) {
            return refuse(format!("shard {} is of another run: {why}", request.shard));
        }
        if request.shard >= barrier.identity.count {
            return refuse(format!(
                "shard {} of a run of {} shards",
                request.shard, barrier.identity.count
            ));
        }
        if let Some(taken) = barrier.joined.get(&request.shard) {
            if taken.host != request.host {
                return refuse(format!(
                    "shard {} has already joined, from host {}",
                    request.shard, taken.host
                ));
            }
        }
        barrier.joined.insert(request.shard, request);
    }
    decide_if_complete(&s);
    StatusCode::NO_CONTENT.into_response()
}

async fn start_poll(State(s): State<Shared>) -> Response {
    let mut start = s.start.subscribe();
    let announced = tokio::time::timeout(POLL_HOLD, start.wait_for(Option::is_some)).await;
    match announced {
        Ok(Ok(v)) => match v.clone() {
            Some(start) => Json(start).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

/// A shard's publisher was published: the first instant per room counts.
async fn published(State(s): State<Shared>, Json(p): Json<Publication>) -> StatusCode {
    let (Some(slot), Some(at)) = (s.slot(&p.room), p.at_us) else {
        return StatusCode::BAD_REQUEST;
    };
    slot.send_if_modified(|current| {
        let first = current.is_none();
        if first {
            *current = Some(at);
        }
        first
    });
    StatusCode::NO_CONTENT
}

/// Held until the room is published (answered with the instant) or `POLL_HOLD` passes.
async fn published_wait(State(s): State<Shared>, Json(p): Json<Publication>) -> Response {
    let Some(slot) = s.slot(&p.room) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut rx = slot.subscribe();
    let at = match tokio::time::timeout(POLL_HOLD, rx.wait_for(Option::is_some)).await {
        Ok(Ok(at)) => *at,
        _ => None,
    };
    match at {
        Some(at) => Json(Publication {
            room: p.room,
            at_us: Some(at),
        })
        .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn decide_if_complete(s: &Shared) {
    let complete = s
        .barrier
        .lock()
        .map(|b| b.joined.len() as u32 >= b.identity.count)
        .unwrap_or(false);
    if complete {
        decide(s);
    }
}

/// Announces the start (once): `START_LEAD` from now on the reference clock.
fn decide(s: &Shared) {
    let Ok(barrier) = s.barrier.lock() else {
        return;
    };
    let start_at_us = s.clock.now() + START_LEAD.as_micros() as u64;
    let joined: Vec<u32> = barrier.joined.keys().copied().collect();
    let missing = (0..barrier.identity.count)
        .filter(|i| !barrier.joined.contains_key(i))
        .collect();
    let start = Start {
        start_at_us,
        room_tag: barrier.room_tag.clone(),
        embedded: barrier.embedded.clone(),
        joined,
        missing,
    };
    s.start.send_if_modified(|current| match current {
        Some(_) => false,
        None => {
            *current = Some(start);
            true
        }
    });
}
