//! The `cdn` kind: a live CDN without WebRTC (nginx-rtmp, Tencent Cloud CSS, Alibaba
//! ApsaraVideo Live, Volcengine, Agora Media Push): our host pushes RTMP to its ingest and the
//! audience plays HTTP-FLV, HLS or LL-HLS from its edge. And the URL templates the `whip-whep`
//! kind shares: `{room}` replaced, `{env:NAME}` parts (auth keys, signatures) from the
//! environment and blanked from every text that leaves.

use super::file::ProviderFile;
use super::url_auth::{mask_params, UrlAuthSpec, UrlSigner};
use super::whip_whep::resolve_env_as;
use super::{Abilities, Basics, Join, Joined, Pending, Provider, ProviderError, Step};
use crate::base::redact::Redactor;
use crate::media::receiver::SessionFailure;
use crate::scenario::audience::LiveProtocol;

/// A CDN's RTMP push and playback URL templates, their secrets filled in, and how it signs
/// them.
#[derive(Debug, Clone, Default)]
pub struct CdnEndpoints {
    push: Option<String>,
    /// HTTP-FLV, HLS, LL-HLS.
    play: [Option<String>; 3],
    push_signer: Option<UrlSigner>,
    play_signer: Option<UrlSigner>,
}

/// The signer a `[push_auth]` or `[play_auth]` table names, its key from the environment.
fn signer(
    provider: &str,
    field: &str,
    spec: &Option<UrlAuthSpec>,
    lookup: &impl Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<Option<UrlSigner>, ProviderError> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let key = lookup(&spec.key_env).ok_or_else(|| ProviderError::MissingEnv {
        provider: provider.to_string(),
        field: format!("{field}.key_env"),
        var: spec.key_env.clone(),
    })?;
    secrets.push(key.clone());
    Ok(Some(UrlSigner::new(spec.scheme, key, spec.valid_for.0)))
}

impl CdnEndpoints {
    pub fn resolve(
        p: &ProviderFile,
        lookup: &impl Fn(&str) -> Option<String>,
        secrets: &mut Vec<String>,
    ) -> Result<Self, ProviderError> {
        let mut play: [Option<String>; 3] = Default::default();
        let templates = [
            ("http_flv_url", &p.http_flv_url),
            ("hls_url", &p.hls_url),
            ("ll_hls_url", &p.ll_hls_url),
        ];
        for (slot, (field, template)) in play.iter_mut().zip(templates) {
            if let Some(t) = template {
                *slot = Some(resolve_env_as(&p.name, field, t, lookup, secrets, "http")?);
            }
        }
        let push = match &p.rtmp_push_url {
            Some(t) => Some(resolve_env_as(
                &p.name,
                "rtmp_push_url",
                t,
                lookup,
                secrets,
                "rtmp",
            )?),
            None => None,
        };
        Ok(Self {
            push,
            play,
            push_signer: signer(&p.name, "push_auth", &p.push_auth, lookup, secrets)?,
            play_signer: signer(&p.name, "play_auth", &p.play_auth, lookup, secrets)?,
        })
    }

    /// `text` with the signatures of signed URLs blanked (the keys are the caller's secrets).
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for signer in self.push_signer.iter().chain(&self.play_signer) {
            out = mask_params(&out, signer.scheme().signature_params());
        }
        out
    }

    pub fn playback_url(&self, room: &str, protocol: LiveProtocol) -> Option<String> {
        let slot = match protocol {
            LiveProtocol::HttpFlv => 0,
            LiveProtocol::Hls => 1,
            LiveProtocol::LlHls => 2,
        };
        let url = self.play[slot].as_ref()?.replace("{room}", room);
        Some(match &self.play_signer {
            Some(s) => s.sign_now(&url),
            None => url,
        })
    }

    /// Where `room` is pushed, signed to expire `valid_for` from now when the CDN signs.
    pub fn push_url(&self, room: &str) -> Option<String> {
        let url = self.push.as_ref()?.replace("{room}", room);
        Some(match &self.push_signer {
            Some(s) => s.sign_now(&url),
            None => url,
        })
    }

    /// Every template names the room: each room is its own stream.
    fn has_rooms(&self) -> bool {
        self.push
            .iter()
            .chain(self.play.iter().flatten())
            .all(|t| t.contains("{room}"))
    }
}

/// A CDN-only provider.
pub struct CdnOnly {
    basics: Basics,
    endpoints: CdnEndpoints,
    secrets: Redactor,
}

impl CdnOnly {
    pub fn from_env(p: &ProviderFile) -> Result<Self, ProviderError> {
        Self::from_lookup(p, &|var| std::env::var(var).ok())
    }

    fn from_lookup(
        p: &ProviderFile,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ProviderError> {
        let mut secrets = Vec::new();
        let endpoints = CdnEndpoints::resolve(p, lookup, &mut secrets)?;
        Ok(Self {
            basics: Basics::of(p),
            endpoints,
            secrets: Redactor::new(secrets),
        })
    }
}

impl Provider for CdnOnly {
    fn basics(&self) -> &Basics {
        &self.basics
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            plays_back: false,
            rooms: self.endpoints.has_rooms(),
            webrtc: false,
            ..Abilities::REMOTE
        }
    }

    fn signalling_url(&self, _room: &str, _publishing: bool) -> String {
        String::new()
    }

    fn join<'a>(&'a self, _join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        // The runner refuses a plan with WebRTC sessions for this kind before anything dials.
        let name = self.basics.name.clone();
        Box::pin(async move {
            Err(Step::Offer.failed(format!(
                "provider \"{name}\" is a CDN without WebRTC signalling"
            )))
        })
    }

    fn playback_url(&self, room: &str, protocol: LiveProtocol) -> Option<String> {
        self.endpoints.playback_url(room, protocol)
    }

    fn rtmp_push_url(&self, room: &str) -> Option<String> {
        self.endpoints.push_url(room)
    }

    fn redact(&self, text: &str) -> String {
        self.endpoints.mask(&self.secrets.redact(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::parse;

    #[test]
    fn a_cdn_file_takes_its_signature_from_the_environment_and_blanks_it() {
        let file = parse(
            "name = \"css\"\nkind = \"cdn\"\n\
             rtmp_push_url = \"rtmp://push.test/live/{room}?txSecret={env:SIGN}&txTime=6F\"\n\
             http_flv_url = \"https://play.test/live/{room}.flv\"\n",
            "css.toml",
        )
        .unwrap();
        let lookup = |v: &str| (v == "SIGN").then(|| "s3cr3t".to_string());
        let cdn = CdnOnly::from_lookup(&file, &lookup).unwrap();
        let push = cdn.rtmp_push_url("r1").unwrap();
        assert_eq!(push, "rtmp://push.test/live/r1?txSecret=s3cr3t&txTime=6F");
        assert!(!cdn.redact(&push).contains("s3cr3t"));
        assert!(cdn.abilities().rooms && !cdn.abilities().webrtc);
        assert!(cdn.playback_url("r1", LiveProtocol::Hls).is_none());
        let missing = CdnOnly::from_lookup(&file, &|_| None).err().unwrap();
        assert!(missing.to_string().contains("SIGN"), "{missing}");
    }

    #[test]
    fn signed_urls_carry_the_schemes_parameters_and_their_signatures_never_leave() {
        let file = parse(
            "name = \"css\"\nkind = \"cdn\"\n\
             rtmp_push_url = \"rtmp://push.test/live/{room}\"\n\
             hls_url = \"https://play.test/live/{room}.m3u8\"\n\
             [push_auth]\nscheme = \"tencent\"\nkey_env = \"PUSH_KEY\"\nvalid_for = \"2h\"\n\
             [play_auth]\nscheme = \"alibaba\"\nkey_env = \"PLAY_KEY\"\n",
            "css.toml",
        )
        .unwrap();
        let lookup = |v: &str| Some(format!("key-of-{v}"));
        let cdn = CdnOnly::from_lookup(&file, &lookup).unwrap();
        let push = cdn.rtmp_push_url("r1").unwrap();
        assert!(
            push.starts_with("rtmp://push.test/live/r1?txSecret="),
            "{push}"
        );
        assert!(push.contains("&txTime="));
        let play = cdn.playback_url("r1", LiveProtocol::Hls).unwrap();
        assert!(play.contains(".m3u8?auth_key="), "{play}");
        let error = format!("{push}: refused; {play}: HTTP 403; key key-of-PUSH_KEY");
        let shown = cdn.redact(&error);
        let signature = |url: &str, param: &str| {
            url.split(param)
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_string()
        };
        for secret in [
            signature(&push, "txSecret="),
            signature(&play, "auth_key="),
            "key-of-PUSH_KEY".to_string(),
        ] {
            assert!(!shown.contains(&secret), "{secret} in {shown}");
        }
        let unset = CdnOnly::from_lookup(&file, &|v| (v == "PUSH_KEY").then(String::new));
        assert!(unset.err().unwrap().to_string().contains("PLAY_KEY"));
    }

    #[test]
    fn a_cdn_file_without_a_play_url_or_with_webrtc_endpoints_is_refused() {
        let none = parse("name = \"c\"\nkind = \"cdn\"\n", "c.toml").unwrap_err();
        assert!(none.to_string().contains("needs a play URL"), "{none}");
        let whip = parse(
            "name = \"c\"\nkind = \"cdn\"\nwhip_url = \"http://h/w\"\nhls_url = \"http://h/{room}.m3u8\"\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(whip.to_string().contains("no WebRTC endpoints"), "{whip}");
        let scheme = parse(
            "name = \"c\"\nkind = \"cdn\"\nrtmp_push_url = \"http://h/live/{room}\"\nhls_url = \"http://h/{room}.m3u8\"\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(scheme.to_string().contains("rtmp(s) URL"), "{scheme}");
    }
}
