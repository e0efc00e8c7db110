//! Network profiles as a scenario writes them, and what they resolve to. A `[network.NAME]`
//! entry sets only the fields it names on top of its base: the built-in profile of the same
//! name, or the one `base` names; `schedule` switches to other profiles during the run.

use super::networks::{self, BUILTIN};
use super::schema::{NetworkPath, NetworkProfile, ScheduledProfile, WindowSpec};
use super::{Problem, Scenario};
use crate::base::units::{Bitrate, HumanDuration, Percent};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A profile as written: every field optional, so that what is left out comes from the base.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// The profile to start from (built in or defined here); by default the built-in profile of
    /// the same name, if there is one, or a clean network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Percent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Percent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Bitrate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outages: Option<Vec<WindowSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<Box<NetworkSpec>>,
    /// `"kernel"`: impaired by the kernel in a namespace per client (root only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<NetworkPath>,
    /// From `at` (after the group's start) the network is the profile named `profile`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduleStep>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStep {
    pub at: HumanDuration,
    pub profile: String,
}

impl NetworkSpec {
    /// `base` with the fields this sets.
    fn over(&self, base: NetworkProfile) -> NetworkProfile {
        let uplink = match (&self.uplink, base.uplink) {
            (Some(spec), base_up) => {
                Some(Box::new(spec.over(base_up.map(|b| *b).unwrap_or_default())))
            }
            (None, base_up) => base_up,
        };
        NetworkProfile {
            delay: self.delay.unwrap_or(base.delay),
            jitter: self.jitter.unwrap_or(base.jitter),
            loss: self.loss.unwrap_or(base.loss),
            reorder: self.reorder.unwrap_or(base.reorder),
            burst: self.burst.or(base.burst),
            duplicate: self.duplicate.or(base.duplicate),
            rate: self.rate.or(base.rate),
            queue: self.queue.or(base.queue),
            outages: self.outages.clone().unwrap_or(base.outages),
            uplink,
            schedule: base.schedule,
            path: self.path.unwrap_or(base.path),
        }
    }
}

/// Profiles may build on each other this deep; deeper is taken to be a cycle.
const MAX_DEPTH: usize = 8;

/// The profile `name` resolves to, with its schedule's profiles; `None` if it is not known.
pub fn resolve(s: &Scenario, name: &str) -> Option<NetworkProfile> {
    let mut p = resolve_flat(s, name, 0)?;
    if let Some(spec) = s.network.get(name) {
        p.schedule = spec
            .schedule
            .iter()
            .map(|step| ScheduledProfile {
                at: step.at,
                profile: step.profile.clone(),
                network: Box::new(resolve_flat(s, &step.profile, 0).unwrap_or_default()),
            })
            .collect();
    }
    Some(p)
}

/// A profile without its schedule.
fn resolve_flat(s: &Scenario, name: &str, depth: usize) -> Option<NetworkProfile> {
    if depth > MAX_DEPTH {
        return None;
    }
    let Some(spec) = s.network.get(name) else {
        return networks::builtin(name);
    };
    let base = match &spec.base {
        Some(b) => resolve_flat(s, b, depth + 1)?,
        None => networks::builtin(name).unwrap_or_default(),
    };
    Some(spec.over(base))
}

/// Whether `name` is a profile a group may use.
pub fn is_known(s: &Scenario, name: &str) -> bool {
    s.network.contains_key(name) || networks::builtin(name).is_some()
}

/// `Err` naming the profiles there are, when `name` is not one of them.
pub fn require(s: &Scenario, name: &str) -> Result<(), String> {
    if is_known(s, name) {
        return Ok(());
    }
    let known: Vec<&str> = BUILTIN
        .into_iter()
        .chain(s.network.keys().map(String::as_str))
        .collect();
    Err(format!(
        "no network profile named \"{name}\"; known: {}",
        known.join(", ")
    ))
}

pub fn validate(s: &Scenario) -> Result<(), Problem> {
    for (name, spec) in &s.network {
        let at = |field: &str| format!("network.{name}.{field}");
        if let Some(base) = &spec.base {
            require(s, base).map_err(|m| (None, at("base"), m))?;
        }
        let Some(p) = resolve_flat(s, name, 0) else {
            return Err((
                None,
                at("base"),
                format!("profiles build on each other in a cycle (or more than {MAX_DEPTH} deep)"),
            ));
        };
        if p.jitter.0 > p.delay.0 + Duration::from_secs(10) {
            return Err((
                None,
                at("jitter"),
                "jitter over 10 s is not a network".into(),
            ));
        }
        if p.path == NetworkPath::Kernel {
            let user_only = [
                ("burst", p.burst.is_some()),
                ("duplicate", p.duplicate.is_some()),
                ("outages", !p.outages.is_empty()),
                ("schedule", !spec.schedule.is_empty()),
                ("reorder", !p.reorder && !p.jitter.0.is_zero()),
            ];
            if let Some((field, _)) = user_only.iter().find(|(_, used)| *used) {
                return Err((
                    None,
                    at(field),
                    "the kernel path does delay, jitter, loss and rate (with queue); this needs path = \"user\"".into(),
                ));
            }
        }
        let mut last = Duration::ZERO;
        for (k, step) in spec.schedule.iter().enumerate() {
            let field = at(&format!("schedule[{k}]"));
            require(s, &step.profile).map_err(|m| (None, field.clone(), m))?;
            if step.at.0 <= last && k > 0 || step.at.0.is_zero() {
                return Err((
                    None,
                    field,
                    "schedule steps come after the start, in order".into(),
                ));
            }
            last = step.at.0;
            let nested = s
                .network
                .get(&step.profile)
                .is_some_and(|n| !n.schedule.is_empty());
            if nested {
                return Err((
                    None,
                    field,
                    format!(
                        "\"{}\" has a schedule of its own; a schedule names plain profiles",
                        step.profile
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The group a share of `group`'s viewers on `profile` is reported as.
pub fn share_group_name(group: &str, profile: &str) -> String {
    format!("{group}@{profile}")
}

/// A group's shares of viewers on other profiles.
pub fn validate_shares(
    s: &Scenario,
    g: &super::GroupSpec,
    at: &dyn Fn(&str) -> String,
) -> Result<(), Problem> {
    let mut total = 0.0;
    let mut seen = std::collections::BTreeSet::new();
    for (k, share) in g.networks.iter().enumerate() {
        let bad = |m: String| Err((Some(share.span()), at(&format!("networks[{k}]")), m));
        let spec = share.get_ref();
        if s.transport != super::Transport::Webrtc || g.kind != super::GroupKind::Room {
            return bad("shares of viewers on other networks are for WebRTC rooms".into());
        }
        if s.capacity
            .as_ref()
            .is_some_and(|c| c.get_ref().group == *g.name.get_ref())
        {
            return bad("a capacity search's room has one network".into());
        }
        if let Err(m) = require(s, &spec.profile) {
            return bad(m);
        }
        if spec.profile == *g.network.get_ref() || !seen.insert(spec.profile.clone()) {
            return bad(format!(
                "\"{}\" is already this room's network or share",
                spec.profile
            ));
        }
        total += spec.share.0;
        if spec.share.0 <= 0.0 || total >= 100.0 {
            return bad(
                "shares are above 0 % and together under 100 % (the rest stay on `network`)".into(),
            );
        }
    }
    Ok(())
}

/// Phases of a schedule as (from, to) offsets from the group's start, with their profile
/// names; the first phase is the profile itself.
pub fn phases(
    name: &str,
    p: &NetworkProfile,
    group_length: Duration,
) -> Vec<(Duration, Duration, String)> {
    let mut starts: Vec<(Duration, String)> = vec![(Duration::ZERO, name.to_string())];
    starts.extend(p.schedule.iter().map(|s| (s.at.0, s.profile.clone())));
    starts
        .iter()
        .enumerate()
        .filter(|(_, (from, _))| *from < group_length)
        .map(|(k, (from, label))| {
            let to = starts
                .get(k + 1)
                .map_or(group_length, |n| n.0.min(group_length));
            (*from, to, label.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(networks: &str) -> Scenario {
        let src = format!(
            "name = \"x\"\nduration = \"30s\"\ntransport = \"webrtc\"\n{networks}\n[[group]]\nname = \"a\"\nreceivers = 1\n"
        );
        super::super::parse(&src, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_profile_changes_only_the_fields_it_names() {
        let s = scenario(
            "[network.4g]\nloss = \"5%\"\n[network.slow4g]\nbase = \"4g\"\nrate = \"1Mbps\"\n[network.far]\nbase = \"slow4g\"\ndelay = \"200ms\"\n",
        );
        let builtin = networks::builtin("4g").unwrap();
        let mine = resolve(&s, "4g").unwrap();
        assert_eq!(mine.loss.0, 5.0);
        assert_eq!(
            (mine.delay, mine.rate, mine.burst),
            (builtin.delay, builtin.rate, builtin.burst)
        );
        let far = resolve(&s, "far").unwrap();
        assert_eq!(far.loss.0, 5.0, "built on the redefined 4g");
        assert_eq!(far.rate.unwrap().bps(), 1_000_000);
        assert_eq!(far.delay.0, Duration::from_millis(200));
        assert_eq!(far.jitter, builtin.jitter);
    }

    #[test]
    fn a_schedule_resolves_each_phase_and_cycles_are_refused() {
        let s = scenario(
            "[network.flaky]\nbase = \"good\"\nschedule = [{ at = \"10s\", profile = \"weak\" }, { at = \"20s\", profile = \"good\" }]\n",
        );
        let p = resolve(&s, "flaky").unwrap();
        assert_eq!(p.schedule.len(), 2);
        assert_eq!(p.schedule[0].network.loss.0, 30.0);
        let phases = phases("flaky", &p, Duration::from_secs(25));
        let spans: Vec<(u64, u64, &str)> = phases
            .iter()
            .map(|(a, b, n)| (a.as_secs(), b.as_secs(), n.as_str()))
            .collect();
        assert_eq!(
            spans,
            [(0, 10, "flaky"), (10, 20, "weak"), (20, 25, "good")]
        );
        let src = "name = \"x\"\nduration = \"30s\"\ntransport = \"webrtc\"\n[network.a]\nbase = \"b\"\n[network.b]\nbase = \"a\"\n[[group]]\nname = \"g\"\nreceivers = 1\nnetwork = \"a\"\n";
        let e = super::super::parse(src, "t.toml").unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
    }
}
