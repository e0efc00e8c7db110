//! A provider file: the kind, the endpoints and the names of the environment variables that
//! hold secrets (never the secrets themselves), checked with file, line and field.

use crate::base::units::{ByteSize, HumanDuration};
use crate::client::native::IcePolicy;
use crate::scenario::{self, Problem, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// A client in a sidecar process that signals by itself (a vendor's Web SDK in a browser
    /// page): it both publishes and plays.
    Sidecar,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub name: String,
    pub kind: ProviderKind,
    /// WHIP endpoint; `{room}` is replaced by the session's room name.
    #[serde(default)]
    pub whip_url: Option<String>,
    /// WHEP endpoint; `{room}` is replaced by the room to play. Without it the provider takes
    /// streams in (WHIP ingest) but plays them only through its own SDK, which rtcbench's
    /// native client cannot do.
    #[serde(default)]
    pub whep_url: Option<String>,
    /// Janus's HTTP API, e.g. `http://10.99.0.2:8088/janus`.
    #[serde(default)]
    pub janus_url: Option<String>,
    /// Name of the environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The token for playback (WHEP), when it is not `token_env`'s (e.g. a subscribe token).
    #[serde(default)]
    pub whep_token_env: Option<String>,
    /// Limit for each signalling request and for ICE/DTLS to connect.
    #[serde(default = "default_step_timeout")]
    pub step_timeout: HumanDuration,
    /// The most a signalling answer (an SDP answer, a Janus reply) may hold; a larger one fails
    /// its step before it is read into memory.
    #[serde(default = "default_max_signal_body")]
    pub max_signal_body: ByteSize,
    /// "relay" offers only candidates relayed by the TURN servers the provider names (as a
    /// browser's iceTransportPolicy does), to measure the TURN path.
    #[serde(default)]
    pub ice_transport_policy: IcePolicy,
    /// Play (and for kind "sidecar", publish) through a sidecar client.
    #[serde(default)]
    pub sidecar: Option<SidecarSpec>,
}

fn default_max_signal_body() -> ByteSize {
    ByteSize(crate::provider::signal::body::MAX_SIGNAL_BODY as u64)
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
            whep_token_env: None,
            step_timeout: default_step_timeout(),
            max_signal_body: default_max_signal_body(),
            ice_transport_policy: IcePolicy::All,
            sidecar: None,
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
    match (&p.sidecar, p.kind) {
        (None, ProviderKind::Sidecar) => {
            return Err((
                None,
                "sidecar".into(),
                "a sidecar provider needs a [sidecar] table (command and page)".into(),
            ))
        }
        (Some(_), ProviderKind::Janus) => {
            return Err((
                None,
                "sidecar".into(),
                "a janus provider plays through the native client only".into(),
            ))
        }
        (Some(spec), _) => {
            let field = |f: &str| format!("sidecar.{f}");
            if spec.command.first().is_none_or(|c| c.is_empty()) {
                return Err((None, field("command"), "name the program to run".into()));
            }
            if spec.page.is_empty() {
                return Err((
                    None,
                    field("page"),
                    "name the page, e.g. \"whip-whep\"".into(),
                ));
            }
            if spec.every == 0 {
                return Err((None, field("every"), "must be 1 or more".into()));
            }
            if p.kind == ProviderKind::Sidecar && spec.every != 1 {
                return Err((
                    None,
                    field("every"),
                    "a sidecar provider plays every viewer in the sidecar".into(),
                ));
            }
        }
        (None, _) => {}
    }
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
        if p.whip_url.is_none() {
            return Err((
                None,
                "whip_url".into(),
                "a whip-whep provider needs whip_url (whep_url too, to play streams back)".into(),
            ));
        }
        for (field, url) in [("whip_url", &p.whip_url), ("whep_url", &p.whep_url)] {
            if let Some(u) = url {
                // A whole URL may come from the environment when it carries a key.
                let http = u.starts_with("http://") || u.starts_with("https://");
                if !http && !u.starts_with("{env:") {
                    return Err((None, field.into(), format!("\"{u}\" is not an http(s) URL")));
                }
                check_placeholders(u).map_err(|why| (None, field.into(), why))?;
            }
        }
    }
    Ok(())
}

/// A URL's placeholders: `{room}`, and `{env:NAME}` for a part kept in the environment (a
/// stream key in the path, say) so that it stays out of files, results and reports.
fn check_placeholders(url: &str) -> Result<(), String> {
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("\"{url}\": a '{{' is not closed"))?;
        let inner = &after[..close];
        match inner.strip_prefix("env:") {
            _ if inner == "room" => {}
            Some(var)
                if !var.is_empty()
                    && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {}
            _ => {
                return Err(format!(
                    "\"{url}\": unknown placeholder {{{inner}}}; use {{room}} or {{env:VARIABLE}}"
                ))
            }
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Whether a TOML file is a provider file (a top-level `kind`, no groups) rather than a
/// scenario; a file that does not parse is left to the scenario reader to report.
pub fn is_provider_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("kind") && !t.contains_key("group"))
}

/// Sessions played by a sidecar process instead of the native client.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarSpec {
    /// The program and its arguments, e.g. ["node", "sidecar/browser/sidecar.js"]; relative
    /// paths are from the folder rtcbench runs in.
    pub command: Vec<String>,
    /// The sidecar's page: "whip-whep", or a vendor's ("agora", "trtc", "zego").
    pub page: String,
    /// Every this-many-th viewer uses the sidecar (1: all); the rest use the native client, so
    /// one run compares the two on the same stream.
    #[serde(default = "every_viewer")]
    pub every: u32,
    /// Credentials the page needs, as environment variables: e.g. { app_id = "AGORA_APP_ID" }.
    #[serde(default)]
    pub credentials_env: BTreeMap<String, String>,
}

fn every_viewer() -> u32 {
    1
}
