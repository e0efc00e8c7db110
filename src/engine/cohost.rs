//! Co-hosting (连麦) over WebRTC. Every host publishes into its own room and watches every other
//! host; viewer `i` watches host `i % hosts`. During a PK round each viewer also watches the
//! partner host. At the switch, hosts 0 and 1 leave the room for a private 1v1 call: their room
//! streams end and each dials the other's call room, and the time from the switch to the first
//! frame of the call is `switch_ms`. Host↔host links and the call are measured as their own
//! group (`NAME/hosts`), apart from the audience.

use super::room::GroupOutcome;
use super::session::{publish, subscribe, Watch};
use super::webrtc::{gather, Ctx};
use crate::base::Micros;
use crate::media::receiver::Role;
use crate::metrics::{Metric, Recorder, Sample};
use crate::plan::{room_name, GroupPlan, ReceiverPlan};
use std::sync::{Arc, Mutex};

/// The group name host↔host measurements are reported under.
pub fn hosts_group(group: &str) -> String {
    format!("{group}/hosts")
}

fn host_session(id: String, join_us: u64, role: Role) -> ReceiverPlan {
    ReceiverPlan {
        id,
        role,
        link_seed: 0,
        join_us,
        leave_us: None,
    }
}

fn earliest(a: Option<Micros>, b: Option<Micros>) -> Option<Micros> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(super) async fn run(ctx: Ctx, plan: &GroupPlan, t0: Micros) -> Vec<GroupOutcome> {
    let Some(c) = &plan.cohost else {
        return Vec::new();
    };
    let hosts_ctx = Ctx {
        group: hosts_group(&plan.name),
        recorder: Arc::new(Mutex::new(Recorder::new(ctx.run_start, ctx.interval_us))),
        notes: Default::default(),
        viewers: ctx.viewers.counted_apart(),
        publishers: ctx.publishers.counted_apart(),
        publisher_reconnects: Default::default(),
        ..ctx.clone()
    };
    ctx.live
        .watch_recorder(&hosts_ctx.group, hosts_ctx.recorder.clone());
    let n = c.hosts.len();
    let room = |k: usize| room_name(&plan.name, &format!("-h{k}"));
    let call_room = |k: usize| room_name(&plan.name, &format!("-call{k}"));
    let switch_at = c.switch_at_us.map(|at| t0 + at);
    // When host k stops being live in the room: at the switch for the pair that leaves.
    let leaves_room = |k: usize| if k < 2 { switch_at } else { None };
    let until =
        |at: Option<Micros>| at.map_or(ctx.until, |at| ctx.clock.instant_of(at).min(ctx.until));

    let mut host_publishers = Vec::new();
    let mut host_watchers = Vec::new();
    for (k, sender) in c.hosts.iter().enumerate() {
        host_publishers.push(tokio::spawn(publish(
            hosts_ctx.clone(),
            format!("{}/h{k}", plan.name),
            sender.clone(),
            room(k),
            t0,
            until(leaves_room(k)),
        )));
        for (j, reference) in c.hosts.iter().enumerate().filter(|(j, _)| *j != k) {
            let w = Watch {
                // One link decodes every frame for picture quality; decoding them all would
                // cost more than the audience does.
                plan: host_session(
                    format!("{}/h{k}<-h{j}", plan.name),
                    0,
                    if (k, j) == (0, 1) {
                        Role::Probe
                    } else {
                        Role::Light
                    },
                ),
                room: room(j),
                dial_at: t0,
                reference: reference.clone(),
                publisher_start: Some(t0),
                leave_at: earliest(leaves_room(k), leaves_room(j)),
                via_sidecar: ctx.sidecar_plays(None),
            };
            host_watchers.push(tokio::spawn(subscribe(hosts_ctx.clone(), w)));
        }
    }

    let mut audience = Vec::new();
    for (i, r) in plan.receivers.iter().enumerate() {
        let home = i % n;
        let dial_at = t0 + r.join_us;
        let leave_at = earliest(r.leave_us.map(|l| t0 + l), leaves_room(home));
        if leave_at.is_some_and(|l| l <= dial_at) {
            continue;
        }
        audience.push(tokio::spawn(subscribe(
            ctx.clone(),
            Watch {
                plan: r.clone(),
                room: room(home),
                dial_at,
                reference: c.hosts[home].clone(),
                publisher_start: Some(t0),
                leave_at,
                via_sidecar: ctx.sidecar_plays(None),
            },
        )));
        let partner = (home + 1) % n;
        for (round, &(from, to)) in c.pk_rounds.iter().enumerate() {
            let (start, end) = (t0 + from, t0 + to);
            let end = [leave_at, leaves_room(partner)]
                .into_iter()
                .flatten()
                .fold(end, Micros::min);
            if dial_at > start || start >= end {
                continue;
            }
            let pk = ReceiverPlan {
                id: format!("{}/pk{}", r.id, round + 1),
                role: Role::Light,
                join_us: from,
                leave_us: Some(end - t0),
                ..r.clone()
            };
            audience.push(tokio::spawn(subscribe(
                ctx.clone(),
                Watch {
                    plan: pk,
                    room: room(partner),
                    dial_at: start,
                    reference: c.hosts[partner].clone(),
                    publisher_start: Some(t0),
                    leave_at: Some(end),
                    via_sidecar: ctx.sidecar_plays(None),
                },
            )));
        }
    }

    if let Some(at) = switch_at.filter(|_| n >= 2) {
        for k in 0..2 {
            let other = 1 - k;
            host_publishers.push(tokio::spawn(publish(
                hosts_ctx.clone(),
                format!("{}/h{k}/call", plan.name),
                c.hosts[k].clone(),
                call_room(k),
                at,
                ctx.until,
            )));
            let w = Watch {
                plan: host_session(
                    format!("{}/h{k}<-h{other}/call", plan.name),
                    at - t0,
                    if k == 0 { Role::Probe } else { Role::Light },
                ),
                room: call_room(other),
                dial_at: at,
                reference: c.hosts[other].clone(),
                publisher_start: Some(at),
                leave_at: None,
                via_sidecar: ctx.sidecar_plays(None),
            };
            let hosts = hosts_ctx.clone();
            host_watchers.push(tokio::spawn(async move {
                let s = subscribe(hosts.clone(), w).await;
                // The call dials at the switch, so dial → first frame is the switch time.
                if let (Some(ms), Ok(mut rec)) = (s.connect_ms, hosts.recorder.lock()) {
                    rec.record(Sample {
                        metric: Metric::SwitchMs,
                        at: hosts.clock.now(),
                        value: ms,
                    });
                }
                s
            }));
        }
    }

    let audience = gather(&ctx, plan, Vec::new(), audience).await;
    let hosts = gather(&hosts_ctx, plan, host_publishers, host_watchers).await;
    vec![audience, hosts]
}
