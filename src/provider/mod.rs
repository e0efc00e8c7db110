//! Providers: how to join, publish, subscribe and leave. Media always flows through our own
//! client, so every provider is measured the same way. A provider file names the kind, the
//! endpoints and the environment variables that hold secrets (never the secrets themselves).

pub mod embedded;
pub mod janus;
pub mod sidecar;
pub mod whip_whep;

use crate::base::units::HumanDuration;
pub use crate::client::native::IcePolicy;
use crate::scenario::{self, Problem, ScenarioError};
use serde::{Deserialize, Serialize};
pub use sidecar::{SidecarSpec, SidecarUse};
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
    /// "relay" offers only candidates relayed by the TURN servers the provider names (as a
    /// browser's iceTransportPolicy does), to measure the TURN path.
    #[serde(default)]
    pub ice_transport_policy: IcePolicy,
    /// Play (and for kind "sidecar", publish) through a sidecar client.
    #[serde(default)]
    pub sidecar: Option<SidecarSpec>,
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

/// Replaces each `{env:NAME}` in `url` with the variable's value; the values are secrets.
fn resolve_env(
    provider: &str,
    field: &str,
    url: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<String, ProviderError> {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find("{env:") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 5..];
        let close = after.find('}').unwrap_or(after.len());
        let var = &after[..close];
        let value = lookup(var).ok_or_else(|| ProviderError::MissingEnv {
            provider: provider.to_string(),
            field: field.to_string(),
            var: var.to_string(),
        })?;
        out.push_str(&value);
        secrets.push(value);
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    if !(out.starts_with("http://") || out.starts_with("https://")) {
        return Err(ProviderError::NotHttp {
            provider: provider.to_string(),
            field: field.to_string(),
        });
    }
    Ok(out)
}

/// Whether a TOML file is a provider file (a top-level `kind`, no groups) rather than a
/// scenario; a file that does not parse is left to the scenario reader to report.
pub fn is_provider_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("kind") && !t.contains_key("group"))
}

fn token(
    provider: &str,
    var: &Option<String>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ProviderError> {
    match var {
        Some(var) => lookup(var)
            .map(Some)
            .ok_or_else(|| ProviderError::MissingToken {
                provider: provider.to_string(),
                var: var.clone(),
            }),
        None => Ok(None),
    }
}

/// Where and how to signal, resolved at run time (secrets read from the environment here).
#[derive(Clone)]
pub struct Endpoints {
    pub provider: String,
    whip: String,
    /// None: the provider plays streams back only through its own SDK.
    whep: Option<String>,
    whip_bearer: Option<String>,
    whep_bearer: Option<String>,
    /// Values taken from the environment (tokens, URL parts), blanked out of error texts.
    secrets: Vec<String>,
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
    /// The sidecar that plays (some) sessions, once the runner has started it.
    pub sidecar: Option<SidecarUse>,
    /// The Janus rooms the run made, destroyed when it ends.
    pub janus_rooms: janus::Rooms,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches logs.
        f.debug_struct("Endpoints")
            .field("provider", &self.provider)
            .field("whip", &self.redact(&self.whip))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider \"{provider}\": environment variable {var} (token_env) is not set")]
    MissingToken { provider: String, var: String },
    #[error("provider \"{provider}\": {field} is not an http(s) URL once its environment variables are filled in")]
    NotHttp { provider: String, field: String },
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

impl Endpoints {
    /// The endpoint to publish into (WHIP) or play (WHEP) `room`.
    pub fn url(&self, room: &str, publishing: bool) -> String {
        match publishing {
            true => self.whip.replace("{room}", room),
            false => self
                .whep
                .as_deref()
                .unwrap_or_default()
                .replace("{room}", room),
        }
    }

    pub fn bearer(&self, publishing: bool) -> Option<&str> {
        match publishing {
            true => self.whip_bearer.as_deref(),
            false => self.whep_bearer.as_deref(),
        }
    }

    /// Whether viewers can play streams back (a WHEP URL, Janus, or the embedded SFU).
    pub fn plays_back(&self) -> bool {
        self.janus.is_some() || self.whep.is_some()
    }

    /// Whether each room gets its own endpoint; without `{room}`, one stream is all there is.
    pub fn has_rooms(&self) -> bool {
        self.janus.is_some()
            || (self.whip.contains("{room}")
                && self.whep.as_ref().is_none_or(|w| w.contains("{room}")))
    }

    /// `text` with every value taken from the environment blanked out.
    pub fn redact(&self, text: &str) -> String {
        self.secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
    }

    pub fn for_whip_whep(p: &ProviderFile) -> Result<Self, ProviderError> {
        Self::whip_whep_from(p, &|var| std::env::var(var).ok())
    }

    /// `for_whip_whep` with the environment read through `lookup`.
    fn whip_whep_from(
        p: &ProviderFile,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ProviderError> {
        let whip_bearer = token(&p.name, &p.token_env, lookup)?;
        let whep_bearer = match &p.whep_token_env {
            Some(_) => token(&p.name, &p.whep_token_env, lookup)?,
            None => whip_bearer.clone(),
        };
        let mut secrets: Vec<String> = whip_bearer.iter().chain(&whep_bearer).cloned().collect();
        let whip = resolve_env(
            &p.name,
            "whip_url",
            p.whip_url.as_deref().unwrap_or_default(),
            lookup,
            &mut secrets,
        )?;
        let whep = match &p.whep_url {
            Some(u) => Some(resolve_env(&p.name, "whep_url", u, lookup, &mut secrets)?),
            None => None,
        };
        Ok(Self {
            provider: p.name.clone(),
            whip,
            whep,
            whip_bearer,
            whep_bearer,
            secrets,
            step_timeout: p.step_timeout.0,
            ice_policy: p.ice_transport_policy,
            live_room_api: None,
            server_faults: None,
            janus: None,
            kernel_net: None,
            sidecar: None,
            janus_rooms: janus::Rooms::default(),
        })
    }

    /// A provider whose client (the sidecar) does all the signalling.
    pub fn for_sidecar(p: &ProviderFile) -> Self {
        let mut e = Self::for_janus(p);
        e.janus = None;
        e
    }

    /// The bearer token of the provider, for a sidecar to use.
    pub fn token(&self) -> Option<&str> {
        self.whip_bearer.as_deref()
    }

    pub fn for_janus(p: &ProviderFile) -> Self {
        Self {
            provider: p.name.clone(),
            whip: String::new(),
            whep: None,
            whip_bearer: None,
            whep_bearer: None,
            secrets: Vec::new(),
            step_timeout: p.step_timeout.0,
            ice_policy: p.ice_transport_policy,
            live_room_api: None,
            server_faults: None,
            janus: p.janus_url.clone(),
            kernel_net: None,
            sidecar: None,
            janus_rooms: janus::Rooms::default(),
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
            whep: Some(server.whep_url("{room}")),
            whip_bearer: None,
            whep_bearer: None,
            secrets: Vec::new(),
            step_timeout,
            ice_policy: IcePolicy::All,
            live_room_api: Some(format!("http://{}", server.http_addr)),
            server_faults: Some(server.faults()),
            janus: None,
            kernel_net: None,
            sidecar: None,
            janus_rooms: janus::Rooms::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        match var {
            "KEY" => Some("s3cret-key".into()),
            "ACCOUNT" => Some("acc42".into()),
            "PUB" => Some("pub-token".into()),
            "SUB" => Some("sub-token".into()),
            _ => None,
        }
    }

    #[test]
    fn env_placeholders_fill_urls_and_their_values_are_blanked_from_errors() {
        let p = parse(
            "name = \"p\"\nkind = \"whip-whep\"\n\
             whip_url = \"https://h/{env:KEY}/whip/{room}\"\n\
             whep_url = \"https://h/whep/{env:ACCOUNT}/{room}\"\n\
             token_env = \"PUB\"\nwhep_token_env = \"SUB\"\n",
            "p.toml",
        )
        .expect("valid");
        let e = Endpoints::whip_whep_from(&p, &env).expect("resolved");
        assert_eq!(e.url("r1", true), "https://h/s3cret-key/whip/r1");
        assert_eq!(e.url("r1", false), "https://h/whep/acc42/r1");
        assert_eq!(e.bearer(true), Some("pub-token"));
        assert_eq!(e.bearer(false), Some("sub-token"));
        assert!(e.plays_back() && e.has_rooms());
        let said = "error sending request for url (https://h/s3cret-key/whip/r1): Bearer pub-token";
        assert_eq!(
            e.redact(said),
            "error sending request for url (https://h/***/whip/r1): Bearer ***"
        );
        assert!(!format!("{e:?}").contains("s3cret"));
    }

    #[test]
    fn placeholders_and_env_urls_are_checked() {
        let file = |whip: &str| {
            parse(
                &format!("name = \"p\"\nkind = \"whip-whep\"\nwhip_url = \"{whip}\"\n"),
                "p.toml",
            )
        };
        let e = file("https://h/{stream}").expect_err("unknown").to_string();
        assert!(e.contains("whip_url") && e.contains("{stream}"), "{e}");
        let e = file("https://h/{env:}").expect_err("empty").to_string();
        assert!(e.contains("{env:}"), "{e}");
        let e = file("ftp://h/{room}").expect_err("scheme").to_string();
        assert!(e.contains("not an http(s) URL"), "{e}");
        let p = file("{env:MISSING}").expect("a whole URL from the environment");
        let e = Endpoints::whip_whep_from(&p, &env)
            .expect_err("unset")
            .to_string();
        assert!(e.contains("MISSING (whip_url) is not set"), "{e}");
        let p = file("{env:KEY}").expect("valid");
        let e = Endpoints::whip_whep_from(&p, &env)
            .expect_err("not http")
            .to_string();
        assert!(
            e.contains("whip_url is not an http(s) URL") && !e.contains("s3cret"),
            "{e}"
        );
        let p = file("https://h/live").expect("one stream");
        let e = Endpoints::whip_whep_from(&p, &env).expect("resolved");
        assert!(!e.plays_back() && !e.has_rooms());
    }
}
