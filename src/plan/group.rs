//! One scenario group made into its plan: its sender, its sessions (a fixed audience, a load
//! profile with churn, a capacity search's steps, or call pairs), which of them are probes, and
//! the co-hosts and faults that touch it.

use super::profile::{self, Session, Stage, Target};
use super::{capacity_steps, derive, faults, profile_of, CohostPlan, GroupPlan, ReceiverPlan};
use crate::media::receiver::Role;
use crate::media::sender::SenderConfig;
use crate::media::simulcast::{LayerAsk, LayerConfig};
use crate::net::sim_link::LinkParams;
use crate::scenario::simulcast::LayerChoice;
use crate::scenario::{self, GroupKind, GroupSpec, Scenario};

/// What a group's plan is drawn within.
pub(super) struct Within<'a> {
    pub(super) scenario: &'a Scenario,
    /// The group's own seed.
    pub(super) seed: u64,
    pub(super) duration_us: u64,
    pub(super) faults: &'a [faults::FaultPlan],
    /// Names the rooms rtcbench makes up.
    pub(super) room_tag: &'a str,
}

/// A group's receivers before roles: ids, join and leave instants, and (calls) each side's
/// sender.
struct Sessions {
    ids: Vec<String>,
    sessions: Vec<Session>,
    call_senders: Vec<SenderConfig>,
}

impl Within<'_> {
    pub(super) fn plan(&self, g: &GroupSpec) -> GroupPlan {
        let s = self.scenario;
        let network = scenario::network_for(s, g.network.get_ref());
        let Sessions {
            ids,
            sessions,
            call_senders,
        } = self.sessions(g);
        GroupPlan {
            name: g.name.get_ref().clone(),
            kind: g.kind,
            transport: s.transport,
            stagger_us: g.stagger.as_micros(),
            call_senders,
            network_name: g.network.get_ref().clone(),
            publisher_network: g
                .publisher_network
                .as_ref()
                .map(|n| scenario::network_for(s, n.get_ref())),
            publisher_network_name: g
                .publisher_network
                .as_ref()
                .map_or_else(String::new, |n| n.get_ref().clone()),
            link: LinkParams::from(&network),
            network,
            start_us: g.start.as_micros(),
            end_us: self.duration_us,
            sender: {
                let mut sender = self.sender(g, self.seed);
                if *g.publisher.get_ref() == scenario::Publisher::Rtmp {
                    // RTMP pushes are video only (docs/cdn.md): viewers expect no audio.
                    sender.audio_bitrate_bps = None;
                }
                sender
            },
            external_publisher: *g.publisher.get_ref() == scenario::Publisher::External,
            rtmp_publisher: *g.publisher.get_ref() == scenario::Publisher::Rtmp,
            publisher_of: None,
            room: g.room.as_ref().map(|r| r.get_ref().clone()),
            room_tag: self.room_tag.to_string(),
            publisher_elsewhere: false,
            live: None,
            receivers: self.receivers(g, ids, sessions),
            cohost: (g.kind == GroupKind::Cohost).then(|| self.cohost(g)),
            faults: self
                .faults
                .iter()
                .filter(|f| f.hits(g.name.get_ref()))
                .cloned()
                .collect(),
            reconnect: s.reconnect.clone(),
            viewer_client: s.viewer_client,
            layer_asks: layer_asks(g, s.video.simulcast.len() + 1),
        }
    }

    fn sender(&self, g: &GroupSpec, seed: u64) -> SenderConfig {
        let s = self.scenario;
        let bitrate = g
            .bitrate
            .unwrap_or(s.video.bitrate)
            .bps()
            .min(u32::MAX as u64) as u32;
        SenderConfig {
            seed,
            width: s.video.width.0 as usize,
            height: s.video.height.0 as usize,
            fps: s.video.fps.0,
            video_bitrate_bps: bitrate,
            keyframe_interval_us: s.video.keyframe_interval.as_micros(),
            audio_bitrate_bps: s.audio.enabled.then(|| s.audio.bitrate.bps() as u32),
            video_ssrc: derive(seed, &[1]) as u32,
            audio_ssrc: derive(seed, &[2]) as u32,
            probe_score_every: s.video.probe_score_every.0,
            lower_layers: lower_layers(&s.video),
        }
    }

    /// A room's audience: a capacity search's steps, a fixed number staggered, or a load
    /// profile with churn.
    fn audience(&self, g: &GroupSpec) -> Vec<Session> {
        let length_us = self.duration_us.saturating_sub(g.start.as_micros());
        let search = self
            .scenario
            .capacity
            .as_ref()
            .map(|c| c.get_ref())
            .filter(|c| c.group == *g.name.get_ref());
        if let Some(c) = search {
            let stages: Vec<Stage> = capacity_steps(c, 0, length_us)
                .iter()
                .flat_map(|st| {
                    [
                        Stage::Ramp {
                            us: st.hold_from_us - st.start_us,
                            to: st.level as f64,
                        },
                        Stage::Hold {
                            us: st.end_us - st.hold_from_us,
                        },
                    ]
                })
                .collect();
            return profile::sessions(&stages, Target::Concurrency);
        }
        if g.stages.is_empty() {
            let stagger = g.stagger.as_micros();
            return (0..*g.receivers.get_ref() as u64)
                .map(|i| Session {
                    join_us: i * stagger,
                    leave_us: None,
                })
                .collect();
        }
        let (stages, target) = profile_of(g);
        let planned = profile::sessions(&stages, target);
        let churn = g.churn_per_min.map_or(0.0, |c| c.fraction());
        profile::with_churn(&planned, churn, length_us, derive(self.seed, &[900]))
            .into_iter()
            .filter(|s| s.join_us < length_us)
            .collect()
    }

    fn sessions(&self, g: &GroupSpec) -> Sessions {
        let name = g.name.get_ref();
        match g.kind {
            GroupKind::Room | GroupKind::Cohost => {
                let sessions = self.audience(g);
                Sessions {
                    ids: (0..sessions.len())
                        .map(|ri| format!("{name}/r{ri:03}"))
                        .collect(),
                    sessions,
                    call_senders: Vec::new(),
                }
            }
            GroupKind::Call => {
                let sides = 2 * *g.pairs.get_ref() as usize;
                let side = |k: usize| if k % 2 == 0 { 'a' } else { 'b' };
                let stagger = g.stagger.as_micros();
                Sessions {
                    ids: (0..sides)
                        .map(|k| format!("{name}/p{:03}{}", k / 2, side(k)))
                        .collect(),
                    sessions: (0..sides as u64)
                        .map(|k| Session {
                            join_us: k / 2 * stagger,
                            leave_us: None,
                        })
                        .collect(),
                    call_senders: (0..sides)
                        .map(|k| self.sender(g, derive(self.seed, &[500 + k as u64])))
                        .collect(),
                }
            }
        }
    }

    fn receivers(
        &self,
        g: &GroupSpec,
        ids: Vec<String>,
        sessions: Vec<Session>,
    ) -> Vec<ReceiverPlan> {
        let probe_share = g.probe_share.map(|p| p.fraction());
        let is_probe = |ri: usize| match probe_share {
            // Spread evenly: session i is a probe when the running share crosses a whole one.
            Some(share) => ((ri + 1) as f64 * share).floor() > (ri as f64 * share).floor(),
            None => (ri as u32) < *g.probes.get_ref(),
        };
        ids.into_iter()
            .zip(sessions)
            .enumerate()
            .map(|(ri, (id, session))| ReceiverPlan {
                id,
                role: if is_probe(ri) {
                    Role::Probe
                } else {
                    Role::Light
                },
                link_seed: derive(self.seed, &[100 + ri as u64]),
                join_us: session.join_us,
                leave_us: session.leave_us,
                elsewhere: false,
            })
            .collect()
    }

    fn cohost(&self, g: &GroupSpec) -> CohostPlan {
        CohostPlan {
            hosts: (0..*g.hosts.get_ref() as u64)
                .map(|k| self.sender(g, derive(self.seed, &[700 + k])))
                .collect(),
            pk_rounds: g
                .pk
                .iter()
                .map(|r| (r.get_ref().start.as_micros(), r.get_ref().end.as_micros()))
                .collect(),
            switch_at_us: g.switch_to_call.as_ref().map(|d| d.get_ref().as_micros()),
        }
    }
}

/// The scenario's simulcast layers below the top, smallest first.
/// A group's asks for layers of `count`, in µs from its start.
fn layer_asks(g: &GroupSpec, count: usize) -> Vec<(u64, LayerAsk)> {
    let ask = |choice: LayerChoice| match choice {
        LayerChoice::Auto => LayerAsk::Auto,
        LayerChoice::Low => LayerAsk::Layer { index: 0, count },
        LayerChoice::Mid => LayerAsk::Layer { index: 1, count },
        LayerChoice::High => LayerAsk::Layer {
            index: count - 1,
            count,
        },
    };
    let first = g.layer.as_ref().map(|l| (0, ask(*l.get_ref())));
    let later = g.layer_schedule.iter().map(|step| {
        let step = step.get_ref();
        (step.at.as_micros(), ask(step.layer))
    });
    first.into_iter().chain(later).collect()
}

fn lower_layers(video: &crate::scenario::schema::VideoSpec) -> Vec<LayerConfig> {
    let mut layers: Vec<LayerConfig> = video
        .simulcast
        .iter()
        .map(|l| LayerConfig {
            scale_down: l.scale_down,
            fps: l.fps.map_or(video.fps.0, |f| f.0),
            bitrate_bps: l.bitrate.bps().min(u32::MAX as u64) as u32,
        })
        .collect();
    layers.sort_by_key(|l| std::cmp::Reverse(l.scale_down));
    layers
}
