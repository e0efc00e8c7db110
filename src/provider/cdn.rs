//! The `cdn` kind: a live CDN without WebRTC (nginx-rtmp, Tencent Cloud CSS, Alibaba
//! ApsaraVideo Live, Volcengine, Agora Media Push): our host pushes RTMP to its ingest and the
//! audience plays HTTP-FLV, HLS or LL-HLS from its edge. And the URL templates the `whip-whep`
//! kind shares: `{room}` replaced, `{env:NAME}` parts (auth keys, signatures) from the
//! environment and blanked from every text that leaves.

use super::file::ProviderFile;
use super::whip_whep::resolve_env_as;
use super::{Abilities, Basics, Join, Joined, Pending, Provider, ProviderError, Step};
use crate::base::redact::Redactor;
use crate::media::receiver::SessionFailure;
use crate::scenario::audience::LiveProtocol;

/// A CDN's RTMP push and playback URL templates, their secrets filled in.
#[derive(Debug, Clone, Default)]
pub struct CdnEndpoints {
    push: Option<String>,
    /// HTTP-FLV, HLS, LL-HLS.
    play: [Option<String>; 3],
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
        Ok(Self { push, play })
    }

    pub fn playback_url(&self, room: &str, protocol: LiveProtocol) -> Option<String> {
        let slot = match protocol {
            LiveProtocol::HttpFlv => 0,
            LiveProtocol::Hls => 1,
            LiveProtocol::LlHls => 2,
        };
        self.play[slot].as_ref().map(|t| t.replace("{room}", room))
    }

    pub fn push_url(&self, room: &str) -> Option<String> {
        self.push.as_ref().map(|t| t.replace("{room}", room))
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
        self.secrets.redact(text)
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
