//! Turns a scenario and a seed into a deterministic plan: which groups run, when, with which
//! receivers, on which links, with which seeds. The same inputs always give the same plan.

pub mod faults;
mod group;
pub mod http;
pub mod profile;
pub mod shard;
pub mod shares;

use profile::{Stage, Target};

use crate::base::rng::mix64;
use crate::media::receiver::Role;
use crate::media::sender::SenderConfig;
use crate::net::sim_link::LinkParams;
use crate::scenario::{self, GroupKind, NetworkProfile, Scenario, Transport};
use serde::Serialize;

pub const INTERVAL_US: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario_name: String,
    pub seed: u64,
    pub duration_us: u64,
    pub interval_us: u64,
    pub groups: Vec<GroupPlan>,
    pub capacity: Option<CapacityPlan>,
    pub http: Vec<http::HttpLoadPlan>,
    /// Where the load changes shape (stage boundaries, side-loads starting), for charts.
    pub marks: Vec<Mark>,
    /// The scenario's SLO gates (those with `abort_on_fail` are judged during the run).
    pub gates: Vec<scenario::GateSpec>,
    /// Every scheduled fault (each group also keeps those that hit it).
    pub faults: Vec<faults::FaultPlan>,
}

/// A labelled instant of the plan, from the run's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub at_us: u64,
    pub label: String,
}

/// Stage boundaries of every group with a load profile, and each capacity step and side-load.
fn marks(
    s: &Scenario,
    plan_groups: &[GroupPlan],
    capacity: Option<&CapacityPlan>,
    http: &[http::HttpLoadPlan],
    faults: &[faults::FaultPlan],
) -> Vec<Mark> {
    let mut out = stage_marks(s, plan_groups);
    out.extend(plan_groups.iter().flat_map(cohost_marks));
    if let Some(c) = capacity {
        for st in &c.steps {
            out.push(Mark {
                at_us: st.start_us,
                label: format!("{} viewers", st.level),
            });
        }
    }
    for l in http {
        out.push(Mark {
            at_us: l.start_us,
            label: format!("HTTP {} starts", l.name),
        });
    }
    for g in plan_groups {
        for step in &g.network.schedule {
            out.push(Mark {
                at_us: g.start_us + step.at.as_micros(),
                label: format!("{}: network {}", g.name, step.profile),
            });
        }
    }
    for f in faults {
        out.push(Mark {
            at_us: f.start_us,
            label: format!("fault: {}", f.label),
        });
        out.push(Mark {
            at_us: f.end_us,
            label: "fault ends".into(),
        });
    }
    out.sort_by_key(|m| m.at_us);
    out
}

/// Where each stage of every group with a load profile begins.
fn stage_marks(s: &Scenario, plan_groups: &[GroupPlan]) -> Vec<Mark> {
    let mut out = Vec::new();
    for (g, planned) in s.groups.iter().zip(plan_groups) {
        if g.stages.is_empty() {
            continue;
        }
        let (stages, target) = profile_of(g);
        let unit = match target {
            Target::Concurrency => "",
            Target::ArrivalRate { .. } => "/s",
        };
        let mut at = planned.start_us;
        for (stage, spec) in stages.iter().zip(&g.stages) {
            let spec = spec.get_ref();
            let label = match *stage {
                Stage::Hold { .. } => "hold".to_string(),
                Stage::Ramp { to, .. } if spec.step.is_some() => format!("step to {to}{unit}"),
                Stage::Ramp { to, .. } => format!("ramp to {to}{unit}"),
                Stage::Pulse { to, .. } => format!("pulse to {to}{unit}"),
            };
            out.push(Mark {
                at_us: at,
                label: format!("{}: {label}", planned.name),
            });
            at += stage.duration_us();
        }
    }
    out
}

/// A co-hosting group's PK rounds and its switch to 1v1.
fn cohost_marks(g: &GroupPlan) -> Vec<Mark> {
    let mut out = Vec::new();
    let Some(c) = &g.cohost else {
        return out;
    };
    for (n, (from, to)) in c.pk_rounds.iter().enumerate() {
        out.push(Mark {
            at_us: g.start_us + from,
            label: format!("{}: PK {} starts", g.name, n + 1),
        });
        out.push(Mark {
            at_us: g.start_us + to,
            label: format!("{}: PK {} ends", g.name, n + 1),
        });
    }
    if let Some(at) = c.switch_at_us {
        out.push(Mark {
            at_us: g.start_us + at,
            label: format!("{}: switch to 1v1", g.name),
        });
    }
    out
}

/// The steps of a capacity search, in microseconds from the run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityPlan {
    pub group: String,
    pub steps: Vec<CapacityStep>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityStep {
    /// Concurrent viewers held in this step.
    pub level: u32,
    /// The rise to this level begins.
    pub start_us: u64,
    /// The level is reached; gates are judged from here ...
    pub hold_from_us: u64,
    /// ... to here.
    pub end_us: u64,
}

/// The steps of `c` that fit before `end_us` (group offsets), as profile stages and windows.
pub(crate) fn capacity_steps(
    c: &scenario::CapacitySpec,
    group_start: u64,
    end_us: u64,
) -> Vec<CapacityStep> {
    let (rise, hold) = (c.rise.as_micros(), c.hold.as_micros());
    let mut steps = Vec::new();
    let mut at = group_start;
    let mut level = c.start;
    while level <= c.max && at + rise + hold <= end_us {
        steps.push(CapacityStep {
            level,
            start_us: at,
            hold_from_us: at + rise,
            end_us: at + rise + hold,
        });
        at += rise + hold;
        level += c.step;
    }
    steps
}

#[derive(Debug, Clone)]
pub struct GroupPlan {
    pub name: String,
    pub kind: GroupKind,
    pub transport: Transport,
    /// Between successive joins: receivers of a room, or calls.
    pub stagger_us: u64,
    /// For calls: side `k` publishes `call_senders[k]` and watches side `k ^ 1`.
    pub call_senders: Vec<SenderConfig>,
    pub network_name: String,
    pub network: NetworkProfile,
    /// What the publishers' own networks do to what they send.
    pub publisher_network: Option<NetworkProfile>,
    pub publisher_network_name: String,
    pub link: LinkParams,
    /// Offsets from the start of the run.
    pub start_us: u64,
    pub end_us: u64,
    /// The room's publisher; for an external one, what its clip was made from.
    pub sender: SenderConfig,
    pub external_publisher: bool,
    /// Our host pushes over RTMP instead of publishing over WebRTC.
    pub rtmp_publisher: bool,
    /// For a share of a room's viewers on another network: the room group whose publisher
    /// (ours) they watch.
    pub publisher_of: Option<String>,
    /// The provider's room name, when the scenario fixes it.
    pub room: Option<String>,
    /// What names the rooms rtcbench makes up for this run (see [`room_name`]).
    pub room_tag: String,
    /// The group's publishers (a room's host, a co-hosting group's hosts) run on another shard
    /// of the run: viewers here watch them through the provider.
    pub publisher_elsewhere: bool,
    /// The group's viewers watch through the provider's CDN with this player, not over WebRTC.
    pub live: Option<LivePlan>,
    pub receivers: Vec<ReceiverPlan>,
    /// Hosts, PK rounds and the switch of a co-hosting group.
    pub cohost: Option<CohostPlan>,
    /// The faults that hit this group, and how its clients come back from a lost connection.
    pub faults: Vec<faults::FaultPlan>,
    pub reconnect: scenario::faults::ReconnectSpec,
    /// The client its native viewers run on.
    pub viewer_client: scenario::schema::ViewerClient,
    /// What a room's viewers ask their provider for, at offsets from the group's start (µs):
    /// a simulcast layer, or its own choice again.
    pub layer_asks: Vec<(u64, crate::media::simulcast::LayerAsk)>,
}

/// How a CDN audience share plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePlan {
    pub protocol: crate::scenario::audience::LiveProtocol,
    pub buffer: crate::media::live::playback::BufferConfig,
}

/// A co-hosting group's schedule, in microseconds from the group's start.
#[derive(Debug, Clone)]
pub struct CohostPlan {
    /// Host `k` publishes `hosts[k]` and watches every other host.
    pub hosts: Vec<SenderConfig>,
    /// PK rounds: viewer `i` (whose host is `i % hosts`) also watches host `i % hosts + 1`.
    pub pk_rounds: Vec<(u64, u64)>,
    /// When hosts 0 and 1 leave the room for a private 1v1 call.
    pub switch_at_us: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiverPlan {
    pub id: String,
    pub role: Role,
    pub link_seed: u64,
    /// When this session dials, from the group's start (open model: on time, whatever else).
    pub join_us: u64,
    /// When it leaves, from the group's start; `None`: at the end of the run.
    pub leave_us: Option<u64>,
    /// The session runs on another shard of the run (its place in the group is kept: a call's
    /// side and a co-host viewer's host follow from it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub elsewhere: bool,
}

pub(crate) fn derive(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(seed), |acc, &p| mix64(acc ^ p))
}

pub fn build(s: &Scenario, seed: u64, duration_override_us: Option<u64>) -> Plan {
    build_tagged(s, seed, duration_override_us, &process_room_tag())
}

/// The room tag of a run that is one process: its process id, so runs side by side differ.
pub fn process_room_tag() -> String {
    std::process::id().to_string()
}

/// [`build`] with the rooms rtcbench names tagged `room_tag` (the shards of one run share one).
pub fn build_tagged(
    s: &Scenario,
    seed: u64,
    duration_override_us: Option<u64>,
    room_tag: &str,
) -> Plan {
    let duration_us = duration_override_us.unwrap_or_else(|| s.duration.as_micros());
    let all_faults: Vec<faults::FaultPlan> = s
        .faults
        .iter()
        .map(|f| faults::FaultPlan::of(f.get_ref()))
        .filter(|f| f.start_us < duration_us)
        .collect();
    let groups: Vec<GroupPlan> = s
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.start.as_micros() < duration_us)
        .map(|(gi, g)| {
            let within = group::Within {
                scenario: s,
                seed: derive(seed, &[gi as u64]),
                duration_us,
                faults: &all_faults,
                room_tag,
            };
            within.plan(g)
        })
        .collect();
    let capacity = s.capacity.as_ref().map(|c| {
        let c = c.get_ref();
        let start = s
            .groups
            .iter()
            .find(|g| *g.name.get_ref() == c.group)
            .map_or(0, |g| g.start.as_micros());
        CapacityPlan {
            group: c.group.clone(),
            steps: capacity_steps(c, start, duration_us),
        }
    });
    let rooms: Vec<(String, String)> = groups
        .iter()
        .filter(|g: &&GroupPlan| g.kind == GroupKind::Room)
        .map(|g| (g.name.clone(), g.provider_room()))
        .collect();
    let http: Vec<http::HttpLoadPlan> = s
        .http
        .iter()
        .map(|l| http::build(l.get_ref(), duration_us, &rooms))
        .collect();
    let marks = marks(s, &groups, capacity.as_ref(), &http, &all_faults);
    let groups = s
        .groups
        .iter()
        .filter(|g| g.start.as_micros() < duration_us)
        .zip(groups)
        .flat_map(|(g, planned)| shares::split(s, g, planned))
        .collect();
    Plan {
        scenario_name: s.name.clone(),
        seed,
        duration_us,
        interval_us: INTERVAL_US,
        groups,
        capacity,
        http,
        marks,
        gates: s.gates.iter().map(|g| g.get_ref().clone()).collect(),
        faults: all_faults,
    }
}

/// The room name rtcbench makes up for a group, tagged with the run's `tag` (unique per run, so
/// runs do not collide; the same on every shard of one run).
pub fn room_name(tag: &str, group: &str, suffix: &str) -> String {
    let safe: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("rtcbench-{tag}-{safe}{suffix}")
}

impl GroupPlan {
    /// The provider's name for a room group's room.
    pub fn provider_room(&self) -> String {
        self.room
            .clone()
            .unwrap_or_else(|| room_name(&self.room_tag, &self.name, ""))
    }
}

/// A validated group's stages as the planner's stages and target kind.
pub fn profile_of(g: &scenario::GroupSpec) -> (Vec<Stage>, Target) {
    let mut rate_based = false;
    let stages = g
        .stages
        .iter()
        .map(|st| {
            let st = st.get_ref();
            let target = match (st.to, st.rate) {
                (Some(to), _) => to as f64,
                (None, Some(rate)) => {
                    rate_based = true;
                    rate
                }
                (None, None) => 0.0,
            };
            if let Some(d) = st.ramp.or(st.step) {
                Stage::Ramp {
                    us: d.as_micros(),
                    to: target,
                }
            } else if let Some(d) = st.pulse {
                Stage::Pulse {
                    us: d.as_micros(),
                    to: target,
                    rise_us: st.rise.map_or(1_000_000, |r| r.as_micros()),
                }
            } else {
                Stage::Hold {
                    us: st.hold.map_or(0, |d| d.as_micros()),
                }
            }
        })
        .collect();
    let target = if rate_based {
        Target::ArrivalRate {
            watch_us: g.watch.map(|w| w.as_micros()),
        }
    } else {
        Target::Concurrency
    };
    (stages, target)
}
