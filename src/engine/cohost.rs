//! Co-hosting (连麦) over WebRTC. Every host publishes into its own room and watches every other
//! host; viewer `i` watches host `i % hosts`. During a PK round each viewer also watches the
//! partner host. At the switch, hosts 0 and 1 leave the room for a private 1v1 call: their room
//! streams end and each dials the other's call room, and the time from the switch to the first
//! frame of the call is `switch_ms`. Host↔host links and the call are measured as their own
//! group (`NAME/hosts`), apart from the audience.

use super::published::Published;
use super::room::GroupOutcome;
use super::session::{publish, subscribe, Publication, Watch};
use super::webrtc::{gather, publishes_natively, Ctx, Publishing, Watching};
use crate::base::Micros;
use crate::media::receiver::Role;
use crate::metrics::{Metric, Recorder, Sample};
use crate::plan::{room_name, CohostPlan, GroupPlan, ReceiverPlan};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
        elsewhere: false,
    }
}

fn earliest(a: Option<Micros>, b: Option<Micros>) -> Option<Micros> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A co-hosting group being run: its contexts (the audience's, and the hosts' own group) and
/// its rooms on the run's clock.
struct Cohosting<'a> {
    ctx: Ctx,
    hosts_ctx: Ctx,
    plan: &'a GroupPlan,
    c: &'a CohostPlan,
    t0: Micros,
    switch_at: Option<Micros>,
    /// Each host's publication into its room, which its watchers wait for.
    published: Vec<Option<Published>>,
}

impl Cohosting<'_> {
    fn room(&self, k: usize) -> String {
        room_name(&self.plan.room_tag, &self.plan.name, &format!("-h{k}"))
    }

    fn call_room(&self, k: usize) -> String {
        room_name(&self.plan.room_tag, &self.plan.name, &format!("-call{k}"))
    }

    /// When host k stops being live in the room: at the switch for the pair that leaves.
    fn leaves_room(&self, k: usize) -> Option<Micros> {
        if k < 2 {
            self.switch_at
        } else {
            None
        }
    }

    /// Host k's publication, for its watchers to wait on (not when a sidecar publishes, which
    /// reports no publication; announced by another shard when the hosts run there).
    fn publisher_of(&self, k: usize) -> Option<Published> {
        self.published[k].clone()
    }

    fn until(&self, at: Option<Micros>) -> Instant {
        at.map_or(self.ctx.until, |at| {
            self.ctx.clock.instant_of(at).min(self.ctx.until)
        })
    }

    /// Every host publishes into its room and watches every other host.
    fn hosts(&self, publishers: &mut Vec<Publishing>, watchers: &mut Vec<Watching>) {
        let (plan, t0) = (self.plan, self.t0);
        for (k, sender) in self.c.hosts.iter().enumerate() {
            let publication = Publication {
                id: format!("{}/h{k}", plan.name),
                config: sender.clone(),
                room: self.room(k),
                dial_at: t0,
                until: self.until(self.leaves_room(k)),
                published: self.published[k].clone(),
            };
            publishers.push(tokio::spawn(publish(self.hosts_ctx.clone(), publication)));
            for (j, reference) in self.c.hosts.iter().enumerate().filter(|(j, _)| *j != k) {
                // One link decodes every frame for picture quality; decoding them all would
                // cost more than the audience does.
                let role = if (k, j) == (0, 1) {
                    Role::Probe
                } else {
                    Role::Light
                };
                let w = Watch {
                    plan: host_session(format!("{}/h{k}<-h{j}", plan.name), 0, role),
                    room: self.room(j),
                    dial_at: t0,
                    reference: reference.clone(),
                    leave_at: earliest(self.leaves_room(k), self.leaves_room(j)),
                    via_sidecar: self.ctx.sidecar_plays(None),
                    publisher: self.publisher_of(j),
                };
                watchers.push(tokio::spawn(subscribe(self.hosts_ctx.clone(), w)));
            }
        }
    }

    /// Viewer `i` watches host `i % hosts`, and its partner during each PK round.
    fn audience(&self) -> Vec<Watching> {
        let mut audience = Vec::new();
        let n = self.c.hosts.len();
        for (i, r) in self.plan.receivers.iter().enumerate() {
            if r.elsewhere {
                continue;
            }
            let home = i % n;
            let dial_at = self.t0 + r.join_us;
            let leave_at = earliest(r.leave_us.map(|l| self.t0 + l), self.leaves_room(home));
            if leave_at.is_some_and(|l| l <= dial_at) {
                continue;
            }
            audience.push(tokio::spawn(subscribe(
                self.ctx.clone(),
                Watch {
                    plan: r.clone(),
                    room: self.room(home),
                    dial_at,
                    reference: self.c.hosts[home].clone(),
                    leave_at,
                    via_sidecar: self.ctx.sidecar_plays(None),
                    publisher: self.publisher_of(home),
                },
            )));
            audience.extend(self.pk_rounds(r, (home + 1) % n, dial_at, leave_at));
        }
        audience
    }

    /// A viewer's sessions on the partner host during the PK rounds it is there for.
    fn pk_rounds(
        &self,
        r: &ReceiverPlan,
        partner: usize,
        dial_at: Micros,
        leave_at: Option<Micros>,
    ) -> Vec<Watching> {
        let mut out = Vec::new();
        for (round, &(from, to)) in self.c.pk_rounds.iter().enumerate() {
            let (start, end) = (self.t0 + from, self.t0 + to);
            let end = [leave_at, self.leaves_room(partner)]
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
                leave_us: Some(end - self.t0),
                ..r.clone()
            };
            out.push(tokio::spawn(subscribe(
                self.ctx.clone(),
                Watch {
                    plan: pk,
                    room: self.room(partner),
                    dial_at: start,
                    reference: self.c.hosts[partner].clone(),
                    leave_at: Some(end),
                    via_sidecar: self.ctx.sidecar_plays(None),
                    publisher: self.publisher_of(partner),
                },
            )));
        }
        out
    }

    /// At the switch, hosts 0 and 1 dial each other's call room; dial → first frame of the
    /// call is the switch time.
    fn switch(&self, at: Micros, publishers: &mut Vec<Publishing>, watchers: &mut Vec<Watching>) {
        for k in 0..2 {
            let other = 1 - k;
            // Both sides dial at the switch and the switch time counts from it, publishing
            // included: the call's viewers do not wait (a refusal before the other side is
            // published is asked again).
            let publication = Publication {
                id: format!("{}/h{k}/call", self.plan.name),
                config: self.c.hosts[k].clone(),
                room: self.call_room(k),
                dial_at: at,
                until: self.ctx.until,
                published: None,
            };
            publishers.push(tokio::spawn(publish(self.hosts_ctx.clone(), publication)));
            let role = if k == 0 { Role::Probe } else { Role::Light };
            let w = Watch {
                plan: host_session(
                    format!("{}/h{k}<-h{other}/call", self.plan.name),
                    at - self.t0,
                    role,
                ),
                room: self.call_room(other),
                dial_at: at,
                reference: self.c.hosts[other].clone(),
                leave_at: None,
                via_sidecar: self.ctx.sidecar_plays(None),
                publisher: None,
            };
            let hosts = self.hosts_ctx.clone();
            watchers.push(tokio::spawn(async move {
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
    let rooms: Vec<String> = (0..c.hosts.len())
        .map(|k| room_name(&plan.room_tag, &plan.name, &format!("-h{k}")))
        .collect();
    let published = rooms
        .iter()
        .map(
            |room| match (publishes_natively(&ctx), plan.publisher_elsewhere) {
                (false, _) => None,
                (true, false) => Some(Published::here(&ctx.relay, room)),
                (true, true) => Published::there(&ctx.relay, room),
            },
        )
        .collect();
    let group = Cohosting {
        switch_at: c.switch_at_us.map(|at| t0 + at),
        published,
        ctx,
        hosts_ctx,
        plan,
        c,
        t0,
    };
    let mut host_publishers = Vec::new();
    let mut host_watchers = Vec::new();
    if !plan.publisher_elsewhere {
        group.hosts(&mut host_publishers, &mut host_watchers);
    }
    let audience = group.audience();
    let hosts_here = !plan.publisher_elsewhere && c.hosts.len() >= 2;
    if let Some(at) = group.switch_at.filter(|_| hosts_here) {
        group.switch(at, &mut host_publishers, &mut host_watchers);
    }
    let audience = gather(&group.ctx, plan, Vec::new(), audience).await;
    let hosts = gather(&group.hosts_ctx, plan, host_publishers, host_watchers).await;
    vec![audience, hosts]
}
