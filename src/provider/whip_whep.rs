//! The `whip-whep` kind: any WHIP (publish) and WHEP (play) server. URLs may carry `{room}` and
//! `{env:NAME}` parts; tokens and URL parts from the environment are secrets, blanked from every
//! error text.

use super::cdn::CdnEndpoints;
use super::file::ProviderFile;
use super::signal::ice::{self, Notes};
use super::signal::whip::{self, Resource};
use super::signal::SignalError;
use super::{Abilities, Basics, Join, Joined, Pending, Provider, ProviderError, Step};
use crate::base::redact::Redactor;
use crate::client::native::{IcePolicy, IceServerOutcome};
use crate::media::receiver::SessionFailure;
use crate::media::simulcast::LayerAsk;
use crate::scenario::audience::LiveProtocol;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// A WHIP/WHEP server, with its secrets read from the environment.
#[derive(Clone)]
pub struct WhipWhep {
    basics: Basics,
    whip: String,
    /// None: the provider plays streams back only through its own SDK.
    whep: Option<String>,
    whip_bearer: Option<String>,
    whep_bearer: Option<String>,
    /// Values taken from the environment (tokens, URL parts), blanked out of error texts in
    /// every form they may come back in.
    secrets: Redactor,
    /// The CDN's RTMP push and playback URL templates.
    cdn: CdnEndpoints,
}

impl std::fmt::Debug for WhipWhep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches logs.
        f.debug_struct("WhipWhep")
            .field("name", &self.basics.name)
            .field("whip", &self.redact(&self.whip))
            .finish_non_exhaustive()
    }
}

impl WhipWhep {
    pub fn from_env(p: &ProviderFile) -> Result<Self, ProviderError> {
        Self::from_lookup(p, &|var| std::env::var(var).ok())
    }

    /// `from_env` with the environment read through `lookup`.
    fn from_lookup(
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
        let cdn = CdnEndpoints::resolve(p, lookup, &mut secrets)?;
        Ok(Self {
            basics: Basics::of(p),
            whip,
            whep,
            whip_bearer,
            whep_bearer,
            secrets: Redactor::new(secrets),
            cdn,
        })
    }

    /// Our own server's endpoints (the embedded provider signals through them).
    pub fn at(name: &str, whip: String, whep: String, step_timeout: Duration) -> Self {
        Self {
            basics: Basics {
                name: name.to_string(),
                step_timeout,
                max_body: crate::provider::signal::body::MAX_SIGNAL_BODY,
                ice_policy: IcePolicy::All,
            },
            whip,
            whep: Some(whep),
            whip_bearer: None,
            whep_bearer: None,
            secrets: Redactor::default(),
            cdn: CdnEndpoints::default(),
        }
    }

    /// The endpoint to publish into (WHIP) or play (WHEP) `room`.
    /// Where the CDN serves `room` over `protocol`, if the file says.
    pub fn playback_url(&self, room: &str, protocol: LiveProtocol) -> Option<String> {
        self.cdn.playback_url(room, protocol)
    }

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

    /// `text` with every value taken from the environment blanked out.
    pub fn redact(&self, text: &str) -> String {
        self.cdn.mask(&self.secrets.redact(text))
    }

    async fn negotiate(&self, join: Join<'_>) -> Result<Box<dyn Joined>, SessionFailure> {
        let publishing = join.peer.publishing();
        let offer = join
            .peer
            .create_offer()
            .map_err(|e| Step::Offer.failed(e.to_string()))?;
        let url = self.url(join.room, publishing);
        let (bearer, timeout) = (self.bearer(publishing), self.step_timeout());
        let limit = self.basics.max_body;
        let resource = if publishing {
            whip::offer_within(join.http, &url, offer, bearer, timeout, limit).await
        } else {
            whip::play(join.http, &url, offer, bearer, timeout, limit).await
        }
        // A URL built from secret environment variables may be quoted in an HTTP error.
        .map_err(|e| e.step.failed(self.redact(&e.reason)))?;
        if let Err(e) = join.peer.accept_answer(&resource.answer) {
            let failure = SignalError::new(Step::Answer, e.to_string());
            return Err(self.discard(join.http, &resource, failure).await);
        }
        let servers = ice::resolve(&resource, self.step_timeout(), join.notes).await;
        if self.ice_policy() == IcePolicy::Relay
            && !servers.iter().any(|s| s.server.credential.is_some())
        {
            let failure = SignalError::new(
                Step::Connect,
                "ice_transport_policy is \"relay\" but the provider named no TURN server",
            );
            return Err(self.discard(join.http, &resource, failure).await);
        }
        join.peer.use_ice_servers(servers, &resource.answer);
        Ok(Box::new(Held {
            resource,
            http: join.http.clone(),
            notes: join.notes.clone(),
            step_timeout: self.step_timeout(),
            trickling: None,
        }))
    }
}

impl WhipWhep {
    /// Deletes a session the server made before a later step failed; the failure, redacted.
    async fn discard(
        &self,
        http: &reqwest::Client,
        resource: &Resource,
        failure: SignalError,
    ) -> SessionFailure {
        let e = whip::discard(http, resource, self.step_timeout(), failure).await;
        e.step.failed(self.redact(&e.reason))
    }
}

impl Provider for WhipWhep {
    fn basics(&self) -> &Basics {
        &self.basics
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            plays_back: self.whep.is_some(),
            rooms: self.whip.contains("{room}")
                && self.whep.as_ref().is_none_or(|w| w.contains("{room}")),
            ..Abilities::REMOTE
        }
    }

    fn playback_url(&self, room: &str, protocol: LiveProtocol) -> Option<String> {
        WhipWhep::playback_url(self, room, protocol)
    }

    fn redact(&self, text: &str) -> String {
        WhipWhep::redact(self, text)
    }

    fn rtmp_push_url(&self, room: &str) -> Option<String> {
        self.cdn.push_url(room)
    }

    fn signalling_url(&self, room: &str, publishing: bool) -> String {
        self.url(room, publishing)
    }

    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        Box::pin(self.negotiate(join))
    }

    fn page_endpoints(&self, room: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("whip_url".to_string(), self.url(room, true)),
            ("whep_url".to_string(), self.url(room, false)),
        ])
    }

    fn sidecar_token(&self) -> Option<String> {
        self.whip_bearer.clone()
    }
}

/// A WHIP/WHEP resource: candidates are trickled to it, and it is deleted on leaving.
struct Held {
    resource: Resource,
    http: reqwest::Client,
    notes: Notes,
    step_timeout: Duration,
    trickling: Option<tokio::task::JoinHandle<()>>,
}

impl Joined for Held {
    fn ice_outcomes(&mut self) -> Option<mpsc::UnboundedSender<IceServerOutcome>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.trickling = Some(tokio::spawn(ice::trickle_outcomes(
            rx,
            self.http.clone(),
            self.step_timeout,
            self.resource.clone(),
            self.notes.clone(),
        )));
        Some(tx)
    }

    fn ask_layer(&self, ask: LayerAsk) -> Pending<'_, Result<(), SignalError>> {
        Box::pin(whip::ask_layer(
            &self.http,
            &self.resource,
            ask.rid(),
            self.step_timeout,
        ))
    }

    fn leave(self: Box<Self>) -> Pending<'static, ()> {
        Box::pin(async move {
            // The peer's driver has dropped its sender; the last PATCH has its own timeout.
            if let Some(task) = self.trickling {
                let _ = tokio::time::timeout(self.step_timeout, task).await;
            }
            if let Some(url) = &self.resource.url {
                let bearer = self.resource.bearer.as_deref();
                let _ = whip::leave(&self.http, url, bearer, self.step_timeout).await;
            }
        })
    }
}

/// Replaces each `{env:NAME}` in `url` with the variable's value; the values are secrets. The
/// result must be an http(s) URL.
fn resolve_env(
    provider: &str,
    field: &str,
    url: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<String, ProviderError> {
    resolve_env_as(provider, field, url, lookup, secrets, "http")
}

/// [`resolve_env`] for a URL of `scheme` ("http" takes https too).
pub(super) fn resolve_env_as(
    provider: &str,
    field: &str,
    url: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
    scheme: &'static str,
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
    let secure = format!("{scheme}s://");
    if !(out.starts_with(&format!("{scheme}://")) || out.starts_with(&secure)) {
        return Err(ProviderError::WrongScheme {
            provider: provider.to_string(),
            field: field.to_string(),
            scheme,
        });
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::parse;

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
        let e = WhipWhep::from_lookup(&p, &env).expect("resolved");
        assert_eq!(e.url("r1", true), "https://h/s3cret-key/whip/r1");
        assert_eq!(e.url("r1", false), "https://h/whep/acc42/r1");
        assert_eq!(e.bearer(true), Some("pub-token"));
        assert_eq!(e.bearer(false), Some("sub-token"));
        assert!(e.abilities().plays_back && e.abilities().rooms);
        let said = "error sending request for url (https://h/s3cret-key/whip/r1): Bearer pub-token";
        assert_eq!(
            e.redact(said),
            "error sending request for url (https://h/***/whip/r1): Bearer ***"
        );
        assert!(!format!("{e:?}").contains("s3cret"));
    }

    #[test]
    fn cdn_playback_urls_take_their_auth_key_from_the_environment_and_blank_it() {
        let p = parse(
            "name = \"cdn\"\nkind = \"whip-whep\"\n\
             whip_url = \"https://h/whip/{room}\"\n\
             hls_url = \"https://play.test/live/{room}.m3u8?txSecret={env:KEY}\"\n",
            "p.toml",
        )
        .expect("valid");
        let e = WhipWhep::from_lookup(&p, &env).expect("resolved");
        let url = e.playback_url("r1", LiveProtocol::Hls).expect("an HLS URL");
        assert_eq!(url, "https://play.test/live/r1.m3u8?txSecret=s3cret-key");
        assert!(e.playback_url("r1", LiveProtocol::HttpFlv).is_none());
        assert!(!e.redact(&format!("{url}: HTTP 403")).contains("s3cret-key"));
        let janus = parse(
            "name = \"j\"\nkind = \"janus\"\njanus_url = \"http://h/janus\"\nhls_url = \"http://h/{room}.m3u8\"\n",
            "p.toml",
        );
        assert!(janus
            .expect_err("not for janus")
            .to_string()
            .contains("whip-whep"));
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
        let e = WhipWhep::from_lookup(&p, &env)
            .expect_err("unset")
            .to_string();
        assert!(e.contains("MISSING (whip_url) is not set"), "{e}");
        let p = file("{env:KEY}").expect("valid");
        let e = WhipWhep::from_lookup(&p, &env)
            .expect_err("not http")
            .to_string();
        assert!(
            e.contains("whip_url is not an http(s) URL") && !e.contains("s3cret"),
            "{e}"
        );
        let p = file("https://h/live").expect("one stream");
        let e = WhipWhep::from_lookup(&p, &env).expect("resolved");
        assert!(!e.abilities().plays_back && !e.abilities().rooms);
    }
}
