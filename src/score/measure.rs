//! What a score or a claim measures: a figure each session contributes (its unit), and the
//! statistic over the sessions chosen. Sessions are what the bootstrap resamples, so every
//! figure here is computed from a slice of session rows.

use super::emodel;
pub use super::prepared::Prepared;
use crate::media::receiver::ReceiverSummary;
use crate::results::{GroupResult, RunResults};
use serde::Serialize;

/// Where a session sits in the scenario, which decides the thresholds its latency meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Either side of a 1v1 call.
    Call,
    /// A co-hosting host watching another host (连麦, PK).
    Cohost,
    /// A viewer of a room or of co-hosting hosts over WebRTC.
    Audience,
    /// A viewer through the CDN (HTTP-FLV, HLS, LL-HLS): a room's `NAME~PROTOCOL` share.
    Cdn,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Call => "call",
            Role::Cohost => "cohost",
            Role::Audience => "audience",
            Role::Cdn => "cdn",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Call, Role::Cohost, Role::Audience, Role::Cdn]
            .into_iter()
            .find(|r| r.name() == s)
    }

    /// Conversational: the two ends talk to each other.
    pub fn interactive(self) -> bool {
        matches!(self, Role::Call | Role::Cohost)
    }
}

/// A figure each session can contribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Capture → frame complete, every frame of the session.
    E2eLatencyMs,
    /// Dial → first remote frame.
    ConnectMs,
    /// Subscription → first frame.
    FirstFrameMs,
    /// Dial → first frame where the session dialled, else subscription → first frame.
    TimeToFirstFrameMs,
    JoinSuccessPct,
    FreezeTimePct,
    DropPct,
    PsnrDb,
    Fps,
    /// Received frame rate as a share of the source's.
    FpsDeliveredPct,
    /// Pixels shown as a share of the source's, over the time watched (a simulcast viewer on a
    /// lower layer sees fewer).
    ResolutionDeliveredPct,
    /// ITU-T G.107 E-model MOS from the session's audio delay, jitter and gaps.
    Mos,
    /// Sessions with a negotiated track that carried no packet.
    SilentTrackPct,
    /// CDN viewers: tap → playback started (秒开).
    StartupMs,
    /// CDN viewers: stall time as a share of the time watched (卡顿率).
    StallRatioPct,
}

pub const SOURCES: [Source; 15] = [
    Source::E2eLatencyMs,
    Source::ConnectMs,
    Source::FirstFrameMs,
    Source::TimeToFirstFrameMs,
    Source::JoinSuccessPct,
    Source::FreezeTimePct,
    Source::DropPct,
    Source::PsnrDb,
    Source::Fps,
    Source::FpsDeliveredPct,
    Source::ResolutionDeliveredPct,
    Source::Mos,
    Source::SilentTrackPct,
    Source::StartupMs,
    Source::StallRatioPct,
];

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::E2eLatencyMs => "e2e_latency_ms",
            Source::ConnectMs => "connect_ms",
            Source::FirstFrameMs => "first_frame_ms",
            Source::TimeToFirstFrameMs => "time_to_first_frame_ms",
            Source::JoinSuccessPct => "join_success_pct",
            Source::FreezeTimePct => "freeze_time_pct",
            Source::DropPct => "drop_pct",
            Source::PsnrDb => "psnr_db",
            Source::Fps => "fps",
            Source::FpsDeliveredPct => "fps_delivered_pct",
            Source::ResolutionDeliveredPct => "resolution_delivered_pct",
            Source::Mos => "mos",
            Source::SilentTrackPct => "silent_track_pct",
            Source::StartupMs => "startup_ms",
            Source::StallRatioPct => "stall_ratio_pct",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        SOURCES.into_iter().find(|x| x.name() == s)
    }

    /// Shares (join success, freeze time, drops) are one ratio over all sessions and take no
    /// percentile; the others are distributions.
    pub fn is_share(self) -> bool {
        matches!(
            self,
            Source::JoinSuccessPct
                | Source::FreezeTimePct
                | Source::DropPct
                | Source::SilentTrackPct
                | Source::StallRatioPct
        )
    }

    fn index(self) -> usize {
        SOURCES.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// The statistic over sessions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    /// The quantile (0–1) of all samples pooled: every frame for e2e latency, one value per
    /// session otherwise.
    Quantile(f64),
    Mean,
    /// Σ part / Σ whole × 100, for shares.
    Share,
}

impl Stat {
    pub fn parse(s: &str) -> Option<Stat> {
        match s {
            "mean" => Some(Stat::Mean),
            "median" => Some(Stat::Quantile(0.5)),
            p if p.starts_with('p') => p[1..]
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && *v < 100.0)
                .map(|v| Stat::Quantile(v / 100.0)),
            _ => None,
        }
    }

    pub fn label(self) -> String {
        match self {
            Stat::Quantile(q) => format!("p{}", (q * 1000.0).round() / 10.0),
            Stat::Mean => "mean".into(),
            Stat::Share => "share".into(),
        }
    }
}

/// One session's contribution to a figure: (value, weight) pairs, or (part, whole) for shares.
pub type Unit = Vec<(f64, f64)>;

/// A session as the statistics see it.
#[derive(Debug, Clone)]
pub struct Row {
    pub role: Role,
    pub group: String,
    /// The network profile the session's client ran on.
    pub profile: String,
    /// The vantage point (a shard's `--region`) it ran from, if labelled.
    pub vantage: Option<String>,
    units: Vec<Option<Unit>>,
}

impl Row {
    /// A session with no figures yet.
    pub fn new(role: Role, group: &str, profile: &str) -> Self {
        Self {
            role,
            group: group.to_string(),
            profile: profile.to_string(),
            vantage: None,
            units: vec![None; SOURCES.len()],
        }
    }

    /// Whether the session ran at `place`: on that network profile, or from that vantage point.
    pub fn at(&self, place: &str) -> bool {
        self.profile == place || self.vantage.as_deref() == Some(place)
    }

    pub fn with(mut self, source: Source, unit: Unit) -> Self {
        self.units[source.index()] = Some(unit);
        self
    }

    pub fn unit(&self, source: Source) -> Option<&Unit> {
        self.units.get(source.index()).and_then(Option::as_ref)
    }
}

/// The role of a group's sessions. Co-host groups report the hosts' views of each other as
/// `NAME/hosts`; shares of a room's audience on other networks as `NAME@PROFILE`.
pub fn group_role(results: &RunResults, group: &str) -> Role {
    let base = group.split('@').next().unwrap_or(group);
    if base.contains('~') {
        return Role::Cdn;
    }
    if base.ends_with("/hosts") {
        return Role::Cohost;
    }
    let kind = results
        .scenario
        .get("group")
        .and_then(|g| g.as_array())
        .and_then(|groups| {
            groups
                .iter()
                .find(|g| g.get("name").and_then(|n| n.as_str()) == Some(base))
        })
        .and_then(|g| g.get("kind"))
        .and_then(|k| k.as_str());
    match kind {
        Some("call") => Role::Call,
        _ => Role::Audience,
    }
}

/// What the source sent, as the scenario says: what delivered shares are taken of.
#[derive(Debug, Clone, Copy)]
struct SourceVideo {
    fps: Option<f64>,
    pixels: Option<f64>,
}

fn source_video(results: &RunResults) -> SourceVideo {
    let field = |name: &str| {
        results
            .scenario
            .get("video")
            .and_then(|v| v.get(name))
            .and_then(|f| f.as_f64())
            .filter(|f| *f > 0.0)
    };
    SourceVideo {
        fps: field("fps"),
        pixels: field("width").zip(field("height")).map(|(w, h)| w * h),
    }
}

/// The share of `source_pixels` a session was shown, weighted by the time at each size.
fn resolution_delivered_pct(s: &ReceiverSummary, source_pixels: f64) -> Option<f64> {
    let layers = s.layers.as_ref()?;
    let (pixel_ms, ms) = layers.resolutions.iter().fold((0.0, 0.0), |(px, ms), r| {
        (
            px + f64::from(r.width) * f64::from(r.height) * r.ms,
            ms + r.ms,
        )
    });
    (ms > 0.0).then(|| (pixel_ms / ms / source_pixels * 100.0).min(100.0))
}

fn one(v: Option<f64>) -> Option<Unit> {
    v.filter(|v| v.is_finite()).map(|v| vec![(v, 1.0)])
}

fn share(part: bool) -> Option<Unit> {
    Some(vec![(if part { 1.0 } else { 0.0 }, 1.0)])
}

fn session_units(s: &ReceiverSummary, video: SourceVideo) -> Vec<Option<Unit>> {
    let joined = s.joined;
    SOURCES
        .iter()
        .map(|source| match source {
            Source::E2eLatencyMs => s.e2e_latency_us.as_ref().map(|h| {
                h.0.iter_recorded()
                    .map(|v| {
                        (
                            v.value_iterated_to() as f64 / 1000.0,
                            v.count_at_value() as f64,
                        )
                    })
                    .collect()
            }),
            Source::ConnectMs => one(s.connect_ms),
            Source::FirstFrameMs => one(s.first_frame_ms),
            Source::TimeToFirstFrameMs => one(s.connect_ms.or(s.first_frame_ms)),
            Source::JoinSuccessPct => share(joined),
            Source::FreezeTimePct => (joined && s.rendered_ms > 0.0)
                .then(|| vec![(s.freeze_time_pct * s.rendered_ms / 100.0, s.rendered_ms)]),
            Source::DropPct => joined.then(|| share(s.reconnects.drops > 0)).flatten(),
            Source::PsnrDb => one(s.psnr_db),
            Source::Fps => one(joined.then_some(s.fps)),
            Source::FpsDeliveredPct => one(video
                .fps
                .filter(|_| joined && s.frames_rendered > 1)
                .map(|target| (s.fps / target * 100.0).min(100.0))),
            Source::ResolutionDeliveredPct => one(video
                .pixels
                .filter(|_| joined)
                .and_then(|pixels| resolution_delivered_pct(s, pixels))),
            Source::Mos => one(emodel::session_mos(s)),
            Source::SilentTrackPct => share(!s.silent_tracks.is_empty()),
            Source::StartupMs => one(s.cdn.as_ref().and_then(|c| c.startup_ms)),
            Source::StallRatioPct => s
                .cdn
                .as_ref()
                .filter(|c| joined && c.watched_s > 0.0)
                .map(|c| vec![(c.stall_ms, c.watched_s * 1000.0)]),
        })
        .collect()
}

/// Every session of a run as rows; a publisher that could not publish counts as a failed
/// join of its group, as in the run's own totals.
pub fn rows(results: &RunResults) -> Vec<Row> {
    let source = source_video(results);
    results
        .groups
        .iter()
        .flat_map(|g| group_rows(results, g, source))
        .collect()
}

fn group_rows(results: &RunResults, g: &GroupResult, source: SourceVideo) -> Vec<Row> {
    let role = group_role(results, &g.name);
    let row = |units, vantage: Option<&String>| Row {
        role,
        group: g.name.clone(),
        profile: g.network_name.clone(),
        vantage: vantage.cloned(),
        units,
    };
    let mut out: Vec<Row> = g
        .sessions
        .iter()
        .map(|s| row(session_units(s, source), s.vantage.as_ref()))
        .collect();
    for _ in &g.publisher_failures {
        let mut units = vec![None; SOURCES.len()];
        units[Source::JoinSuccessPct.index()] = share(false);
        out.push(row(units, None));
    }
    out
}

/// `stat` of `source` over `rows`; NaN when no row has the figure.
pub fn statistic(rows: &[&Row], source: Source, stat: Stat) -> f64 {
    let units = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i as u32, r.unit(source)?)));
    Prepared::new(stat, units).estimate()
}

/// Which sessions a figure is taken over.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Interactive sessions only (calls and co-hosts), for conversational latency.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interactive: bool,
    /// WebRTC sessions only (every role but the CDN audience, which has figures of its own).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub webrtc: bool,
    /// CDN viewers of one protocol (`http-flv`, `hls`, `ll-hls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Filter {
    pub fn keeps(&self, r: &Row) -> bool {
        self.role.is_none_or(|role| r.role == role)
            && (!self.interactive || r.role.interactive())
            && (!self.webrtc || r.role != Role::Cdn)
            && self.protocol.as_ref().is_none_or(|p| {
                r.group
                    .split('@')
                    .next()
                    .and_then(|g| g.rsplit_once('~'))
                    .map(|(_, q)| q)
                    == Some(p.as_str())
            })
            && self
                .group
                .as_ref()
                .is_none_or(|g| &r.group == g || r.group.split('@').next() == Some(g.as_str()))
            && self.profile.as_ref().is_none_or(|p| r.at(p))
    }

    /// `role=cohost, profile=loss-70`, or "all sessions".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.role {
            parts.push(format!("role={}", r.name()));
        }
        if self.interactive {
            parts.push("calls and co-hosts".into());
        }
        if self.webrtc {
            parts.push("WebRTC".into());
        }
        if let Some(p) = &self.protocol {
            parts.push(format!("protocol={p}"));
        }
        if let Some(g) = &self.group {
            parts.push(format!("group={g}"));
        }
        if let Some(p) = &self.profile {
            parts.push(format!("profile={p}"));
        }
        if parts.is_empty() {
            "all sessions".into()
        } else {
            parts.join(", ")
        }
    }
}

/// A source, a statistic, and the sessions it is taken over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    pub source: Source,
    pub stat: Stat,
    pub filter: Filter,
}

impl Measure {
    /// This measure over `rows`, ready for counted resamples (row indices as in `rows`).
    pub fn prepare(&self, rows: &[Row]) -> Prepared {
        let kept = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| self.filter.keeps(r))
            .filter_map(|(i, r)| Some((i as u32, r.unit(self.source)?)));
        Prepared::new(self.stat, kept)
    }

    pub fn of(&self, rows: &[&Row]) -> f64 {
        let kept: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| self.filter.keeps(r))
            .collect();
        statistic(&kept, self.source, self.stat)
    }

    /// How many sessions contribute.
    pub fn sessions(&self, rows: &[Row]) -> usize {
        rows.iter()
            .filter(|r| self.filter.keeps(r) && r.unit(self.source).is_some())
            .count()
    }

    /// Each contributing session's own figure, for rank tests.
    pub fn per_session(&self, rows: &[Row]) -> Vec<f64> {
        rows.iter()
            .filter(|r| self.filter.keeps(r) && r.unit(self.source).is_some())
            .map(|r| statistic(&[r], self.source, self.stat))
            .filter(|v| v.is_finite())
            .collect()
    }

    /// `e2e_latency_ms p95 (role=cohost)`.
    pub fn describe(&self) -> String {
        let stat = match self.stat {
            Stat::Share => String::new(),
            s => format!(" {}", s.label()),
        };
        format!("{}{stat} ({})", self.source.name(), self.filter.describe())
    }
}

#[cfg(test)]
mod tests;
