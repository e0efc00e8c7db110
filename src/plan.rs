//! Turns a scenario and a seed into a deterministic plan: which groups run, when, with which
//! receivers, on which links, with which seeds. The same inputs always give the same plan.

use crate::media::receiver::Role;
use crate::media::sender::SenderConfig;
use crate::media::source::mix64;
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
    pub link: LinkParams,
    /// Offsets from the start of the run.
    pub start_us: u64,
    pub end_us: u64,
    /// The room's publisher; for an external one, what its clip was made from.
    pub sender: SenderConfig,
    pub external_publisher: bool,
    /// The provider's room name, when the scenario fixes it.
    pub room: Option<String>,
    pub receivers: Vec<ReceiverPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiverPlan {
    pub id: String,
    pub role: Role,
    pub link_seed: u64,
}

fn derive(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(seed), |acc, &p| mix64(acc ^ p))
}

pub fn build(s: &Scenario, seed: u64, duration_override_us: Option<u64>) -> Plan {
    let duration_us = duration_override_us.unwrap_or_else(|| s.duration.as_micros());
    let groups = s
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.start.as_micros() < duration_us)
        .map(|(gi, g)| {
            let network = scenario::network_for(s, g.network.get_ref());
            let group_seed = derive(seed, &[gi as u64]);
            let bitrate = g
                .bitrate
                .unwrap_or(s.video.bitrate)
                .bps()
                .min(u32::MAX as u64) as u32;
            let sender_for = |seed: u64| SenderConfig {
                seed,
                width: s.video.width.0 as usize,
                height: s.video.height.0 as usize,
                fps: s.video.fps.0,
                video_bitrate_bps: bitrate,
                keyframe_interval_us: s.video.keyframe_interval.as_micros(),
                audio_bitrate_bps: s.audio.enabled.then(|| s.audio.bitrate.bps() as u32),
                video_ssrc: derive(seed, &[1]) as u32,
                audio_ssrc: derive(seed, &[2]) as u32,
            };
            let (receiver_ids, call_senders): (Vec<String>, Vec<SenderConfig>) = match g.kind {
                GroupKind::Room => (
                    (0..*g.receivers.get_ref())
                        .map(|ri| format!("{}/r{:03}", g.name.get_ref(), ri))
                        .collect(),
                    Vec::new(),
                ),
                GroupKind::Call => (0..2 * *g.pairs.get_ref())
                    .map(|k| {
                        let id = format!(
                            "{}/p{:03}{}",
                            g.name.get_ref(),
                            k / 2,
                            if k % 2 == 0 { 'a' } else { 'b' }
                        );
                        (id, sender_for(derive(group_seed, &[500 + k as u64])))
                    })
                    .unzip(),
            };
            GroupPlan {
                name: g.name.get_ref().clone(),
                kind: g.kind,
                transport: s.transport,
                stagger_us: g.stagger.as_micros(),
                call_senders,
                network_name: g.network.get_ref().clone(),
                link: LinkParams::from(&network),
                network,
                start_us: g.start.as_micros(),
                end_us: duration_us,
                sender: sender_for(group_seed),
                external_publisher: *g.publisher.get_ref() == scenario::Publisher::External,
                room: g.room.as_ref().map(|r| r.get_ref().clone()),
                receivers: receiver_ids
                    .into_iter()
                    .enumerate()
                    .map(|(ri, id)| ReceiverPlan {
                        id,
                        role: if (ri as u32) < *g.probes.get_ref() {
                            Role::Probe
                        } else {
                            Role::Light
                        },
                        link_seed: derive(group_seed, &[100 + ri as u64]),
                    })
                    .collect(),
            }
        })
        .collect();
    Plan {
        scenario_name: s.name.clone(),
        seed,
        duration_us,
        interval_us: INTERVAL_US,
        groups,
    }
}
