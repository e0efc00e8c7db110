//! A run spread over several processes or machines (`run --shard I/N`): each shard runs its
//! slice of the plan (plan::shard's rule), all start at one instant on one clock, and
//! `rtcbench merge` adds their run.jsons up. Shard 0 coordinates: it serves the start barrier
//! and the reference clock, and on the embedded provider the SFU the other shards reach.

mod client;
mod coordinator;
pub mod protocol;

use crate::base::{Micros, WallClock};
use crate::plan::shard::Shard;
use crate::record::{ClockOffset, ShardRecord};
use client::{Link, Synced};
use coordinator::{Coordinator, Opening};
use protocol::{Identity, JoinRequest, SharedEmbedded, Start};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The variables a Kubernetes Indexed Job (or a script) may set instead of the flags.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";
pub const COUNT_VAR: &str = "RTCBENCH_SHARDS";
pub const COORDINATOR_VAR: &str = "RTCBENCH_COORDINATOR";
pub const REGION_VAR: &str = "RTCBENCH_REGION";

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("coordinator, step \"{step}\": {reason}")]
    Coordinator { step: &'static str, reason: String },
    #[error("the coordinator refused this shard: {0}")]
    Refused(String),
    #[error("--coordinator {0}: not HOST:PORT")]
    Address(String),
    #[error("shard {0}: a sharded run needs --coordinator HOST:PORT (shard 0 serves the start and the reference clock there) or --start-at TIME")]
    NoStart(Shard),
    #[error("shard {0}: on the embedded provider the other shards reach the SFU that shard 0 serves, which needs --coordinator")]
    EmbeddedNeedsCoordinator(Shard),
    #[error("--start-at {0}: not an RFC 3339 time such as 2026-12-05T10:00:00Z")]
    StartAt(String),
    #[error("shard 0 cannot serve the coordinator on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("shard {0}: both the shard index and the count are needed (--shard I/N, or {INDEX_VAR} with --shards or {COUNT_VAR})")]
    Incomplete(String),
    #[error(transparent)]
    Spec(#[from] crate::plan::shard::ShardError),
}

/// How a shard is told where it stands.
#[derive(Debug, Clone)]
pub struct ShardOptions {
    pub shard: Shard,
    /// shard 0's HOST:PORT.
    pub coordinator: Option<String>,
    /// An agreed start, µs since the Unix epoch.
    pub start_at_us: Option<Micros>,
    pub region: Option<String>,
    /// How long shard 0 waits for the others before starting with those that came.
    pub barrier_timeout: Duration,
}

/// Parses `--start-at` (RFC 3339).
pub fn parse_start_at(text: &str) -> Result<Micros, ShardError> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_micros()).ok())
        .ok_or_else(|| ShardError::StartAt(text.to_string()))
}

/// The shard from `--shard I/N`, or from `JOB_COMPLETION_INDEX` with `--shards N` or
/// `RTCBENCH_SHARDS`; `None` when neither says anything (a run of one process).
pub fn shard_from(
    flag: Option<&str>,
    count_flag: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, ShardError> {
    if let Some(spec) = flag {
        return Ok(Some(spec.parse()?));
    }
    let index = env(INDEX_VAR);
    let count = count_flag.map(|c| c.to_string()).or_else(|| env(COUNT_VAR));
    match (index, count) {
        (None, None) => Ok(None),
        (Some(i), Some(n)) => Ok(Some(format!("{}/{}", i.trim(), n.trim()).parse()?)),
        (i, n) => Err(ShardError::Incomplete(format!(
            "index {}, count {}",
            i.as_deref().unwrap_or("unset"),
            n.as_deref().unwrap_or("unset")
        ))),
    }
}

/// This machine's name, for the report.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The address shard 0's servers listen on: every interface, at the coordinator's port.
fn listen_addr(coordinator: &str) -> Result<SocketAddr, ShardError> {
    let port = coordinator
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .ok_or_else(|| ShardError::Address(coordinator.to_string()))?;
    Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
}

/// The local address other shards reach this machine at: the one its route to the
/// coordinator's host leaves from (loopback for 127.0.0.1; the pod's address in a cluster).
pub fn reachable_ip(coordinator: &str) -> Result<IpAddr, ShardError> {
    let target = coordinator
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ShardError::Address(coordinator.to_string()))?;
    if target.ip().is_loopback() {
        return Ok(target.ip());
    }
    let socket = std::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
        .and_then(|s| s.connect(target).map(|_| s))
        .and_then(|s| s.local_addr())
        .map_err(|e| ShardError::Coordinator {
            step: "route",
            reason: format!("no route to {coordinator}: {e}"),
        })?;
    Ok(socket.ip())
}

/// A shard lined up with the others: its clock, the start, the room tag, and what it keeps
/// running until the run ends (shard 0's coordinator, the clock's renewal).
pub struct Lined {
    pub shard: Shard,
    pub start: Start,
    pub start_by: &'static str,
    pub region: Option<String>,
    pub host: String,
    synced: Option<Synced>,
    link: Option<Link>,
    coordinator: Option<Coordinator>,
}

impl Lined {
    /// The clock every part of this shard's run reads.
    pub fn clock(&self, uncorrected: WallClock) -> WallClock {
        self.synced.as_ref().map_or(uncorrected, Synced::clock)
    }

    /// Publications shared with the other shards through the coordinator.
    pub fn relay(&self) -> crate::engine::published::Relay {
        let link = self.link.clone()?;
        Some(std::sync::Arc::new(client::ShardRelay::new(link)))
    }

    /// Keeps the clock estimate fresh until `stop`.
    pub fn keep_synced(&self, stop: watch::Receiver<bool>) -> Option<tokio::task::JoinHandle<()>> {
        let (synced, link) = (self.synced.as_ref()?, self.link.clone()?);
        Some(synced.keep(link, stop))
    }

    /// What run.json says of this shard.
    pub fn record(&self) -> ShardRecord {
        let reference = self.shard.is_first() && self.coordinator.is_some();
        let clock = match (&self.synced, reference) {
            (_, true) => Some(ClockOffset {
                ahead_ms: 0.0,
                bound_ms: 0.0,
                delay_ms: 0.0,
                exchanges: 0,
                wander_ms: 0.0,
            }),
            (Some(s), _) => s.estimate().map(|e| {
                let est = s.estimator.lock().ok();
                ClockOffset {
                    ahead_ms: e.ahead_us / 1000.0,
                    bound_ms: e.bound_us / 1000.0,
                    delay_ms: e.delay_us / 1000.0,
                    exchanges: est.as_ref().map_or(0, |e| e.exchanges()),
                    wander_ms: est.as_ref().map_or(0.0, |e| e.wander_us() / 1000.0),
                }
            }),
            _ => None,
        };
        ShardRecord {
            index: self.shard.index,
            count: self.shard.count,
            host: self.host.clone(),
            region: self.region.clone(),
            start_at_us: self.start.start_at_us,
            start_by: self.start_by.to_string(),
            clock,
            joined: self.start.joined.clone(),
            missing_at_start: self.start.missing.clone(),
        }
    }
}

/// What shard 0 brings to the barrier beside its identity.
pub struct FirstShard {
    pub embedded: Option<SharedEmbedded>,
    pub room_tag: String,
}

/// A shard without a coordinator: the start is the one given (every shard was given the same).
fn by_start_at(o: &ShardOptions, identity: &Identity, host: String) -> Result<Lined, ShardError> {
    let start_at_us = o.start_at_us.ok_or(ShardError::NoStart(o.shard))?;
    Ok(Lined {
        shard: o.shard,
        start: Start {
            start_at_us,
            room_tag: format!("{}s{}", start_at_us / 1_000_000, identity.seed),
            embedded: None,
            joined: Vec::new(),
            missing: Vec::new(),
        },
        start_by: "start-at",
        region: o.region.clone(),
        host,
        synced: None,
        link: None,
        coordinator: None,
    })
}

/// Shard 0 serves the coordinator (the barrier and the reference clock) at `coordinator`.
async fn serve_coordinator(
    o: &ShardOptions,
    coordinator: &str,
    own: &JoinRequest,
    first: FirstShard,
    raw: WallClock,
) -> Result<Coordinator, ShardError> {
    let listen = listen_addr(coordinator)?;
    Coordinator::start(Opening {
        listen,
        own: own.clone(),
        room_tag: first.room_tag,
        embedded: first.embedded,
        deadline: o.barrier_timeout,
        clock: raw.uncorrected(),
    })
    .await
    .map_err(|source| ShardError::Listen {
        addr: listen,
        source,
    })
}

/// Lines this shard up with the others: through the coordinator when there is one (shard 0
/// serves it), else at the `--start-at` instant on this machine's clock.
pub async fn line_up(
    o: &ShardOptions,
    identity: Identity,
    first: Option<FirstShard>,
    raw: WallClock,
) -> Result<Lined, ShardError> {
    let host = host_name();
    let Some(coordinator) = &o.coordinator else {
        return by_start_at(o, &identity, host);
    };
    let request = JoinRequest {
        shard: o.shard.index,
        identity,
        host: host.clone(),
        region: o.region.clone(),
    };
    let deadline = Instant::now() + o.barrier_timeout;
    let served = match first {
        Some(first) => Some(serve_coordinator(o, coordinator, &request, first, raw).await?),
        None => None,
    };
    let link = Link::new(coordinator)?;
    let (start, synced) = match &served {
        Some(c) => {
            let start = c.announced().await.ok_or(ShardError::Coordinator {
                step: "start",
                reason: "the coordinator stopped before announcing a start".into(),
            })?;
            (start, None)
        }
        None => {
            let synced = Synced::new(raw.uncorrected());
            synced.first(&link).await?;
            link.join(&request, deadline).await?;
            (
                link.start(deadline + Duration::from_secs(30)).await?,
                Some(synced),
            )
        }
    };
    let start = match o.start_at_us {
        Some(at) => Start {
            start_at_us: at,
            ..start
        },
        None => start,
    };
    Ok(Lined {
        shard: o.shard,
        start,
        start_by: if o.start_at_us.is_some() {
            "start-at"
        } else {
            "barrier"
        },
        region: o.region.clone(),
        host,
        synced,
        link: Some(link),
        coordinator: served,
    })
}
