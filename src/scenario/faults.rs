//! Faults on a schedule (`[[fault]]`) and how clients come back from them (`[reconnect]`).

use super::{Problem, Scenario, Transport};
use crate::base::units::HumanDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What goes wrong within a fault's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Every datagram between the clients and the provider is dropped, both ways (any provider:
    /// applied at each client's impairment layer).
    Blackhole,
    /// The embedded provider stops (every session is lost, media and signalling go unanswered)
    /// and comes back empty at the window's end.
    Restart,
    /// The embedded provider's signalling answers `status` (default 503) to every request.
    SignallingError,
    /// The embedded provider's signalling holds every request until the window ends.
    SignallingTimeout,
}

impl FaultKind {
    /// Whether only the embedded provider can do it (it is rtcbench's own server).
    pub fn needs_embedded(self) -> bool {
        !matches!(self, FaultKind::Blackhole)
    }

    /// Whether it stops media, so that recovery from it can be timed.
    pub fn stops_media(self) -> bool {
        matches!(self, FaultKind::Blackhole | FaultKind::Restart)
    }
}

/// One fault: from `start` to `end` of the run, on the groups named (default: all).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub start: HumanDuration,
    pub end: HumanDuration,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The HTTP status a `signalling-error` answers with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// What a client does when its connection is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReconnectMode {
    /// Signal a new session (WHIP/WHEP) on a new socket, as SDKs do after a lost connection.
    #[default]
    Rejoin,
    /// The session ends with the connection.
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectSpec {
    #[serde(default)]
    pub mode: ReconnectMode,
    /// A connected client that hears nothing from the provider for this long has lost its
    /// connection (ICE consent checks alone arrive every few seconds).
    #[serde(default = "default_after")]
    pub after: HumanDuration,
    /// Rejoin attempts per lost connection.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// The wait before the first attempt; it doubles after each failed one.
    #[serde(default = "default_backoff")]
    pub backoff: HumanDuration,
}

impl Default for ReconnectSpec {
    fn default() -> Self {
        Self {
            mode: ReconnectMode::default(),
            after: default_after(),
            attempts: default_attempts(),
            backoff: default_backoff(),
        }
    }
}

fn default_after() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> HumanDuration {
    HumanDuration::from_millis(500)
}

pub fn validate(s: &Scenario) -> Result<(), Problem> {
    let r = &s.reconnect;
    if r.after.0 < Duration::from_millis(500) {
        return Err((
            None,
            "reconnect.after".into(),
            "under 500 ms of silence is not a lost connection; use 500ms or more".into(),
        ));
    }
    if r.mode == ReconnectMode::Rejoin && r.attempts == 0 {
        return Err((
            None,
            "reconnect.attempts".into(),
            "rejoin needs 1 attempt or more (or mode = \"none\")".into(),
        ));
    }
    for (k, f) in s.faults.iter().enumerate() {
        let spec = f.get_ref();
        let bad = |field: &str, m: String| Err((Some(f.span()), format!("fault[{k}]{field}"), m));
        if s.transport != Transport::Webrtc {
            return bad("", "faults need transport = \"webrtc\"".into());
        }
        if spec.end.0 <= spec.start.0 {
            return bad(".end", "a fault ends after it starts".into());
        }
        if spec.end.0 > s.duration.0 {
            return bad(".end", "the fault ends after the run does".into());
        }
        if let Some(g) = spec
            .groups
            .iter()
            .find(|g| !s.groups.iter().any(|x| x.name.get_ref() == *g))
        {
            return bad(".groups", format!("no group named \"{g}\""));
        }
        if !spec.groups.is_empty() && spec.kind != FaultKind::Blackhole {
            return bad(
                ".groups",
                "a provider-side fault hits every group; groups is for blackhole".into(),
            );
        }
        match (spec.kind, spec.status) {
            (FaultKind::SignallingError, Some(st)) if !(400..=599).contains(&st) => {
                return bad(
                    ".status",
                    format!("{st} is not an error status (400 to 599)"),
                );
            }
            (FaultKind::SignallingError, _) | (_, None) => {}
            (_, Some(_)) => {
                return bad(
                    ".status",
                    "status is for kind = \"signalling-error\"".into(),
                )
            }
        }
    }
    Ok(())
}

/// A fault in words, for reports.
pub fn describe(f: &FaultSpec) -> String {
    let kind = match f.kind {
        FaultKind::Blackhole => "media blackholed".to_string(),
        FaultKind::Restart => "provider restarted".to_string(),
        FaultKind::SignallingError => format!("signalling answers {}", f.status.unwrap_or(503)),
        FaultKind::SignallingTimeout => "signalling does not answer".to_string(),
    };
    let groups = if f.groups.is_empty() {
        String::new()
    } else {
        format!(" ({})", f.groups.join(", "))
    };
    format!(
        "{kind}{groups}, {} to {}",
        humantime::format_duration(f.start.0),
        humantime::format_duration(f.end.0)
    )
}
