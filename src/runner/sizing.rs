//! `rtcbench plan`: what each shard of a run will carry and need, from rtcbench's own measured
//! costs, and how many shards a target audience needs.

use super::preflight::{self, Needs};
use crate::plan::shard::{self, Shard};
use crate::plan::Plan;
use crate::scenario::Scenario;

/// CPU per subscribed track per second of media: measured with the SFU in its own process
/// (1.55 ms at 241 viewers with audio and video, docs/measurement.md).
pub const CPU_S_PER_TRACK_S: f64 = 1.55e-3;
/// A publisher encodes its own 640x360 video at 30 fps (2.3 ms a frame, plus the source's
/// 0.95 ms) and packetises it: about a tenth of a core.
pub const PUBLISHER_CORES: f64 = 0.10;
/// A quality probe decodes every frame and reads its marker: about a twentieth of a core
/// beside what it costs as a viewer.
pub const PROBE_CORES: f64 = 0.05;
/// A shard is sized to keep its cores this busy at the peak, so that timers stay on time.
pub const TARGET_UTILISATION: f64 = 0.7;

/// One shard's slice, sized.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSize {
    pub shard: Shard,
    pub sessions: u64,
    pub needs: Needs,
    pub peak_tracks: u64,
    pub cores: f64,
}

/// How many tracks each viewer subscribes to.
fn tracks_per_viewer(s: &Scenario) -> u64 {
    1 + u64::from(s.audio.enabled)
}

/// The cores `needs` keep busy, from the measured costs.
pub fn cores_for(needs: &Needs, tracks_per_viewer: u64) -> f64 {
    let viewers = needs.sessions.saturating_sub(needs.publishers);
    viewers as f64 * tracks_per_viewer as f64 * CPU_S_PER_TRACK_S
        + needs.publishers as f64 * PUBLISHER_CORES
        + needs.probes as f64 * PROBE_CORES
}

/// Each shard's slice of `plan` (built from `scenario`), sized.
pub fn shards(scenario: &Scenario, plan: &Plan, count: u32) -> Vec<ShardSize> {
    (0..count)
        .filter_map(|i| Shard::new(i, count).ok())
        .map(|shard| {
            let mut p = plan.clone();
            let sliced = shard::slice(&mut p, shard);
            let needs = preflight::needs(&p);
            let viewers = needs.sessions.saturating_sub(needs.publishers);
            ShardSize {
                shard,
                sessions: sliced.here,
                peak_tracks: viewers * tracks_per_viewer(scenario),
                cores: cores_for(&needs, tracks_per_viewer(scenario)),
                needs,
            }
        })
        .collect()
}

/// A/V viewers one shard of `cores` cores carries at the target utilisation.
pub fn viewers_per_shard(scenario: &Scenario, cores: f64) -> u64 {
    let per_viewer = tracks_per_viewer(scenario) as f64 * CPU_S_PER_TRACK_S;
    (cores * TARGET_UTILISATION / per_viewer).floor() as u64
}

/// Shards of `cores` cores that `viewers` need.
pub fn shards_for(scenario: &Scenario, viewers: u64, cores: f64) -> u64 {
    viewers.div_ceil(viewers_per_shard(scenario, cores).max(1))
}

/// The printed plan.
pub fn describe(
    scenario: &Scenario,
    plan: &Plan,
    count: u32,
    cores: f64,
    target: Option<u64>,
) -> String {
    let sizes = shards(scenario, plan, count);
    let mut out = format!(
        "{}: {} groups, {:.0} s, seed {}, {count} shard(s)\n",
        scenario.name,
        plan.groups.len(),
        plan.duration_us as f64 / 1e6,
        plan.seed
    );
    out.push_str("shard   sessions  peak up  publishers  probes  peak tracks  cores   memory\n");
    for s in &sizes {
        out.push_str(&format!(
            "{:<7} {:>8}  {:>7}  {:>10}  {:>6}  {:>11}  {:>5.2}  {:>5.0} MB\n",
            s.shard.to_string(),
            s.sessions,
            s.needs.sessions,
            s.needs.publishers,
            s.needs.probes,
            s.peak_tracks,
            s.cores,
            s.needs.memory_bytes as f64 / 1e6
        ));
    }
    let busiest = sizes.iter().map(|s| s.cores).fold(0.0, f64::max);
    let per_shard = viewers_per_shard(scenario, cores);
    out.push_str(&format!(
        "At rtcbench's measured cost ({:.2} ms CPU per subscribed track-second, {:.2} cores per publisher, {:.2} per probe), the busiest shard needs {:.2} cores; a shard of {cores} cores at {:.0}% carries about {per_shard} viewers.\n",
        CPU_S_PER_TRACK_S * 1e3,
        PUBLISHER_CORES,
        PROBE_CORES,
        busiest / TARGET_UTILISATION,
        TARGET_UTILISATION * 100.0
    ));
    if let Some(viewers) = target {
        out.push_str(&format!(
            "{viewers} viewers: {} shards of {cores} cores.\n",
            shards_for(scenario, viewers, cores)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(audio: bool) -> Scenario {
        let text = format!(
            "name = \"s\"\nduration = \"60s\"\ntransport = \"webrtc\"\n[audio]\nenabled = {audio}\n[[group]]\nname = \"room\"\nreceivers = 100\nprobes = 2\nstagger = \"10ms\"\n"
        );
        crate::scenario::parse(&text, "s.toml").unwrap()
    }

    #[test]
    fn shards_split_the_sessions_and_the_publisher_runs_once() {
        let s = scenario(true);
        let plan = crate::plan::build(&s, 1, None);
        let sizes = shards(&s, &plan, 4);
        assert_eq!(sizes.iter().map(|z| z.sessions).sum::<u64>(), 101);
        assert_eq!(sizes.iter().map(|z| z.needs.publishers).sum::<u64>(), 1);
        assert_eq!(sizes[0].needs.publishers, 1);
        assert!(sizes[0].cores > sizes[1].cores);
        assert_eq!(sizes[1].peak_tracks, 2 * 25);
    }

    #[test]
    fn the_shards_a_target_needs_follow_from_the_measured_cost() {
        let s = scenario(true);
        // 2 cores × 0.7 / (2 tracks × 1.55 ms) = 451 viewers.
        assert_eq!(viewers_per_shard(&s, 2.0), 451);
        assert_eq!(shards_for(&s, 100_000, 2.0), 222);
        assert_eq!(viewers_per_shard(&scenario(false), 2.0), 903);
    }
}
