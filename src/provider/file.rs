//! A provider file: the kind, the endpoints and the names of the environment variables that
//! hold secrets (never the secrets themselves), checked with file, line and field.

use crate::base::units::{ByteSize, HumanDuration};
use crate::client::native::IcePolicy;
use crate::scenario::{self, Problem, Problems, ScenarioError};
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
    /// A live CDN without WebRTC: hosts push RTMP (`rtmp_push_url`), viewers play HTTP-FLV,
    /// HLS or LL-HLS (nginx-rtmp, Tencent CSS, Alibaba ApsaraVideo Live...).
    Cdn,
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
    /// Where the provider's CDN serves a room to HTTP-FLV viewers (a whip-whep provider);
    /// `{room}` is replaced, and `${VAR}` parts (auth keys) come from the environment.
    #[serde(default)]
    pub http_flv_url: Option<String>,
    /// The same for HLS viewers (a media or master playlist).
    #[serde(default)]
    pub hls_url: Option<String>,
    /// The same for LL-HLS viewers.
    #[serde(default)]
    pub ll_hls_url: Option<String>,
    /// Where a host pushes a room over RTMP (`publisher = "rtmp"`): `rtmp://HOST[:PORT]/APP/
    /// {room}`, with the CDN's signature as `{env:NAME}` parts (whip-whep and cdn kinds).
    #[serde(default)]
    pub rtmp_push_url: Option<String>,
    /// How the CDN signs push URLs (`scheme`, `key_env`, `valid_for`): each push URL is
    /// signed when the host dials.
    #[serde(default)]
    pub push_auth: Option<super::url_auth::UrlAuthSpec>,
    /// The same for play URLs.
    #[serde(default)]
    pub play_auth: Option<super::url_auth::UrlAuthSpec>,
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
            http_flv_url: None,
            hls_url: None,
            ll_hls_url: None,
            rtmp_push_url: None,
            push_auth: None,
            play_auth: None,
        }
    }
}

pub fn load(path: &Path) -> Result<ProviderFile, ScenarioError> {
    scenario::load_toml(path, validate)
}

pub fn parse(source: &str, file: &str) -> Result<ProviderFile, ScenarioError> {
    scenario::parse_toml(source, file, validate)
}

/// Every problem of a provider file, each at its field.
fn validate(p: &ProviderFile) -> Problems {
    let mut problems = sidecar_problems(p);
    problems.extend(url_problems(p));
    problems.extend(limit_problems(p));
    problems
}

fn problem(field: &str, message: impl Into<String>) -> Problem {
    (None, field.to_string(), message.into())
}

fn sidecar_problems(p: &ProviderFile) -> Problems {
    let spec = match (&p.sidecar, p.kind) {
        (None, ProviderKind::Sidecar) => {
            return vec![problem(
                "sidecar",
                "a sidecar provider needs a [sidecar] table (command and page)",
            )]
        }
        (Some(_), ProviderKind::Janus) => {
            return vec![problem(
                "sidecar",
                "a janus provider plays through the native client only",
            )]
        }
        (Some(spec), _) => spec,
        (None, _) => return Vec::new(),
    };
    let mut problems = Vec::new();
    if spec.command.first().is_none_or(|c| c.is_empty()) {
        problems.push(problem("sidecar.command", "name the program to run"));
    }
    if spec.page.is_empty() {
        problems.push(problem("sidecar.page", "name the page, e.g. \"whip-whep\""));
    }
    if spec.every == 0 {
        problems.push(problem("sidecar.every", "must be 1 or more"));
    } else if p.kind == ProviderKind::Sidecar && spec.every != 1 {
        problems.push(problem(
            "sidecar.every",
            "a sidecar provider plays every viewer in the sidecar",
        ));
    }
    problems
}

/// The endpoints a kind needs, each a URL that parses (scheme, host, port, IPv6 brackets).
fn url_problems(p: &ProviderFile) -> Problems {
    let mut problems = Vec::new();
    let needed = match p.kind {
        ProviderKind::Janus => Some((
            "janus_url",
            &p.janus_url,
            "a janus provider needs janus_url (its HTTP API, e.g. http://10.99.0.2:8088/janus)",
        )),
        ProviderKind::WhipWhep => Some((
            "whip_url",
            &p.whip_url,
            "a whip-whep provider needs whip_url (whep_url too, to play streams back)",
        )),
        _ => None,
    };
    if let Some((field, None, why)) = needed {
        problems.push(problem(field, why));
    }
    let urls = [
        ("whip_url", &p.whip_url),
        ("whep_url", &p.whep_url),
        ("janus_url", &p.janus_url),
        ("http_flv_url", &p.http_flv_url),
        ("hls_url", &p.hls_url),
        ("ll_hls_url", &p.ll_hls_url),
    ];
    problems.extend(cdn_problems(p));
    for (field, url) in urls {
        if let Some(Err(why)) = url.as_deref().map(|u| check_url(u, "http")) {
            problems.push(problem(field, why));
        }
    }
    if let Some(Err(why)) = p.rtmp_push_url.as_deref().map(|u| check_url(u, "rtmp")) {
        problems.push(problem("rtmp_push_url", why));
    }
    problems
}

/// CDN URLs belong to the kinds that take them, and a CDN-only provider has something to play.
fn cdn_problems(p: &ProviderFile) -> Problems {
    let play = [&p.http_flv_url, &p.hls_url, &p.ll_hls_url];
    let has_cdn = play.iter().any(|u| u.is_some()) || p.rtmp_push_url.is_some();
    let mut problems = Vec::new();
    if p.push_auth.is_some() && p.rtmp_push_url.is_none() {
        problems.push(problem(
            "push_auth",
            "signs rtmp_push_url, which is not set",
        ));
    }
    if p.play_auth.is_some() && play.iter().all(|u| u.is_none()) {
        problems.push(problem("play_auth", "signs the play URLs, and none is set"));
    }
    if !matches!(p.kind, ProviderKind::WhipWhep | ProviderKind::Cdn) && has_cdn {
        problems.push(problem(
            "hls_url",
            "CDN URLs are for kind = \"whip-whep\" or \"cdn\" (the embedded provider serves its own)",
        ));
    }
    if p.kind == ProviderKind::Cdn {
        if play.iter().all(|u| u.is_none()) {
            problems.push(problem(
                "hls_url",
                "a cdn provider needs a play URL: http_flv_url, hls_url or ll_hls_url",
            ));
        }
        let webrtc = [
            ("whip_url", &p.whip_url),
            ("whep_url", &p.whep_url),
            ("janus_url", &p.janus_url),
        ];
        if let Some((field, _)) = webrtc.iter().find(|(_, u)| u.is_some()) {
            problems.push(problem(
                field,
                "a cdn provider has no WebRTC endpoints (use kind = \"whip-whep\" with CDN URLs)",
            ));
        }
    }
    problems
}

/// A URL as a run will use it, with its placeholders filled in as any value would.
fn check_url(url: &str, scheme: &str) -> Result<(), String> {
    check_placeholders(url)?;
    // A whole URL may come from the environment when it carries a key.
    if url.starts_with("{env:") {
        return Ok(());
    }
    let filled = fill_placeholders(url);
    let parsed =
        reqwest::Url::parse(&filled).map_err(|e| format!("\"{url}\" is not a URL: {e}"))?;
    if parsed.scheme() != scheme && parsed.scheme() != format!("{scheme}s") {
        return Err(format!("\"{url}\" is not an {scheme}(s) URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("\"{url}\" names no host"));
    }
    Ok(())
}

/// `url` with `{room}` and `{env:NAME}` replaced by plain words.
fn fill_placeholders(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push('x');
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// The step timeout and the signalling body limit, within what a run can use.
fn limit_problems(p: &ProviderFile) -> Problems {
    let mut problems = Vec::new();
    let timeout = p.step_timeout.0;
    if timeout < MIN_STEP_TIMEOUT || timeout > MAX_STEP_TIMEOUT {
        problems.push(problem(
            "step_timeout",
            format!(
                "{} is outside {} to {}: every signalling request and ICE/DTLS must fit in it",
                humantime::format_duration(timeout),
                humantime::format_duration(MIN_STEP_TIMEOUT),
                humantime::format_duration(MAX_STEP_TIMEOUT)
            ),
        ));
    }
    if p.max_signal_body.0 < MIN_SIGNAL_BODY {
        problems.push(problem(
            "max_signal_body",
            format!(
                "{} bytes cannot hold an SDP answer; give {MIN_SIGNAL_BODY} bytes or more (the default is 1MiB)",
                p.max_signal_body.0
            ),
        ));
    }
    problems
}

/// The environment variables a provider file names, by field, that are not set now: a run
/// would fail on them at its start, but CI may set them later, so `validate` only warns.
pub fn unset_env(p: &ProviderFile, lookup: &impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut named: Vec<(String, String)> = Vec::new();
    for (field, var) in [
        ("token_env", &p.token_env),
        ("whep_token_env", &p.whep_token_env),
    ] {
        named.extend(var.iter().map(|v| (field.to_string(), v.clone())));
    }
    for (field, url) in [
        ("whip_url", &p.whip_url),
        ("whep_url", &p.whep_url),
        ("http_flv_url", &p.http_flv_url),
        ("hls_url", &p.hls_url),
        ("ll_hls_url", &p.ll_hls_url),
        ("rtmp_push_url", &p.rtmp_push_url),
    ] {
        for var in url.as_deref().map(env_placeholders).unwrap_or_default() {
            named.push((field.to_string(), var));
        }
    }
    for (field, auth) in [("push_auth", &p.push_auth), ("play_auth", &p.play_auth)] {
        if let Some(auth) = auth {
            named.push((format!("{field}.key_env"), auth.key_env.clone()));
        }
    }
    if let Some(spec) = &p.sidecar {
        for (key, var) in &spec.credentials_env {
            named.push((format!("sidecar.credentials_env.{key}"), var.clone()));
        }
    }
    named.retain(|(_, var)| !lookup(var));
    named
}

fn env_placeholders(url: &str) -> Vec<String> {
    url.split("{env:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(var, _)| var.to_string()))
        .collect()
}

/// A step timeout shorter than a loopback round trip plus a DTLS handshake fails every join;
/// one longer than this holds a stopping run (and a Kubernetes pod's grace period) hostage.
const MIN_STEP_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(600);
/// The smallest SDP answers are about 1 kB; Janus replies are JSON of a few hundred bytes.
const MIN_SIGNAL_BODY: u64 = 4096;

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
    crate::base::files::read_to_string_limited(path, scenario::MAX_FILE)
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
