//! The CDN half of a room's audience: shares of its viewers that watch through the provider's
//! CDN (HTTP-FLV, HLS, LL-HLS) instead of WebRTC, each reported as its own group
//! (`NAME~PROTOCOL`) with its own player buffer.

use super::{GroupKind, GroupSpec, Problem, Scenario, Transport};
use crate::base::units::{HumanDuration, Percent};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a CDN viewer plays.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LiveProtocol {
    /// One long HTTP response carrying FLV (apps: flv.js, ijkplayer).
    HttpFlv,
    /// HLS: whole segments, the playlist reloaded every target duration (the web).
    Hls,
    /// Low-latency HLS: parts, blocking playlist reloads, preload hints.
    LlHls,
}

impl LiveProtocol {
    pub const ALL: [LiveProtocol; 3] = [
        LiveProtocol::HttpFlv,
        LiveProtocol::Hls,
        LiveProtocol::LlHls,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LiveProtocol::HttpFlv => "http-flv",
            LiveProtocol::Hls => "hls",
            LiveProtocol::LlHls => "ll-hls",
        }
    }

    /// Media a player buffers before it starts, by default: flv.js-like apps start on half a
    /// second, hls.js on a segment's worth, LL-HLS players on a few parts.
    pub fn default_start_buffer(self) -> Duration {
        match self {
            LiveProtocol::HttpFlv => Duration::from_millis(500),
            LiveProtocol::Hls => Duration::from_secs(1),
            LiveProtocol::LlHls => Duration::from_millis(600),
        }
    }
}

/// A share of a room's viewers watching through the CDN.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceShare {
    pub protocol: LiveProtocol,
    pub share: Percent,
    /// Media buffered before playback starts (default by protocol).
    #[serde(default)]
    pub start_buffer: Option<HumanDuration>,
    /// Media buffered before playback resumes after a stall (default: `start_buffer`).
    #[serde(default)]
    pub rebuffer: Option<HumanDuration>,
}

impl AudienceShare {
    pub fn start_buffer(&self) -> Duration {
        self.start_buffer
            .as_ref()
            .map_or(self.protocol.default_start_buffer(), |d| d.0)
    }

    pub fn rebuffer(&self) -> Duration {
        self.rebuffer.as_ref().map_or(self.start_buffer(), |d| d.0)
    }
}

/// The group a share of `group`'s viewers on `protocol` is reported as.
pub fn audience_group_name(group: &str, protocol: LiveProtocol) -> String {
    format!("{group}~{}", protocol.name())
}

/// A group's CDN shares: for WebRTC rooms, one share a protocol, together at most 100 %.
pub fn validate(s: &Scenario, g: &GroupSpec, at: &dyn Fn(&str) -> String) -> Result<(), Problem> {
    let mut total = 0.0;
    let mut seen = std::collections::BTreeSet::new();
    for (k, share) in g.audience.iter().enumerate() {
        let bad = |m: String| Err((Some(share.span()), at(&format!("audience[{k}]")), m));
        let spec = share.get_ref();
        if s.transport != Transport::Webrtc || g.kind != GroupKind::Room {
            return bad("a CDN audience is for kind = \"room\" with transport = \"webrtc\"".into());
        }
        if !g.networks.is_empty() {
            return bad(
                "a room's viewers are split by network or by CDN protocol, not both".into(),
            );
        }
        if s.capacity
            .as_ref()
            .is_some_and(|c| c.get_ref().group == *g.name.get_ref())
        {
            return bad("a capacity search's room has one audience".into());
        }
        if !seen.insert(spec.protocol) {
            return bad(format!("{} is listed twice", spec.protocol.name()));
        }
        total += spec.share.0;
        if spec.share.0 <= 0.0 || total > 100.0 {
            return bad(
                "shares are above 0 % and together at most 100 % (the rest watch over WebRTC)"
                    .into(),
            );
        }
        if spec.start_buffer().is_zero() || spec.start_buffer() > Duration::from_secs(30) {
            return bad("start_buffer is above 0 and at most 30 s".into());
        }
        if spec.rebuffer() > Duration::from_secs(30) {
            return bad("rebuffer is at most 30 s".into());
        }
    }
    Ok(())
}
