//! A shard's side of a sharded run: it finds the coordinator (retrying while shard 0 comes up),
//! estimates its clock's offset to the reference clock, joins, waits for the start, and keeps
//! estimating through the run so that drift is followed.

use super::protocol::{JoinRequest, Publication, Start, TimeReply, JOIN_PATH, MAX_REPLY};
use super::protocol::{PUBLISHED_PATH, PUBLISHED_WAIT_PATH, START_PATH, TIME_PATH};
use super::ShardError;
use crate::base::clock::Correction;
use crate::base::offset::{Estimate, Exchange, OffsetEstimator};
use crate::base::WallClock;
use crate::provider::signal::body::read_limited;
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Exchanges before the start, and the pause between them.
pub const FIRST_EXCHANGES: usize = 12;
const BETWEEN_FIRST: Duration = Duration::from_millis(25);
/// How often the estimate is renewed during the run.
pub const RESYNC_EVERY: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The coordinator's base URL and a client for it.
#[derive(Clone)]
pub struct Link {
    pub base: String,
    pub http: reqwest::Client,
}

impl Link {
    pub fn new(coordinator: &str) -> Result<Self, ShardError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ShardError::Coordinator {
                step: "client",
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: format!("http://{coordinator}"),
            http,
        })
    }

    async fn body(&self, r: reqwest::Response, step: &'static str) -> Result<Vec<u8>, ShardError> {
        read_limited(r, MAX_REPLY)
            .await
            .map_err(|e| ShardError::Coordinator {
                step,
                reason: e.to_string(),
            })
    }

    /// One time exchange, stamped with the uncorrected clock.
    pub async fn exchange(&self, raw: WallClock) -> Result<Exchange, ShardError> {
        let failed = |reason: String| ShardError::Coordinator {
            step: "time",
            reason,
        };
        let client_sent = raw.now();
        let response = self
            .http
            .get(format!("{}{TIME_PATH}", self.base))
            .send()
            .await
            .map_err(|e| failed(crate::provider::signal::error_chain(&e)))?;
        let body = self.body(response, "time").await?;
        let client_received = raw.now();
        let reply: TimeReply =
            serde_json::from_slice(&body).map_err(|e| failed(format!("not a time reply: {e}")))?;
        Ok(Exchange {
            client_sent,
            server_received: reply.received_us,
            server_sent: reply.sent_us,
            client_received,
        })
    }

    /// Joins the barrier, asking again while the coordinator cannot be reached, until `deadline`.
    pub async fn join(&self, request: &JoinRequest, deadline: Instant) -> Result<(), ShardError> {
        let body = serde_json::to_vec(request).map_err(|e| ShardError::Coordinator {
            step: "join",
            reason: e.to_string(),
        })?;
        loop {
            let sent = self
                .http
                .post(format!("{}{JOIN_PATH}", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status() == StatusCode::CONFLICT => {
                    let why = self.body(r, "join").await.unwrap_or_default();
                    return Err(ShardError::Refused(String::from_utf8_lossy(&why).into()));
                }
                Ok(r) => {
                    return Err(ShardError::Coordinator {
                        step: "join",
                        reason: format!("HTTP {}", r.status()),
                    })
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(ShardError::Coordinator {
                        step: "join",
                        reason: format!(
                            "unreachable until the barrier's deadline: {}",
                            crate::provider::signal::error_chain(&e)
                        ),
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// Polls until the coordinator announces the start, or `deadline` passes.
    pub async fn start(&self, deadline: Instant) -> Result<Start, ShardError> {
        let failed = |reason: String| ShardError::Coordinator {
            step: "start",
            reason,
        };
        while Instant::now() < deadline {
            let polled = self
                .http
                .get(format!("{}{START_PATH}", self.base))
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match polled {
                Ok(r) if r.status() == StatusCode::OK => {
                    let body = self.body(r, "start").await?;
                    return serde_json::from_slice(&body)
                        .map_err(|e| failed(format!("not a start: {e}")));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        Err(failed("no start was announced before the deadline".into()))
    }
}

/// The clock estimate a shard keeps up to date, shared with the task renewing it.
#[derive(Clone)]
pub struct Synced {
    pub raw: WallClock,
    pub correction: Correction,
    pub estimator: Arc<Mutex<OffsetEstimator>>,
}

impl Synced {
    pub fn new(raw: WallClock) -> Self {
        Self {
            raw,
            correction: Correction::new(),
            estimator: Arc::default(),
        }
    }

    /// The clock every part of the run reads: this machine's, corrected to the reference.
    pub fn clock(&self) -> WallClock {
        self.raw.corrected(self.correction)
    }

    pub fn estimate(&self) -> Option<Estimate> {
        let now = self.raw.now();
        self.estimator.lock().ok()?.estimate(now)
    }

    fn take(&self, e: Exchange) {
        let estimate = self.estimator.lock().ok().and_then(|mut est| {
            est.add(e);
            est.estimate(e.client_received)
        });
        if let Some(estimate) = estimate {
            self.correction.set(estimate.ahead_us.round() as i64);
        }
    }

    /// The first exchanges, before joining; fails when not one succeeded.
    pub async fn first(&self, link: &Link) -> Result<(), ShardError> {
        let mut last = None;
        for _ in 0..FIRST_EXCHANGES {
            match link.exchange(self.raw).await {
                Ok(e) => self.take(e),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(BETWEEN_FIRST).await;
        }
        match (self.estimate(), last) {
            (None, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Renews the estimate every [`RESYNC_EVERY`] until `stop`; a failed exchange is skipped
    /// (the bound of the last good one grows with its age).
    pub fn keep(&self, link: Link, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let synced = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(RESYNC_EVERY) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                // A few back to back: the quickest of them is the one kept.
                for _ in 0..3 {
                    if let Ok(e) = link.exchange(synced.raw).await {
                        synced.take(e);
                    }
                }
            }
        })
    }
}

/// Publications shared through the coordinator: a publisher's shard announces its room, the
/// viewers' shards wait for it.
pub struct ShardRelay {
    link: Link,
}

impl ShardRelay {
    pub fn new(link: Link) -> Self {
        Self { link }
    }
}

impl crate::engine::published::Elsewhere for ShardRelay {
    fn announce(&self, room: &str, at: crate::base::Micros) {
        let (link, body) = (self.link.clone(), publication(room, Some(at)));
        tokio::spawn(async move {
            for _ in 0..3 {
                let sent = link
                    .http
                    .post(format!("{}{PUBLISHED_PATH}", link.base))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }

    fn wait(
        &self,
        room: String,
        deadline: Instant,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<crate::base::Micros>> + Send>>
    {
        let link = self.link.clone();
        Box::pin(async move {
            let body = publication(&room, None);
            while Instant::now() < deadline {
                let asked = link
                    .http
                    .post(format!("{}{PUBLISHED_WAIT_PATH}", link.base))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .timeout(Duration::from_secs(30))
                    .body(body.clone())
                    .send()
                    .await;
                match asked {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let bytes = link.body(r, "published").await.ok()?;
                        let p: Publication = serde_json::from_slice(&bytes).ok()?;
                        return p.at_us;
                    }
                    Ok(r) if r.status() == StatusCode::NO_CONTENT => {}
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
            None
        })
    }
}

fn publication(room: &str, at_us: Option<u64>) -> Vec<u8> {
    serde_json::to_vec(&Publication {
        room: room.to_string(),
        at_us,
    })
    .unwrap_or_default()
}
