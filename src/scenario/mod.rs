//! Scenario files: parsing with precise error locations, and the checks that need the whole file.

pub mod audience;
pub mod cohost;
pub mod faults;
pub mod gates;
pub mod http;
pub mod networks;
pub mod profiles;
pub mod schema;
pub mod scoring;
pub mod simulcast;
pub mod template;
mod toml_file;
pub use crate::base::units;

pub use schema::{
    AudioSpec, CapacitySpec, GateSpec, GroupKind, GroupSpec, NetworkProfile, Publisher, Scenario,
    Transport, VideoSpec,
};

use std::ops::Range;
use std::path::{Path, PathBuf};
pub use toml_file::{field_position, load_toml, parse_toml, MAX_FILE};

/// Network profiles every scenario can name without defining them.
pub fn builtin_network(name: &str) -> Option<NetworkProfile> {
    networks::builtin(name)
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: cannot read the scenario: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: field `{field}`: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
    /// Several problems of one file, each on its own line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ScenarioError>),
}

impl ScenarioError {
    /// The field of the (first) problem.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { field, .. } => Some(field),
            ScenarioError::Several(all) => all.first().and_then(|e| e.field()),
            ScenarioError::Read { .. } => None,
        }
    }

    /// One problem as itself, several as `Several`.
    fn gather(mut problems: Vec<ScenarioError>) -> Self {
        match problems.len() {
            1 => problems.remove(0),
            _ => ScenarioError::Several(problems),
        }
    }
}

pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_toml(path, validate)
}

/// Parses and validates a scenario; `file` names the source in error messages.
pub fn parse(source: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_toml(source, file, validate)
}

/// Names the field a deserialization error is about, as the user wrote it.
fn refine_field(path: &str, message: &str) -> String {
    // Spanned<T> adds a private path segment of its own; what is inside it is the user's.
    let unwrapped = path.replace(".$__serde_spanned_private_value", "");
    // A bad map key shows as `?` in the path; the message names the key.
    let path = unwrapped.strip_suffix(".?").unwrap_or(&unwrapped);
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
    };
    // An unknown key or a missing field is named in the message, not always in the path.
    let key = quoted("unknown field `").or_else(|| quoted("missing field `"));
    match (key, path) {
        (Some(key), "." | "") => key.to_string(),
        (Some(key), parent) if parent.ends_with(key) => parent.to_string(),
        (Some(key), parent) => format!("{parent}.{key}"),
        (None, "." | "") => "(top level)".to_string(),
        (None, p) => p.to_string(),
    }
}

/// Where a problem is (a byte span when known), which field, and what is wrong.
pub type Problem = (Option<Range<usize>>, String, String);

/// Every problem a check found in a file.
pub type Problems = Vec<Problem>;

/// Gates a capacity search can judge on one step's window.
const WINDOWED_TOTALS: [&str; 4] = [
    "join_success_pct",
    "join_within_5s_pct",
    "failed_sessions",
    "silent_track_sessions",
];

fn validate_capacity(s: &Scenario, c: &toml::Spanned<CapacitySpec>) -> Result<(), Problem> {
    let span = Some(c.span());
    let spec = c.get_ref();
    let bad =
        |field: &str, message: String| Err((span.clone(), format!("capacity.{field}"), message));
    let Some(g) = s.groups.iter().find(|g| *g.name.get_ref() == spec.group) else {
        return bad(
            "group",
            format!("no group \"{}\" in this scenario", spec.group),
        );
    };
    if g.kind != GroupKind::Room || s.transport != Transport::Webrtc {
        return bad("group", "the searched group must be a WebRTC room".into());
    }
    if !g.stages.is_empty() || *g.receivers.get_ref() != 0 {
        return bad(
            "group",
            "the search sets its audience; leave receivers and stages out".into(),
        );
    }
    if spec.start == 0 || spec.step == 0 || spec.max < spec.start {
        return bad("max", "need start ≥ 1, step ≥ 1 and max ≥ start".into());
    }
    if spec.hold.0.is_zero() {
        return bad("hold", "each step must hold for some time".into());
    }
    let judged: Vec<_> = s
        .gates
        .iter()
        .map(|gate| gate.get_ref())
        .filter(|gate| gate.group.as_ref().is_none_or(|n| *n == spec.group))
        .collect();
    if judged.is_empty() {
        return bad(
            "group",
            "a search needs at least one [[gate]] on this group".into(),
        );
    }
    for gate in judged {
        let windowed = gate.stat.is_some() || WINDOWED_TOTALS.contains(&gate.metric.as_str());
        if !windowed {
            return bad(
                "group",
                format!(
                    "gate on {} cannot be judged step by step; use a metric with a stat or one of {}",
                    gate.metric,
                    WINDOWED_TOTALS.join(", ")
                ),
            );
        }
    }
    let step_us = spec.rise.as_micros() + spec.hold.as_micros();
    if g.start.as_micros() + step_us > s.duration.as_micros() {
        return bad(
            "hold",
            "not even one step fits in the scenario's duration".into(),
        );
    }
    Ok(())
}

fn validate_stages(
    s: &Scenario,
    g: &GroupSpec,
    at: &dyn Fn(&str) -> String,
) -> Result<(), Problem> {
    let Some(first) = g.stages.first() else {
        for (set, field) in [
            (g.watch.is_some(), "watch"),
            (g.churn_per_min.is_some(), "churn_per_min"),
        ] {
            if set {
                return Err((
                    None,
                    at(field),
                    "only a group with stages takes this".into(),
                ));
            }
        }
        return Ok(());
    };
    if g.kind != GroupKind::Room || s.transport != Transport::Webrtc {
        return Err((
            Some(first.span()),
            at("stages"),
            "load stages are for kind = \"room\" with transport = \"webrtc\"".into(),
        ));
    }
    if *g.receivers.get_ref() != 0 {
        return Err((
            Some(g.receivers.span()),
            at("receivers"),
            "stages set the audience; leave receivers out".into(),
        ));
    }
    if g.probe_share.is_some() && *g.probes.get_ref() != 1 {
        return Err((
            Some(g.probes.span()),
            at("probes"),
            "give probes or probe_share, not both".into(),
        ));
    }
    let mut by_rate = None;
    for (k, stage) in g.stages.iter().enumerate() {
        let field = |f: &str| at(&format!("stages[{k}].{f}"));
        let Some(rate) = stage_by_rate(stage.get_ref())
            .map_err(|(f, m)| (Some(stage.span()), field(f), m.to_string()))?
        else {
            continue;
        };
        if *by_rate.get_or_insert(rate) != rate {
            return Err((
                Some(stage.span()),
                field("rate"),
                "all stages of a group use to, or all use rate".into(),
            ));
        }
    }
    if g.watch.is_some() && by_rate != Some(true) {
        return Err((None, at("watch"), "watch is for rate stages".into()));
    }
    Ok(())
}

/// Whether a stage's level is joins per second (true) or concurrent viewers (false); `None`
/// for a hold, which keeps the level it is at. The field and why, for a stage that is wrong.
fn stage_by_rate(st: &schema::StageSpec) -> Result<Option<bool>, (&'static str, &'static str)> {
    let problem = |f: &'static str, m: &'static str| Err((f, m));
    let shapes = [&st.ramp, &st.step, &st.hold, &st.pulse]
        .iter()
        .filter(|d| d.is_some())
        .count();
    if shapes != 1 {
        return problem(
            "ramp",
            "a stage is exactly one of ramp, step, hold or pulse (its length)",
        );
    }
    if st.rise.is_some() && st.pulse.is_none() {
        return problem("rise", "rise is for pulse stages");
    }
    if st.hold.is_some() {
        if st.to.is_some() || st.rate.is_some() {
            return problem(
                "to",
                "a hold keeps the level it is at; it takes no to or rate",
            );
        }
        return Ok(None);
    }
    let rate = match (st.to, st.rate) {
        (Some(_), None) => false,
        (None, Some(r)) if r.is_finite() && r >= 0.0 => true,
        (None, Some(_)) => return problem("rate", "joins per second must be 0 or more"),
        _ => {
            return problem(
                "to",
                "give to (concurrent viewers) or rate (joins per second)",
            )
        }
    };
    Ok(Some(rate))
}

/// The schema's own checks. Its `[scoring]` overrides are checked against the catalogue of
/// scored metrics one floor up, by `score::config::check_overrides` (docs/architecture.md).
/// Every problem of a scenario: each section, gate, HTTP load and group is checked on its own,
/// so one mistake does not hide the next.
pub fn validate(s: &Scenario) -> Problems {
    let mut problems: Problems = Vec::new();
    let mut note = |checked: Result<(), Problem>| problems.extend(checked.err());
    note(faults::validate(s));
    for (i, gate) in s.gates.iter().enumerate() {
        note(validate_gate(s, i, gate));
    }
    if s.groups.is_empty() {
        note(Err((
            None,
            "group".into(),
            "a scenario needs at least one [[group]]".into(),
        )));
    }
    if s.duration.0.is_zero() {
        note(Err((
            None,
            "duration".into(),
            "duration must be greater than zero".into(),
        )));
    }
    if let Some(c) = &s.capacity {
        note(validate_capacity(s, c));
    }
    for (i, load) in s.http.iter().enumerate() {
        note(http::validate(s, i, load));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, g) in s.groups.iter().enumerate() {
        note(validate_group(s, i, g, &mut seen));
        note(simulcast::validate_asks(s, i, g));
    }
    note(profiles::validate(s));
    note(simulcast::validate(s));
    problems
}

fn validate_gate(s: &Scenario, i: usize, gate: &toml::Spanned<GateSpec>) -> Result<(), Problem> {
    if let Err((field, message)) = gates::check(gate.get_ref()) {
        return Err((Some(gate.span()), format!("gate[{i}].{field}"), message));
    }
    if gate.get_ref().abort_on_fail && s.transport != Transport::Webrtc {
        return Err((
            Some(gate.span()),
            format!("gate[{i}].abort_on_fail"),
            "gates are judged during the run for transport = \"webrtc\" only".into(),
        ));
    }
    let Some(name) = &gate.get_ref().group else {
        return Ok(());
    };
    // A co-hosting group reports its host↔host links as "NAME/hosts", a share of a room's
    // viewers on another network as "NAME@PROFILE", and its CDN viewers as "NAME~PROTOCOL".
    let known = |g: &GroupSpec| {
        g.name.get_ref() == name
            || (g.kind == GroupKind::Cohost && format!("{}/hosts", g.name.get_ref()) == *name)
            || g.networks.iter().any(|n| {
                profiles::share_group_name(g.name.get_ref(), &n.get_ref().profile) == *name
            })
            || g.audience.iter().any(|a| {
                audience::audience_group_name(g.name.get_ref(), a.get_ref().protocol) == *name
            })
    };
    match s.groups.iter().any(known) {
        true => Ok(()),
        false => Err((
            Some(gate.span()),
            format!("gate[{i}].group"),
            format!("no group \"{name}\" in this scenario"),
        )),
    }
}

/// One group's checks; `seen` holds the names of the groups before it.
fn validate_group(
    s: &Scenario,
    i: usize,
    g: &GroupSpec,
    seen: &mut std::collections::BTreeSet<String>,
) -> Result<(), Problem> {
    let at = |f: &str| format!("group[{i}].{f}");
    if g.name.get_ref().trim().is_empty() {
        return Err((
            Some(g.name.span()),
            at("name"),
            "a group name cannot be empty".into(),
        ));
    }
    if !seen.insert(g.name.get_ref().clone()) {
        return Err((
            Some(g.name.span()),
            at("name"),
            format!("group name \"{}\" is used twice", g.name.get_ref()),
        ));
    }
    validate_stages(s, g, &at)?;
    cohost::validate(s, g, &at)?;
    profiles::validate_shares(s, g, &at)?;
    audience::validate(s, g, &at)?;
    let watchers = watchers(s, g, &at)?;
    validate_publisher_and_room(s, g, &at)?;
    if *g.probes.get_ref() > watchers {
        return Err((
            Some(g.probes.span()),
            at("probes"),
            format!(
                "{} probes but only {watchers} receivers; probes are a subset of the receivers",
                g.probes.get_ref()
            ),
        ));
    }
    if let Some(pn) = &g.publisher_network {
        if s.transport != Transport::Webrtc {
            return Err((
                Some(pn.span()),
                at("publisher_network"),
                "publisher_network is for transport = \"webrtc\"".into(),
            ));
        }
        known_network(s, pn, &at("publisher_network"))?;
    }
    known_network(s, &g.network, &at("network"))?;
    let net = g.network.get_ref();
    if s.transport == Transport::Simulated && network_for(s, net).needs_impairment_layer() {
        return Err((
            Some(g.network.span()),
            at("network"),
            format!("profile \"{net}\" uses reorder, burst, duplicate, rate, queue, outages, uplink, schedule or path, which only the WebRTC transport's impairment layer does"),
        ));
    }
    if g.start.0 >= s.duration.0 {
        return Err((
            None,
            at("start"),
            format!(
                "group \"{}\" starts at {} but the run lasts {}",
                g.name.get_ref(),
                humantime::format_duration(g.start.0),
                humantime::format_duration(s.duration.0)
            ),
        ));
    }
    Ok(())
}

/// How many viewers a group has (all a profile or a search wants: unbounded), once its kind's
/// fields agree.
fn watchers(s: &Scenario, g: &GroupSpec, at: &dyn Fn(&str) -> String) -> Result<u32, Problem> {
    let searched = |g: &GroupSpec| {
        s.capacity
            .as_ref()
            .is_some_and(|c| c.get_ref().group == *g.name.get_ref())
    };
    Ok(match g.kind {
        GroupKind::Room if !g.stages.is_empty() || searched(g) => u32::MAX,
        GroupKind::Room => {
            if *g.receivers.get_ref() == 0 {
                return Err((
                    Some(g.receivers.span()),
                    at("receivers"),
                    "a room needs at least 1 receiver".into(),
                ));
            }
            if *g.pairs.get_ref() != 0 {
                return Err((
                    Some(g.pairs.span()),
                    at("pairs"),
                    "pairs are for kind = \"call\"".into(),
                ));
            }
            *g.receivers.get_ref()
        }
        GroupKind::Cohost => *g.receivers.get_ref(),
        GroupKind::Call => {
            if *g.pairs.get_ref() == 0 {
                return Err((
                    None,
                    at("pairs"),
                    "a call group needs pairs = 1 or more".into(),
                ));
            }
            if *g.receivers.get_ref() != 0 {
                return Err((
                    Some(g.receivers.span()),
                    at("receivers"),
                    "in a call each side watches the other; set pairs, not receivers".into(),
                ));
            }
            if s.transport != Transport::Webrtc {
                return Err((None, at("kind"), "calls need transport = \"webrtc\"".into()));
            }
            2 * *g.pairs.get_ref()
        }
    })
}

fn validate_publisher_and_room(
    s: &Scenario,
    g: &GroupSpec,
    at: &dyn Fn(&str) -> String,
) -> Result<(), Problem> {
    let publisher = *g.publisher.get_ref();
    if publisher != Publisher::Rtcbench
        && (g.kind != GroupKind::Room || s.transport != Transport::Webrtc)
    {
        let which = if publisher == Publisher::Rtmp {
            "an RTMP publisher"
        } else {
            "an external publisher"
        };
        return Err((
            Some(g.publisher.span()),
            at("publisher"),
            format!("{which} is for kind = \"room\" with transport = \"webrtc\""),
        ));
    }
    if publisher == Publisher::External && g.room.is_none() {
        return Err((
            Some(g.publisher.span()),
            at("room"),
            "an external publisher needs the room it is live in".into(),
        ));
    }
    if let Some(room) = &g.room {
        let name = room.get_ref();
        let url_safe = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
        if name.is_empty() || !name.chars().all(url_safe) {
            return Err((
                Some(room.span()),
                at("room"),
                format!(
                    "room \"{name}\" must be letters, digits and - _ . ~ (it goes in a URL path)"
                ),
            ));
        }
        if g.kind == GroupKind::Call {
            return Err((
                Some(room.span()),
                at("room"),
                "a call makes a room per side; room is for kind = \"room\"".into(),
            ));
        }
    }
    Ok(())
}

/// A profile name must be built in or defined under `[network.NAME]`.
fn known_network(s: &Scenario, name: &toml::Spanned<String>, field: &str) -> Result<(), Problem> {
    profiles::require(s, name.get_ref()).map_err(|m| (Some(name.span()), field.to_string(), m))
}

/// Resolves a group's network profile (validation guarantees it exists).
pub fn network_for(s: &Scenario, name: &str) -> NetworkProfile {
    profiles::resolve(s, name).unwrap_or_default()
}
