//! The scenario file format (TOML). Every struct denies unknown fields so a typo is an error
//! with its line, not a silently ignored setting.

use crate::base::units::{Bitrate, HumanDuration, Percent};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// How long each group's media flows, from its start.
    pub duration: HumanDuration,
    /// Seed for every random choice; the command line's `--seed` overrides it.
    #[serde(default)]
    pub seed: Option<u64>,
    /// How media travels: the in-process simulated link, or real WebRTC through a provider.
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub video: VideoSpec,
    #[serde(default)]
    pub audio: AudioSpec,
    /// Named network profiles, in addition to the built-in ones.
    #[serde(default)]
    pub network: BTreeMap<String, super::profiles::NetworkSpec>,
    /// Stream groups: one publisher and its receivers each.
    #[serde(rename = "group")]
    pub groups: Vec<GroupSpec>,
    /// Service-level objectives the run must meet (k6 thresholds' counterpart).
    #[serde(default, rename = "gate")]
    pub gates: Vec<Spanned<GateSpec>>,
    /// Raise one room's audience step by step until a gate breaks.
    #[serde(default)]
    pub capacity: Option<Spanned<CapacitySpec>>,
    /// HTTP side-load (comments, likes, orders) beside the media.
    #[serde(default, rename = "http")]
    pub http: Vec<Spanned<super::http::HttpLoadSpec>>,
    /// Faults on a schedule: media blackholed, the provider restarted, signalling failing.
    #[serde(default, rename = "fault")]
    pub faults: Vec<Spanned<super::faults::FaultSpec>>,
    /// What clients do when their connection is lost.
    #[serde(default)]
    pub reconnect: super::faults::ReconnectSpec,
    /// Which WebRTC client plays the native viewers.
    #[serde(default)]
    pub viewer_client: ViewerClient,
    /// Thresholds and weights for scoring providers on this scenario (a scoring file given to
    /// `compare` goes on top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<super::scoring::ScoringSpec>,
}

/// A capacity search: the audience of `group` climbs from `start` by `step` up to `max`, each
/// level reached over `rise` and held for `hold`; gates are judged on each hold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    pub group: String,
    pub start: u32,
    pub step: u32,
    pub max: u32,
    pub hold: HumanDuration,
    #[serde(default = "default_rise")]
    pub rise: HumanDuration,
}

fn default_rise() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(3))
}

/// `metric` (a measured metric with a `stat`, or a group total without one) must stay `below`
/// or `above` a value, in every group or in the one named.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    pub metric: String,
    #[serde(default)]
    pub stat: Option<String>,
    #[serde(default)]
    pub below: Option<f64>,
    #[serde(default)]
    pub above: Option<f64>,
    #[serde(default)]
    pub group: Option<String>,
    /// Stop the run as soon as the gate breaks on what was measured so far (k6's abortOnFail).
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Do not judge an aborting gate before this far into the run (default 10 s).
    #[serde(default)]
    pub abort_after: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSpec {
    #[serde(default = "default_width")]
    pub width: Dimension,
    #[serde(default = "default_height")]
    pub height: Dimension,
    #[serde(default = "default_fps")]
    pub fps: FrameRate,
    #[serde(default = "default_video_bitrate")]
    pub bitrate: Bitrate,
    /// Time between forced key frames (receivers may ask for more).
    #[serde(default = "default_keyframe_interval")]
    pub keyframe_interval: HumanDuration,
    /// Quality probes decode every frame (freezes, frame rate, the marker) and score PSNR/SSIM
    /// on every n-th by frame number: the same frames for every probe.
    #[serde(default)]
    pub probe_score_every: ScoreEvery,
    /// Simulcast: the layers below this one, sent beside it (`simulcast.rs`).
    #[serde(default)]
    pub simulcast: Vec<super::simulcast::LayerSpec>,
}

impl Default for VideoSpec {
    fn default() -> Self {
        Self {
            width: default_width(),
            height: default_height(),
            fps: default_fps(),
            bitrate: default_video_bitrate(),
            keyframe_interval: default_keyframe_interval(),
            probe_score_every: ScoreEvery::default(),
            simulcast: Vec::new(),
        }
    }
}

fn default_width() -> Dimension {
    Dimension(640)
}
fn default_height() -> Dimension {
    Dimension(360)
}
fn default_fps() -> FrameRate {
    FrameRate(30)
}
fn default_video_bitrate() -> Bitrate {
    Bitrate(1_000_000)
}
fn default_keyframe_interval() -> HumanDuration {
    HumanDuration::from_millis(4_000)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_audio_bitrate")]
    pub bitrate: Bitrate,
}

impl Default for AudioSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            bitrate: default_audio_bitrate(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_audio_bitrate() -> Bitrate {
    Bitrate(32_000)
}

/// Impairment of a receiver's network: on the simulated transport, the one-way link from the
/// publisher; on WebRTC, what reaches the client's socket (and, with `uplink`, what leaves it).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkProfile {
    /// One-way delay added.
    #[serde(default)]
    pub delay: HumanDuration,
    /// Each packet's delay varies uniformly within ± this much.
    #[serde(default)]
    pub jitter: HumanDuration,
    /// Random loss.
    #[serde(default)]
    pub loss: Percent,
    /// Whether jittered packets may overtake each other (WebRTC; the simulated link always may).
    #[serde(default = "default_true")]
    pub reorder: bool,
    /// Mean length of a loss burst in packets (Gilbert-Elliott), instead of independent losses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<f64>,
    /// Share of datagrams delivered twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Percent>,
    /// A bottleneck's rate, with a drop-tail queue holding `queue` of it (default 200 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Bitrate>,
    /// The rate cap's queue, as time at the capped rate; datagrams beyond it are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<HumanDuration>,
    /// Windows in which nothing gets through, from the session's start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<WindowSpec>,
    /// The client's sending direction (WebRTC), when it is impaired too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<Box<NetworkProfile>>,
    /// Other profiles taking over during the run (from the group's start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduledProfile>,
    /// Where the impairment is done: rtcbench's user-space layer, or the kernel.
    #[serde(default, skip_serializing_if = "NetworkPath::is_user")]
    pub path: NetworkPath,
}

/// Where a profile's impairment is done (WebRTC).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPath {
    /// rtcbench's layer in front of each client's socket: no root needed, every feature.
    #[default]
    User,
    /// Each client in a network namespace, shaped by tbf, iptables `statistic` and netem
    /// (where the kernel has it): root only; delay, jitter, loss and rate.
    Kernel,
}

impl NetworkPath {
    pub fn is_user(&self) -> bool {
        *self == NetworkPath::User
    }
}

/// From `at` after the group's start, the network is `network` (the profile named `profile`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledProfile {
    /// When the profile takes over, from the group's start.
    pub at: HumanDuration,
    /// Its name.
    pub profile: String,
    /// The profile itself.
    pub network: Box<NetworkProfile>,
}

/// A span of time, from an origin the field names (a session's or a group's start).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Start, from the origin the field names.
    pub start: HumanDuration,
    /// End, from the same origin.
    pub end: HumanDuration,
}

impl Default for NetworkProfile {
    fn default() -> Self {
        Self {
            delay: HumanDuration::default(),
            jitter: HumanDuration::default(),
            loss: Percent::default(),
            reorder: true,
            burst: None,
            duplicate: None,
            rate: None,
            queue: None,
            outages: Vec::new(),
            uplink: None,
            schedule: Vec::new(),
            path: NetworkPath::User,
        }
    }
}

impl NetworkProfile {
    /// Whether it asks for what only the WebRTC impairment layer does.
    pub fn needs_impairment_layer(&self) -> bool {
        !self.reorder
            || self.burst.is_some()
            || self.duplicate.is_some()
            || self.rate.is_some()
            || self.queue.is_some()
            || !self.outages.is_empty()
            || self.uplink.is_some()
            || !self.schedule.is_empty()
            || self.path == NetworkPath::Kernel
    }
}

/// The WebRTC client native viewers run on (publishers always run on str0m's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewerClient {
    /// str0m's whole session per viewer: NACK/RTX repair, TURN, answering a provider's offer.
    #[default]
    Full,
    /// rtcbench's own receive path (docs/measurement.md): ICE, DTLS, SRTP, the receiver and a
    /// browser's feedback, at about half the CPU; it offers (WHEP), from its host candidate.
    Light,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Simulated,
    Webrtc,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// One host publishes; the receivers watch.
    #[default]
    Room,
    /// Pairs dial each other (1v1): each side publishes and watches the other.
    Call,
    /// Linked hosts (连麦): each publishes and watches the others while an audience watches
    /// them; PK rounds and a switch of two hosts to a private call happen on a schedule.
    Cohost,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub kind: GroupKind,
    /// Receivers (viewers) subscribed to a room's publisher.
    #[serde(default = "zero")]
    pub receivers: Spanned<u32>,
    /// Concurrent 1v1 calls, for `kind = "call"`.
    #[serde(default = "zero")]
    pub pairs: Spanned<u32>,
    /// Time between successive joins (receivers of a room, or calls).
    #[serde(default)]
    pub stagger: HumanDuration,
    /// How many of the receivers decode every frame and measure picture quality.
    #[serde(default = "default_probes")]
    pub probes: Spanned<u32>,
    /// A network profile name: built-in or defined under `[network.NAME]`.
    #[serde(default = "default_network")]
    pub network: Spanned<String>,
    /// Shares of a room's viewers on other profiles (WebRTC), e.g. 20 % on 4g; each share is
    /// reported as its own group, `NAME@PROFILE`.
    #[serde(default)]
    pub networks: Vec<Spanned<NetworkShare>>,
    /// Shares of a room's viewers that watch through the provider's CDN (HTTP-FLV, HLS,
    /// LL-HLS); each share is reported as its own group, `NAME~PROTOCOL`.
    #[serde(default)]
    pub audience: Vec<Spanned<super::audience::AudienceShare>>,
    /// The network of the publisher(s) (WebRTC): the profile applies to what they send.
    #[serde(default)]
    pub publisher_network: Option<Spanned<String>>,
    /// When this group starts, from the start of the run.
    #[serde(default)]
    pub start: HumanDuration,
    /// Overrides the scenario's video bit rate for this group.
    #[serde(default)]
    pub bitrate: Option<Bitrate>,
    /// Who publishes a room: rtcbench's own host, or someone already live in `room`.
    #[serde(default = "default_publisher")]
    pub publisher: Spanned<Publisher>,
    /// The room to join, as the provider names it (default: a name made up for the run).
    #[serde(default)]
    pub room: Option<Spanned<String>>,
    /// The audience over time, instead of a fixed `receivers` count (WebRTC rooms).
    #[serde(default)]
    pub stages: Vec<Spanned<StageSpec>>,
    /// How long each viewer watches in an arrival-rate profile (default: to the end of the run).
    #[serde(default)]
    pub watch: Option<HumanDuration>,
    /// Share of the audience that leaves and rejoins each minute.
    #[serde(default)]
    pub churn_per_min: Option<Percent>,
    /// Share of viewer sessions that are quality probes (instead of a `probes` count).
    #[serde(default)]
    pub probe_share: Option<Percent>,
    /// Linked hosts, for `kind = "cohost"`.
    #[serde(default = "zero")]
    pub hosts: Spanned<u32>,
    /// PK rounds, for `kind = "cohost"`: meanwhile each viewer also watches the partner host.
    #[serde(default)]
    pub pk: Vec<Spanned<WindowSpec>>,
    /// When the first two hosts leave the room for a private 1v1 call (from the group's start).
    #[serde(default)]
    pub switch_to_call: Option<Spanned<HumanDuration>>,
    /// The simulcast layer a room's viewers ask for when they join, instead of the provider's
    /// choice (WHEP layer selection, Janus substreams).
    #[serde(default)]
    pub layer: Option<Spanned<super::simulcast::LayerChoice>>,
    /// Later asks, each from the group's start.
    #[serde(default)]
    pub layer_schedule: Vec<Spanned<super::simulcast::LayerStep>>,
}

/// A share of a room's viewers on another network profile.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkShare {
    pub profile: String,
    pub share: Percent,
}

/// One stage of a load profile: one of `ramp`, `step`, `hold` or `pulse` (its length), and for
/// all but `hold` a target: `to` concurrent viewers or `rate` joins per second.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    #[serde(default)]
    pub ramp: Option<HumanDuration>,
    /// A ramp meant to be short: the "starting gun" jump to the peak.
    #[serde(default)]
    pub step: Option<HumanDuration>,
    #[serde(default)]
    pub hold: Option<HumanDuration>,
    /// Up to the target and back to the previous level within this time.
    #[serde(default)]
    pub pulse: Option<HumanDuration>,
    #[serde(default)]
    pub to: Option<u32>,
    #[serde(default)]
    pub rate: Option<f64>,
    /// How long a pulse takes to rise and to fall (default 1 s).
    #[serde(default)]
    pub rise: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Publisher {
    /// rtcbench publishes its synthetic source (over WebRTC: WHIP or the provider's signalling).
    #[default]
    Rtcbench,
    /// rtcbench pushes its synthetic source over RTMP, as a live-commerce encoder does, to the
    /// provider's RTMP ingest (`rtmp_push_url`); video only.
    Rtmp,
    /// OBS, ffmpeg, aiortc or a browser publishes, ideally the clip from `rtcbench export-clip`
    /// so probes can score it; latency is measured only if it sends abs-capture-time.
    External,
}

fn zero() -> Spanned<u32> {
    Spanned::new(0..0, 0)
}
fn default_probes() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn default_publisher() -> Spanned<Publisher> {
    Spanned::new(0..0, Publisher::Rtcbench)
}
fn default_network() -> Spanned<String> {
    Spanned::new(0..0, "clean".to_string())
}

/// A picture dimension in pixels: even (4:2:0 chroma) and within what the marker can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dimension(pub u32);

impl Dimension {
    pub const MIN: u32 = 160;
    pub const MAX: u32 = 3840;
}

impl<'de> Deserialize<'de> for Dimension {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v % 2 != 0 || v < Dimension::MIN as i64 || v > Dimension::MAX as i64 {
            return Err(de::Error::custom(format!(
                "{v} pixels is not allowed; use an even number from {} to {}",
                Dimension::MIN,
                Dimension::MAX
            )));
        }
        Ok(Dimension(v as u32))
    }
}

/// Which frames a quality probe scores: every n-th, n from 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScoreEvery(pub u32);

impl Default for ScoreEvery {
    /// Every 4th: a scored frame costs a probe about 0.4 ms at 640x360 besides the decode that
    /// every frame needs (0.65 ms); a quarter of them keeps 7 scores a second at 30 fps and
    /// about 40 probes on a core instead of 30 (docs/measurement.md).
    fn default() -> Self {
        Self(4)
    }
}

impl<'de> Deserialize<'de> for ScoreEvery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if !(1..=1000).contains(&v) {
            return Err(de::Error::custom(format!(
                "probe_score_every {v} is not allowed; use 1 (every frame) to 1000"
            )));
        }
        Ok(ScoreEvery(v as u32))
    }
}

/// Frames per second, 1 to 120.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FrameRate(pub u32);

impl<'de> Deserialize<'de> for FrameRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if !(1..=120).contains(&v) {
            return Err(de::Error::custom(format!(
                "frame rate {v} is not allowed; use 1 to 120 frames per second"
            )));
        }
        Ok(FrameRate(v as u32))
    }
}
