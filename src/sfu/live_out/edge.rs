//! The edge on HTTP: each room's packager behind a lock, new FLV tags broadcast to the open
//! HTTP-FLV responses, and held requests (LL-HLS blocking reloads, preload-hinted parts) woken
//! when a part or segment is finished.
//!
//! Routes: `/live/{room}.flv`, `/hls/{room}/index.m3u8` (HLS), `/hls/{room}/ll.m3u8` (LL-HLS),
//! `/hls/{room}/{msn}.ts` and `/hls/{room}/{msn}.{part}.ts`.

use super::ingest::VideoIngest;
use super::packager::{Packager, PackagerConfig};
use super::LiveEvent;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Tags an HTTP-FLV viewer may fall behind by before it is cut off (as CDNs drop slow readers).
const FLV_BACKLOG: usize = 512;
/// Batches of the SFU's events the edge may have waiting.
const EDGE_BACKLOG: usize = 4096;

/// Where the SFU's loop sends the edge its events without waiting.
#[derive(Clone)]
pub struct EdgeFeed(tokio::sync::mpsc::Sender<Vec<LiveEvent>>);

impl EdgeFeed {
    pub fn send(&self, events: Vec<LiveEvent>) {
        if !events.is_empty() {
            let _ = self.0.try_send(events);
        }
    }
}

/// Longest a request is held for a part or playlist update that has not come.
const HOLD: Duration = Duration::from_secs(6);

struct RoomEdge {
    ingest: VideoIngest,
    packager: Packager,
    flv: broadcast::Sender<Bytes>,
    /// Bumped when a part or segment is finished, and at the first key frame.
    finished: watch::Sender<u64>,
}

impl RoomEdge {
    fn new(config: PackagerConfig) -> Self {
        Self {
            ingest: VideoIngest::default(),
            packager: Packager::new(config),
            flv: broadcast::channel(FLV_BACKLOG).0,
            finished: watch::channel(0).0,
        }
    }
}

impl RoomEdge {
    fn package(&mut self, frame: &super::packager::LiveFrame) {
        let before = (self.packager.finished_parts(), self.packager.has_started());
        let tags = self.packager.push(frame);
        if !tags.is_empty() {
            let _ = self.flv.send(Bytes::from(tags));
        }
        let after = (self.packager.finished_parts(), self.packager.has_started());
        if after != before {
            self.finished.send_modify(|n| *n += 1);
        }
    }
}

pub struct Edge {
    config: PackagerConfig,
    rooms: Mutex<HashMap<String, RoomEdge>>,
}

impl Edge {
    pub fn new(config: PackagerConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            rooms: Mutex::default(),
        })
    }

    /// Packages what the SFU handed over.
    pub fn apply(&self, events: Vec<LiveEvent>) {
        if events.is_empty() {
            return;
        }
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        for event in events {
            match event {
                LiveEvent::Started(room) => {
                    let edge = rooms
                        .entry(room)
                        .or_insert_with(|| RoomEdge::new(self.config));
                    edge.ingest = VideoIngest::default();
                    edge.packager.restart();
                }
                LiveEvent::Video {
                    room,
                    ext_seq,
                    packet,
                    at,
                } => {
                    let edge = rooms
                        .entry(room)
                        .or_insert_with(|| RoomEdge::new(self.config));
                    for frame in edge.ingest.on_packet(ext_seq, packet, at) {
                        edge.package(&frame);
                    }
                }
                LiveEvent::Frame { room, frame } => {
                    rooms
                        .entry(room)
                        .or_insert_with(|| RoomEdge::new(self.config))
                        .package(&frame);
                }
                LiveEvent::Ended(room) => {
                    if let Some(edge) = rooms.get_mut(&room) {
                        // Dropping the sender ends every open HTTP-FLV response of the room.
                        edge.flv = broadcast::channel(FLV_BACKLOG).0;
                    }
                }
            }
        }
    }

    /// Packages what the SFU hands over in a task of its own: the SFU's loop `send`s its events
    /// to the feed. Batches beyond `EDGE_BACKLOG` are dropped (the edge then waits for a key
    /// frame) rather than held up in the SFU's loop.
    pub fn run(self: &Arc<Self>) -> (EdgeFeed, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<LiveEvent>>(EDGE_BACKLOG);
        let edge = self.clone();
        let task = tokio::spawn(async move {
            while let Some(events) = rx.recv().await {
                edge.apply(events);
            }
        });
        (EdgeFeed(tx), task)
    }

    fn with_room<T>(&self, room: &str, f: impl FnOnce(&RoomEdge) -> T) -> Option<T> {
        self.rooms.lock().ok()?.get(room).map(f)
    }

    /// Waits (up to [`HOLD`]) until `ready` holds for the room's packager.
    async fn hold_until(&self, room: &str, ready: impl Fn(&Packager) -> bool) -> bool {
        let Some(mut finished) = self.with_room(room, |r| r.finished.subscribe()) else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + HOLD;
        loop {
            if self.with_room(room, |r| ready(&r.packager)) == Some(true) {
                return true;
            }
            match tokio::time::timeout_at(deadline, finished.changed()).await {
                Ok(Ok(())) => continue,
                _ => return false,
            }
        }
    }
}

pub fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .route("/live/{file}", get(flv))
        .route("/hls/{room}/{file}", get(hls))
        .with_state(edge)
        .layer(axum::middleware::map_response(open_to_pages))
}

/// As CDNs serve live streams: any web page may play them (hls.js and flv.js fetch them from
/// the page's origin).
async fn open_to_pages(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, what).into_response()
}

async fn flv(State(edge): State<Arc<Edge>>, Path(file): Path<String>) -> Response {
    let Some(room) = file.strip_suffix(".flv") else {
        return not_found(format!("{file}: HTTP-FLV streams end in .flv"));
    };
    // A room whose host has started but sent no key frame yet: the viewer is held for it.
    edge.hold_until(room, |p| p.flv_start().is_some()).await;
    let opened = edge.with_room(room, |r| (r.packager.flv_start(), r.flv.subscribe()));
    let Some((Some(start), tags)) = opened else {
        return not_found(format!("nothing is published in room {room:?} yet"));
    };
    let body = futures_util::stream::unfold(
        (Some(Bytes::from(start)), tags),
        |(first, mut tags)| async move {
            if let Some(first) = first {
                return Some((Ok::<_, std::convert::Infallible>(first), (None, tags)));
            }
            // A viewer that fell behind by the whole backlog, or a stream that ended: the end.
            let next = tags.recv().await.ok()?;
            Some((Ok(next), (None, tags)))
        },
    );
    (
        [
            (header::CONTENT_TYPE, "video/x-flv"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

async fn hls(
    State(edge): State<Arc<Edge>>,
    Path((room, file)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let playlist = |low_latency: bool| {
        edge.with_room(&room, |r| r.packager.playlist(low_latency))
            .map(|text| {
                (
                    [
                        (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    text,
                )
                    .into_response()
            })
            .unwrap_or_else(|| not_found(format!("nothing is published in room {room:?} yet")))
    };
    match file.as_str() {
        "index.m3u8" => return playlist(false),
        "ll.m3u8" => {
            let msn = query.get("_HLS_msn").and_then(|v| v.parse::<u64>().ok());
            let part = query.get("_HLS_part").and_then(|v| v.parse::<usize>().ok());
            if let Some(msn) = msn {
                edge.hold_until(&room, |p| p.can_answer(msn, part) || p.is_past(msn))
                    .await;
            }
            return playlist(true);
        }
        _ => {}
    }
    let Some(stem) = file.strip_suffix(".ts") else {
        return not_found(format!("{file}: not a playlist or segment of this server"));
    };
    let numbers: Vec<Option<u64>> = stem.split('.').map(|n| n.parse().ok()).collect();
    let bytes = match numbers[..] {
        [Some(msn)] => edge.with_room(&room, |r| r.packager.segment(msn)).flatten(),
        [Some(msn), Some(part)] => {
            let part = part as usize;
            // A preload-hinted part is held until it is finished.
            edge.hold_until(&room, |p| p.can_answer(msn, Some(part)) || p.is_past(msn))
                .await;
            edge.with_room(&room, |r| r.packager.part(msn, part))
                .flatten()
        }
        _ => None,
    };
    match bytes {
        Some(bytes) => ([(header::CONTENT_TYPE, "video/mp2t")], bytes).into_response(),
        None => not_found(format!("{room}/{file} is not (or no longer) available")),
    }
}
