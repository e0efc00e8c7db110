//! Providers: how to join, publish, subscribe and leave. Media always flows through our own
//! client, so every provider is measured the same way. A provider file names the kind, the
//! endpoints and the environment variables that hold secrets (never the secrets themselves).

pub mod embedded;
pub mod janus;
pub mod link;
pub mod whip_whep;

pub use crate::client::native::IcePolicy;
use crate::scenario::units::HumanDuration;
use crate::scenario::{self, Problem, ScenarioError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// rtcbench's own reference SFU, started in-process on 127.0.0.1.
    Embedded,
    /// Any WHIP (publish) and WHEP (play) server.
    WhipWhep,
    /// Janus's VideoRoom plugin over Janus's HTTP API.
    Janus,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub name: String,
    pub kind: ProviderKind,
    /// WHIP endpoint; `{room}` is replaced by the session's room name.
    #[serde(default)]
    pub whip_url: Option<String>,
    /// WHEP endpoint; `{room}` is replaced by the room to play.
    #[serde(default)]
    pub whep_url: Option<String>,
    /// Janus's HTTP API, e.g. `http://10.99.0.2:8088/janus`.
    #[serde(default)]
    pub janus_url: Option<String>,
    /// Name of the environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Limit for each signalling request and for ICE/DTLS to connect.
    #[serde(default = "default_step_timeout")]
    pub step_timeout: HumanDuration,
    /// "relay" offers only candidates relayed by the TURN servers the provider names (as a
    /// browser's iceTransportPolicy does), to measure the TURN path.
    #[serde(default)]
    pub ice_transport_policy: IcePolicy,
}

fn default_step_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl ProviderFile {
    pub fn embedded() -> Self {
        Self {
            name: "embedded".into(),
            kind: ProviderKind::Embedded,
            whip_url: None,
            whep_url: None,
            janus_url: None,
            token_env: None,
            step_timeout: default_step_timeout(),
            ice_transport_policy: IcePolicy::All,
        }
    }
}

pub fn load(path: &Path) -> Result<ProviderFile, ScenarioError> {
    scenario::load_toml(path, validate)
}

pub fn parse(source: &str, file: &str) -> Result<ProviderFile, ScenarioError> {
    scenario::parse_toml(source, file, validate)
}

fn validate(p: &ProviderFile) -> Result<(), Problem> {
    if p.kind == ProviderKind::Janus {
        match &p.janus_url {
            None => return Err((
                None,
                "janus_url".into(),
                "a janus provider needs janus_url (its HTTP API, e.g. http://10.99.0.2:8088/janus)"
                    .into(),
            )),
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err((
                    None,
                    "janus_url".into(),
                    format!("\"{u}\" is not an http(s) URL"),
                ))
            }
            _ => {}
        }
    }
    if p.kind == ProviderKind::WhipWhep {
        for (field, url) in [("whip_url", &p.whip_url), ("whep_url", &p.whep_url)] {
            match url {
                None => {
                    return Err((
                        None,
                        field.into(),
                        "a whip-whep provider needs both whip_url and whep_url".into(),
                    ))
                }
                Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    return Err((None, field.into(), format!("\"{u}\" is not an http(s) URL")))
                }
                Some(u) if !u.contains("{room}") => {
                    return Err((
                        None,
                        field.into(),
                        format!("\"{u}\" has no {{room}} placeholder"),
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Where and how to signal, resolved at run time (secrets read from the environment here).
#[derive(Clone)]
pub struct Endpoints {
    pub provider: String,
    whip: String,
    whep: String,
    pub bearer: Option<String>,
    pub step_timeout: Duration,
    pub ice_policy: IcePolicy,
    /// Base URL of the live-room API (comments, likes, orders), when the provider serves one.
    pub live_room_api: Option<String>,
    /// Where provider-side faults are scheduled: the embedded provider only (it is ours).
    pub server_faults: Option<crate::sfu::faults::FaultSchedule>,
    /// Janus's HTTP API, for a janus provider (then `whip` and `whep` are unused).
    pub janus: Option<String>,
    /// The namespaces of clients on the kernel network path, when a profile uses it.
    pub kernel_net: Option<std::sync::Arc<crate::net::kernel::KernelNet>>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches logs.
        f.debug_struct("Endpoints")
            .field("provider", &self.provider)
            .field("whip", &self.whip)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider \"{provider}\": environment variable {var} (token_env) is not set")]
    MissingToken { provider: String, var: String },
    #[error("provider \"{provider}\": cannot start the embedded SFU: {reason}")]
    Embedded { provider: String, reason: String },
}

impl Endpoints {
    pub fn whip(&self, room: &str) -> String {
        self.whip.replace("{room}", room)
    }
    pub fn whep(&self, room: &str) -> String {
        self.whep.replace("{room}", room)
    }

    pub fn for_whip_whep(p: &ProviderFile) -> Result<Self, ProviderError> {
        let bearer = match &p.token_env {
            Some(var) => Some(std::env::var(var).map_err(|_| ProviderError::MissingToken {
                provider: p.name.clone(),
                var: var.clone(),
            })?),
            None => None,
        };
        Ok(Self {
            provider: p.name.clone(),
            whip: p.whip_url.clone().unwrap_or_default(),
            whep: p.whep_url.clone().unwrap_or_default(),
            bearer,
            step_timeout: p.step_timeout.0,
            ice_policy: p.ice_transport_policy,
            live_room_api: None,
            server_faults: None,
            janus: None,
            kernel_net: None,
        })
    }

    pub fn for_janus(p: &ProviderFile) -> Self {
        Self {
            provider: p.name.clone(),
            whip: String::new(),
            whep: String::new(),
            bearer: None,
            step_timeout: p.step_timeout.0,
            ice_policy: p.ice_transport_policy,
            live_room_api: None,
            server_faults: None,
            janus: p.janus_url.clone(),
            kernel_net: None,
        }
    }

    pub fn for_server(
        name: &str,
        server: &crate::sfu::server::ReferenceServer,
        step_timeout: Duration,
    ) -> Self {
        Self {
            provider: name.to_string(),
            whip: server.whip_url("{room}"),
            whep: server.whep_url("{room}"),
            bearer: None,
            step_timeout,
            ice_policy: IcePolicy::All,
            live_room_api: Some(format!("http://{}", server.http_addr)),
            server_faults: Some(server.faults()),
            janus: None,
            kernel_net: None,
        }
    }
}
