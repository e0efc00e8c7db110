//! Janus VideoRoom over Janus's HTTP API: a session (create, keepalive, long-poll events,
//! destroy), a handle attached to the VideoRoom plugin per peer, rooms made on demand, and the
//! publisher and subscriber flows. Janus's error answers become failures that carry its code.

use super::body::{read_limited, MAX_SIGNAL_BODY};
use super::{SignalError, Step};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const PLUGIN: &str = "janus.plugin.videoroom";

/// A Janus server's HTTP API (`.../janus`).
#[derive(Clone)]
pub struct Janus {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    /// The most one reply may hold.
    max_body: usize,
    /// Rooms this run made, to destroy when it ends.
    made: Rooms,
}

/// The VideoRoom rooms a run made.
pub type Rooms = Arc<std::sync::Mutex<std::collections::BTreeSet<u64>>>;

/// One Janus session; its events come by long poll and wait here until a caller takes them.
pub struct Session {
    janus: Janus,
    pub id: u64,
    events: Mutex<VecDeque<Value>>,
    transactions: AtomicU64,
}

fn fail(step: Step, reason: impl Into<String>) -> SignalError {
    SignalError::new(step, reason)
}

/// A Janus error anywhere in an answer or event: the core's (`"janus": "error"`) or the
/// plugin's (`error_code` in its data).
fn janus_error(v: &Value) -> Option<SignalError> {
    if v["janus"] == "error" {
        let e = &v["error"];
        return Some(fail(
            Step::Status,
            format!(
                "Janus error {}: {}",
                e["code"],
                e["reason"].as_str().unwrap_or("")
            ),
        ));
    }
    let data = &v["plugindata"]["data"];
    data.get("error_code").map(|code| {
        fail(
            Step::Status,
            format!(
                "Janus VideoRoom error {code}: {}",
                data["error"].as_str().unwrap_or("")
            ),
        )
    })
}

impl Janus {
    pub fn new(http: reqwest::Client, base: &str, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            timeout,
            max_body: MAX_SIGNAL_BODY,
            made: Rooms::default(),
        }
    }

    /// Refuses replies over `max_body` bytes (the provider file's `max_signal_body`).
    pub fn limiting_replies_to(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Records the rooms this client makes in `rooms` (shared by a run's clients).
    pub fn recording(mut self, rooms: &Rooms) -> Self {
        self.made = rooms.clone();
        self
    }

    /// Destroys `rooms` (those a run made); what Janus refuses is returned as text.
    pub async fn destroy_rooms(&self, rooms: &Rooms) -> Vec<String> {
        let ids: Vec<u64> = rooms
            .lock()
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return Vec::new();
        }
        let session = match self.create_session().await {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        let mut refused = Vec::new();
        match session.attach().await {
            Ok(handle) => {
                for id in ids {
                    let body = json!({"request": "destroy", "room": id});
                    if let Err(e) = session.request(handle, body).await {
                        refused.push(format!("room {id}: {e}"));
                    }
                }
            }
            Err(e) => refused.push(e.to_string()),
        }
        let _ = session.destroy().await;
        refused
    }

    /// Sends `request` and reads Janus's JSON answer; an HTTP error is a failure at `step`.
    async fn fetch(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
        step: Step,
    ) -> Result<Value, SignalError> {
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| fail(step, format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(fail(
                Step::Status,
                format!("{url} answered {}", response.status()),
            ));
        }
        let body = read_limited(response, self.max_body)
            .await
            .map_err(|e| fail(Step::Answer, format!("{url}: {e}")))?;
        serde_json::from_slice(&body)
            .map_err(|e| fail(Step::Answer, format!("{url}: not JSON: {e}")))
    }

    /// A request whose answer may be a Janus error, which is then the failure.
    async fn post(&self, url: &str, body: Value) -> Result<Value, SignalError> {
        let v = self
            .fetch(url, self.http.post(url).json(&body), Step::Offer)
            .await?;
        match janus_error(&v) {
            Some(e) => Err(e),
            None => Ok(v),
        }
    }

    pub async fn create_session(&self) -> Result<Session, SignalError> {
        let v = self
            .post(&self.base, json!({"janus": "create", "transaction": "s"}))
            .await?;
        let id = v["data"]["id"]
            .as_u64()
            .ok_or_else(|| fail(Step::Answer, format!("no session id in {v}")))?;
        Ok(Session {
            janus: self.clone(),
            id,
            events: Mutex::new(VecDeque::new()),
            transactions: AtomicU64::new(1),
        })
    }
}

impl Session {
    fn url(&self) -> String {
        format!("{}/{}", self.janus.base, self.id)
    }

    fn transaction(&self) -> String {
        format!("t{}", self.transactions.fetch_add(1, Ordering::Relaxed))
    }

    pub async fn attach(&self) -> Result<u64, SignalError> {
        let body = json!({"janus": "attach", "plugin": PLUGIN, "transaction": self.transaction()});
        let v = self.janus.post(&self.url(), body).await?;
        v["data"]["id"]
            .as_u64()
            .ok_or_else(|| fail(Step::Answer, format!("no handle id in {v}")))
    }

    /// Sends a plugin message; Janus answers with the result ("success") or with an "ack"
    /// whose result comes later as an event with the same transaction.
    async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<(String, Value), SignalError> {
        let transaction = self.transaction();
        let mut msg = json!({"janus": "message", "transaction": transaction, "body": body});
        if let Some(j) = jsep {
            msg["jsep"] = j;
        }
        let v = self
            .janus
            .post(&format!("{}/{handle}", self.url()), msg)
            .await?;
        Ok((transaction, v))
    }

    /// A request VideoRoom answers at once.
    async fn request(&self, handle: u64, body: Value) -> Result<Value, SignalError> {
        self.message(handle, body, None).await.map(|(_, v)| v)
    }

    /// A request VideoRoom answers with an event (with or without SDP of its own).
    async fn request_event(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<Value, SignalError> {
        let (transaction, _) = self.message(handle, body, jsep).await?;
        self.event_for(&transaction).await
    }

    /// The event answering `transaction`, long-polling for it until the step timeout.
    async fn event_for(&self, transaction: &str) -> Result<Value, SignalError> {
        let deadline = Instant::now() + self.janus.timeout;
        loop {
            {
                let mut events = self.events.lock().await;
                if let Some(k) = events.iter().position(|e| e["transaction"] == transaction) {
                    let e = events.remove(k).unwrap_or_default();
                    return match janus_error(&e) {
                        Some(err) => Err(err),
                        None => Ok(e),
                    };
                }
            }
            if Instant::now() >= deadline {
                return Err(fail(
                    Step::Answer,
                    format!(
                        "Janus sent no event for {transaction} within {:?}",
                        self.janus.timeout
                    ),
                ));
            }
            self.poll().await?;
        }
    }

    /// One long poll: up to 10 events, or none after Janus's own 30 s hold (bounded by ours).
    async fn poll(&self) -> Result<(), SignalError> {
        let url = format!("{}?maxev=10", self.url());
        // Errors in events belong to the requests they answer (`event_for`), not to the poll.
        let v = self
            .janus
            .fetch(&url, self.janus.http.get(&url), Step::Answer)
            .await?;
        let mut events = self.events.lock().await;
        match v {
            Value::Array(list) => {
                events.extend(list.into_iter().filter(|e| e["janus"] != "keepalive"))
            }
            e if e["janus"] != "keepalive" => events.push_back(e),
            _ => {}
        }
        Ok(())
    }

    pub async fn keepalive(&self) -> Result<(), SignalError> {
        let body = json!({"janus": "keepalive", "transaction": self.transaction()});
        self.janus.post(&self.url(), body).await.map(|_| ())
    }

    /// Hangs up the handle's PeerConnection (VideoRoom then leaves the room for it).
    pub async fn hangup(&self, handle: u64) -> Result<(), SignalError> {
        let body = json!({"janus": "hangup", "transaction": self.transaction()});
        let url = format!("{}/{handle}", self.url());
        self.janus.post(&url, body).await.map(|_| ())
    }

    pub async fn destroy(&self) -> Result<(), SignalError> {
        let body = json!({"janus": "destroy", "transaction": self.transaction()});
        self.janus.post(&self.url(), body).await.map(|_| ())
    }

    pub async fn room_exists(&self, handle: u64, room: u64) -> Result<bool, SignalError> {
        let v = self
            .request(handle, json!({"request": "exists", "room": room}))
            .await?;
        Ok(v["plugindata"]["data"]["exists"] == true)
    }

    /// Makes `room` if it does not exist.
    pub async fn ensure_room(&self, handle: u64, room: u64) -> Result<(), SignalError> {
        if self.room_exists(handle, room).await? {
            return Ok(());
        }
        // rtcbench's clients send H.264 and Opus; VideoRoom's default video codec is VP8.
        let create = json!({"request": "create", "room": room, "publishers": 64,
                            "videocodec": "h264", "audiocodec": "opus"});
        match self.request(handle, create).await {
            Ok(_) => {
                if let Ok(mut made) = self.janus.made.lock() {
                    made.insert(room);
                }
                Ok(())
            }
            // Another session made it meanwhile.
            Err(e) if e.reason.contains("error 427") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Joins `room` as a publisher with `offer`; returns its feed id and Janus's SDP answer.
    pub async fn publish(
        &self,
        handle: u64,
        room: u64,
        offer: &str,
    ) -> Result<(u64, String), SignalError> {
        let body = json!({"request": "joinandconfigure", "ptype": "publisher", "room": room,
                          "audio": true, "video": true});
        // Our simulcast offers list their layers smallest first; Janus reads them largest first
        // unless told (its substream 0 is then the smallest, as everywhere else).
        let jsep = json!({"type": "offer", "sdp": offer, "rid_order": "lmh"});
        let e = self.request_event(handle, body, Some(jsep)).await?;
        let feed = e["plugindata"]["data"]["id"]
            .as_u64()
            .ok_or_else(|| fail(Step::Answer, format!("no publisher id in {e}")))?;
        let answer = e["jsep"]["sdp"]
            .as_str()
            .ok_or_else(|| fail(Step::Answer, "Janus answered the publisher without SDP"))?;
        Ok((feed, answer.to_string()))
    }

    /// The feeds publishing in `room`.
    pub async fn publishers(&self, handle: u64, room: u64) -> Result<Vec<u64>, SignalError> {
        let v = self
            .request(handle, json!({"request": "listparticipants", "room": room}))
            .await?;
        Ok(v["plugindata"]["data"]["participants"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|p| p["publisher"] == true)
                    .filter_map(|p| p["id"].as_u64())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Joins `room` as a subscriber to `feed`; returns Janus's SDP offer.
    pub async fn subscribe(
        &self,
        handle: u64,
        room: u64,
        feed: u64,
    ) -> Result<String, SignalError> {
        let body = json!({"request": "join", "ptype": "subscriber", "room": room,
                          "streams": [{"feed": feed}]});
        let e = self.request_event(handle, body, None).await?;
        e["jsep"]["sdp"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                fail(
                    Step::Answer,
                    format!("Janus sent no offer to subscribe: {e}"),
                )
            })
    }

    /// Asks for simulcast substream `substream` (0 the smallest) on the subscription's video
    /// stream `mid` (VideoRoom's `configure`, as Janus 1.x takes it: per stream).
    pub async fn configure_substream(
        &self,
        handle: u64,
        mid: &str,
        substream: usize,
    ) -> Result<(), SignalError> {
        let body = json!({"request": "configure",
                          "streams": [{"mid": mid, "substream": substream}]});
        self.request_event(handle, body, None)
            .await
            .map(|_| ())
            .map_err(|e| fail(Step::Layer, e.reason))
    }

    /// Answers a subscription's offer and starts the media.
    pub async fn start(&self, handle: u64, room: u64, answer: &str) -> Result<(), SignalError> {
        let jsep = json!({"type": "answer", "sdp": answer});
        let body = json!({"request": "start", "room": room});
        self.request_event(handle, body, Some(jsep))
            .await
            .map(|_| ())
    }
}

/// Janus's numeric id for a room name: stable, and under 2^53 so JSON keeps it exact.
pub fn room_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h & ((1 << 53) - 1)).max(1)
}

/// A peer's hold on Janus: its session, kept alive meanwhile, until it leaves.
pub struct Attachment {
    session: Arc<Session>,
    handle: u64,
    keepalive: tokio::task::JoinHandle<()>,
    /// A subscription's video stream, as Janus's offer named it.
    video_mid: Option<String>,
}

/// The `a=mid` of the first video section of `sdp`.
fn video_mid(sdp: &str) -> Option<String> {
    let mut in_video = false;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            in_video = media.starts_with("video");
        } else if let Some(mid) = line.strip_prefix("a=mid:").filter(|_| in_video) {
            return Some(mid.to_string());
        }
    }
    None
}

impl Attachment {
    fn new(session: Arc<Session>, handle: u64) -> Self {
        let alive = session.clone();
        // Janus drops a session after 60 s without a request; its long polls do not count.
        let keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(25)).await;
                let _ = alive.keepalive().await;
            }
        });
        Self {
            session,
            handle,
            keepalive,
            video_mid: None,
        }
    }

    /// Asks for simulcast substream `substream` (0 the smallest) of the feed this subscription
    /// plays.
    pub async fn ask_substream(&self, substream: usize) -> Result<(), SignalError> {
        let mid = self.video_mid.as_deref().ok_or_else(|| {
            fail(
                Step::Layer,
                "Janus's offer to this subscriber had no video stream",
            )
        })?;
        self.session
            .configure_substream(self.handle, mid, substream)
            .await
    }

    /// Hangs up and ends the session, as a client leaving does.
    pub async fn leave(self) {
        self.keepalive.abort();
        let _ = self.session.hangup(self.handle).await;
        let _ = self.session.destroy().await;
    }
}

/// Publishes into `room` with `offer`: Janus's answer and the attachment.
pub async fn join_publisher(
    janus: &Janus,
    room: &str,
    offer: &str,
) -> Result<(String, Attachment), SignalError> {
    let session = Arc::new(janus.create_session().await?);
    let handle = session.attach().await?;
    let id = room_id(room);
    session.ensure_room(handle, id).await?;
    let (_, answer) = session.publish(handle, id, offer).await?;
    Ok((answer, Attachment::new(session, handle)))
}

/// A subscription waiting for its answer to Janus's offer.
pub struct PendingSubscription {
    session: Arc<Session>,
    handle: u64,
    room: u64,
    video_mid: Option<String>,
}

impl PendingSubscription {
    pub async fn answer(self, sdp: &str) -> Result<Attachment, SignalError> {
        self.session.start(self.handle, self.room, sdp).await?;
        let mut attachment = Attachment::new(self.session, self.handle);
        attachment.video_mid = self.video_mid;
        Ok(attachment)
    }
}

/// Subscribes to the first publisher of `room`, waiting for one up to the step timeout:
/// Janus's offer, to be answered through the returned subscription.
pub async fn join_subscriber(
    janus: &Janus,
    room: &str,
) -> Result<(String, PendingSubscription), SignalError> {
    let session = Arc::new(janus.create_session().await?);
    let handle = session.attach().await?;
    let id = room_id(room);
    session.ensure_room(handle, id).await?;
    let deadline = Instant::now() + janus.timeout;
    let feed = loop {
        if let Some(&feed) = session.publishers(handle, id).await?.first() {
            break feed;
        }
        if Instant::now() >= deadline {
            let _ = session.destroy().await;
            return Err(fail(
                Step::Offer,
                format!(
                    "no publisher in Janus room {id} (\"{room}\") within {:?}",
                    janus.timeout
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let offer = session.subscribe(handle, id, feed).await?;
    let video_mid = video_mid(&offer);
    Ok((
        offer,
        PendingSubscription {
            session,
            handle,
            room: id,
            video_mid,
        },
    ))
}
