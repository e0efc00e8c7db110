//! Providers behind one trait. A `Provider` says what its kind can do and signals our native
//! peers in and out of its rooms; media always flows through our own client, so every provider
//! is measured the same way. Each kind is one file; `open` is the one place kinds are
//! registered. The engine sees only the trait.

pub mod cdn;
pub mod embedded;
pub mod file;
pub mod janus;
pub mod shared_embedded;
pub mod sidecar;
pub mod signal;
pub mod url_auth;
pub mod whip_whep;

pub use crate::client::native::IcePolicy;
pub use file::{is_provider_file, load, parse, ProviderFile, ProviderKind, SidecarSpec};
pub use sidecar::SidecarUse;
pub use signal::ice::Notes;
pub use signal::{SignalError, Step};

use crate::base::{Micros, WallClock};
use crate::client::native::IceServerOutcome;
use crate::client::peer::Peer;
use crate::media::receiver::SessionFailure;
use crate::media::simulcast::LayerAsk;
use crate::plan::faults::FaultPlan;
use crate::scenario::audience::LiveProtocol;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;

/// A provider's answer to come later (trait methods that wait are boxed so the trait can be
/// used as `dyn Provider` from tasks on any thread).
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a provider (as opened, with its file's settings) can and cannot do. The runner holds a
/// plan against it before anything dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abilities {
    /// Viewers can play streams back through our native client (a WHEP URL, Janus, an SDK).
    pub plays_back: bool,
    /// Each room has its own stream; without, one stream is all there is.
    pub rooms: bool,
    /// Our impairment reaches its viewers' and publishers' networks (a sidecar's client has
    /// sockets of its own).
    pub impaired_viewers: bool,
    pub impaired_publishers: bool,
    /// It can be made to restart or fail its signalling on a schedule (our own server only).
    pub server_faults: bool,
    /// Clients in network namespaces reach it (the kernel network path).
    pub kernel_path: bool,
    /// Its server runs in this process, so rtcbench's CPU figures include it.
    pub in_process: bool,
    /// It signals WebRTC peers (publishers and viewers); a CDN-only provider takes RTMP pushes
    /// and serves HTTP playback alone.
    pub webrtc: bool,
    /// Its viewers offer (WHEP) rather than answer its offer (Janus): the light viewer can play.
    pub viewers_offer: bool,
}

impl Abilities {
    /// A server elsewhere that plays back, has rooms, and whose clients we impair.
    pub const REMOTE: Abilities = Abilities {
        plays_back: true,
        rooms: true,
        impaired_viewers: true,
        impaired_publishers: true,
        server_faults: false,
        kernel_path: false,
        in_process: false,
        webrtc: true,
        viewers_offer: true,
    };
}

/// What every provider takes from its file: its name and how long each step may take.
#[derive(Debug, Clone)]
pub struct Basics {
    pub name: String,
    /// Limit for each signalling request and for ICE/DTLS to connect.
    pub step_timeout: Duration,
    /// The most a signalling answer may hold.
    pub max_body: usize,
    pub ice_policy: IcePolicy,
}

impl Basics {
    pub fn of(p: &ProviderFile) -> Self {
        Self {
            name: p.name.clone(),
            step_timeout: p.step_timeout.0,
            max_body: usize::try_from(p.max_signal_body.0).unwrap_or(usize::MAX),
            ice_policy: p.ice_transport_policy,
        }
    }
}

/// One native peer's signalling into a room.
pub struct Join<'a> {
    pub room: &'a str,
    pub peer: &'a mut dyn Peer,
    pub http: &'a reqwest::Client,
    /// Where what came of the provider's ICE servers is counted.
    pub notes: &'a Notes,
}

/// A provider as a run uses it.
pub trait Provider: Send + Sync {
    fn basics(&self) -> &Basics;
    fn abilities(&self) -> Abilities;
    fn name(&self) -> &str {
        &self.basics().name
    }
    /// Limit for each signalling request and for ICE/DTLS to connect.
    fn step_timeout(&self) -> Duration {
        self.basics().step_timeout
    }
    fn ice_policy(&self) -> IcePolicy {
        self.basics().ice_policy
    }
    /// Where a peer's signalling goes: its route picks the local address of the peer's socket.
    fn signalling_url(&self, room: &str, publishing: bool) -> String;
    /// Offers or answers for `join.peer` (a publisher when it publishes) in `join.room`, and
    /// applies the provider's side; what the peer then holds there until it leaves.
    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>>;
    /// The sidecar client that plays some (or, for a provider that signals through it, all)
    /// of the sessions.
    fn sidecar(&self) -> Option<&SidecarUse> {
        None
    }
    /// What a sidecar page needs to signal into `room` by itself (its WHIP/WHEP URLs).
    fn page_endpoints(&self, _room: &str) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// The token a sidecar page signals with, when the provider has one.
    fn sidecar_token(&self) -> Option<String> {
        None
    }
    /// Base URL of the live-room API (comments, likes, orders), when the provider serves one.
    fn live_room_api(&self) -> Option<String> {
        None
    }
    /// Where a CDN viewer plays `room` over `protocol`, when the provider serves it.
    fn playback_url(&self, _room: &str, _protocol: LiveProtocol) -> Option<String> {
        None
    }
    /// Where an encoder pushes `room` over RTMP, when the provider takes RTMP.
    fn rtmp_push_url(&self, _room: &str) -> Option<String> {
        None
    }
    /// `text` with the secrets this provider took from the environment blanked out (a CDN URL
    /// may carry an auth key).
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
    /// Schedules the plan's provider-side faults on the run's clock (kinds with
    /// `server_faults`; the runner refuses the others such a plan).
    fn schedule_faults(&self, _faults: &[FaultPlan], _clock: WallClock, _run_start: Micros) {}
    /// Cleans up what the run left at the provider (rooms it made, a sidecar process); what
    /// could not be cleaned, as lines to print.
    fn shut_down(&self) -> Pending<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}

/// What a signalled peer holds at its provider until it leaves.
pub trait Joined: Send + Sync {
    /// Where the peer's driver sends what its ICE servers gave, for a kind that trickles
    /// candidates to the provider; taken once.
    fn ice_outcomes(&mut self) -> Option<mpsc::UnboundedSender<IceServerOutcome>> {
        None
    }
    /// Asks for a layer of the publisher's simulcast (or the provider's own choice) for this
    /// viewer; kinds without a way to ask say so.
    fn ask_layer(&self, ask: LayerAsk) -> Pending<'_, Result<(), SignalError>> {
        Box::pin(async move {
            Err(SignalError::new(
                Step::Layer,
                format!("this provider kind cannot be asked for a layer (asked: {ask})"),
            ))
        })
    }

    /// Leaves, best effort: the measurement is over, and servers expire sessions anyway.
    fn leave(self: Box<Self>) -> Pending<'static, ()>;
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider \"{provider}\": environment variable {var} (token_env) is not set")]
    MissingToken { provider: String, var: String },
    #[error("provider \"{provider}\": {field} is not an {scheme}(s) URL once its environment variables are filled in")]
    WrongScheme {
        provider: String,
        field: String,
        scheme: &'static str,
    },
    #[error("provider \"{provider}\": environment variable {var} ({field}) is not set")]
    MissingEnv {
        provider: String,
        field: String,
        var: String,
    },
    #[error("provider \"{provider}\": {reason}")]
    Sidecar { provider: String, reason: String },
    #[error("provider \"{provider}\": cannot start the embedded SFU: {reason}")]
    Embedded { provider: String, reason: String },
}

/// Opens the provider a file names: the one place kinds are registered. `host` is where our
/// own server listens when clients reach it from namespaces (the kernel path). A `[sidecar]`
/// table starts its sidecar around the kind.
pub async fn open(
    file: &ProviderFile,
    host: Option<IpAddr>,
) -> Result<Box<dyn Provider>, ProviderError> {
    let kind: Box<dyn Provider> = match file.kind {
        ProviderKind::Embedded => Box::new(embedded::Embedded::start(file, host).await?),
        ProviderKind::WhipWhep => Box::new(whip_whep::WhipWhep::from_env(file)?),
        ProviderKind::Janus => Box::new(janus::JanusRoom::new(file)),
        ProviderKind::Sidecar => Box::new(sidecar::SignalsInSidecar::new(file)),
        ProviderKind::Cdn => Box::new(cdn::CdnOnly::from_env(file)?),
    };
    match &file.sidecar {
        Some(spec) => Ok(Box::new(
            sidecar::WithSidecar::start(kind, file, spec).await?,
        )),
        None => Ok(kind),
    }
}
