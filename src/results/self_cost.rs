//! What a run cost rtcbench itself, measured by the process on itself: the figure that tells
//! whether the load generator, not the provider, was the limit, and how many subscribers one
//! core can drive.

use super::GroupResult;
pub use crate::record::{GeneratorInterval, SelfCost};

/// Above these, rtcbench's own delays are large enough to be mistaken for the provider's.
pub const SATURATED_CORE_SHARE: f64 = 0.85;
pub const SATURATED_RUNTIME_LAG_P99_MS: f64 = 50.0;
pub const SATURATED_SLIP_P95_MS: f64 = 100.0;
/// Browsers drop a frame they decoded when they cannot present it in time; past this share
/// the client, not the provider, set the frame rate.
pub const SATURATED_CLIENT_DROPPED_PCT: f64 = 5.0;

/// Why rtcbench's own load was enough to be mistaken for the provider's; empty when it kept up.
pub fn saturation_reasons(
    cores: f64,
    cpu_count: usize,
    lag_p99_ms: f64,
    lag_max_ms: f64,
    slip_p95_ms: Option<f64>,
    client_dropped_pct: Option<f64>,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if cpu_count > 0 && cores >= SATURATED_CORE_SHARE * cpu_count as f64 {
        reasons.push(format!(
            "CPU: {cores:.2} of {cpu_count} cores busy on average"
        ));
    }
    if lag_p99_ms > SATURATED_RUNTIME_LAG_P99_MS {
        reasons.push(format!(
            "timers woke up to {lag_p99_ms:.0} ms late (p99; worst {lag_max_ms:.0} ms)"
        ));
    }
    if let Some(slip) = slip_p95_ms.filter(|&s| s > SATURATED_SLIP_P95_MS) {
        reasons.push(format!("planned joins started {slip:.0} ms late (p95)"));
    }
    if let Some(dropped) = client_dropped_pct.filter(|&d| d > SATURATED_CLIENT_DROPPED_PCT) {
        reasons.push(format!(
            "sidecar clients dropped {dropped:.0} % of the frames they decoded (they could not present them in time)"
        ));
    }
    reasons
}

impl SelfCost {
    /// Cores kept busy on average.
    pub fn cores(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.cpu_s / self.wall_s
        } else {
            0.0
        }
    }

    /// CPU milliseconds per subscriber-track-second, publishers' cost included.
    pub fn cpu_ms_per_track_s(&self) -> Option<f64> {
        (self.subscriber_track_s > 0.0).then(|| self.cpu_s * 1000.0 / self.subscriber_track_s)
    }

    /// One line for people: what the run cost and what that means per subscribed track.
    pub fn describe(&self) -> String {
        let per_track = match self.cpu_ms_per_track_s() {
            Some(ms) => format!(", {ms:.2} ms CPU per subscriber-track-second"),
            None => String::new(),
        };
        let sfu = if self.sfu_in_process {
            " (the embedded SFU ran in this process and is included; `serve-reference` runs it apart)"
        } else {
            ""
        };
        let slip = match (self.schedule_slip_p95_ms, self.schedule_slip_max_ms) {
            (Some(p95), Some(max)) => {
                format!("; joins started {p95:.1} ms late at p95 (worst {max:.1})")
            }
            _ => String::new(),
        };
        format!(
            "{:.2} CPU-s over {:.1} s ({:.2} cores) for {} publishers and {:.0} subscriber-track-s{per_track}; timers {:.1} ms late at p99{slip}{sfu}",
            self.cpu_s,
            self.wall_s,
            self.cores(),
            self.publishers,
            self.subscriber_track_s,
            self.runtime_lag_p99_ms,
        )
    }

    /// Judges whether rtcbench kept up, from its CPU, its timers and its join schedule.
    pub fn judge_saturation(&mut self) {
        self.saturation = saturation_reasons(
            self.cores(),
            self.cpu_count,
            self.runtime_lag_p99_ms,
            self.runtime_lag_max_ms,
            self.schedule_slip_p95_ms,
            self.client_dropped_pct,
        );
    }

    /// Adds the subscribers and publishers of `groups` (`audio`: whether each has an audio track).
    pub fn count_media(&mut self, groups: &[GroupResult], audio: bool, publishers: u64) {
        let tracks = if audio { 2.0 } else { 1.0 };
        self.subscriber_track_s = groups
            .iter()
            .flat_map(|g| &g.sessions)
            .map(|s| s.rendered_ms / 1000.0 * tracks)
            .sum();
        self.publishers = publishers;
        self.client_dropped_pct = client_dropped_pct(groups.iter().flat_map(|g| &g.sessions));
    }
}

/// Of the frames the sessions' own clients decoded, the share they dropped.
fn client_dropped_pct<'a>(
    sessions: impl Iterator<Item = &'a crate::record::ReceiverSummary>,
) -> Option<f64> {
    let (decoded, dropped) = sessions
        .filter_map(|s| Some((s.client_frames_decoded?, s.client_frames_dropped?)))
        .fold((0u64, 0u64), |(a, b), (d, x)| (a + d, b + x));
    (decoded > 0).then(|| dropped as f64 * 100.0 / decoded as f64)
}

#[cfg(test)]
mod saturation_tests {
    use super::*;

    fn cost() -> SelfCost {
        SelfCost {
            cpu_s: 10.0,
            wall_s: 10.0,
            cpu_count: 2,
            runtime_lag_p99_ms: 3.0,
            runtime_lag_max_ms: 9.0,
            schedule_slip_p95_ms: Some(4.0),
            schedule_slip_max_ms: Some(12.0),
            ..SelfCost::default()
        }
    }

    #[test]
    fn a_generator_that_kept_up_is_not_flagged() {
        let mut c = cost();
        c.judge_saturation();
        assert!(c.saturation.is_empty(), "{:?}", c.saturation);
    }

    #[test]
    fn busy_cores_late_timers_and_late_joins_are_each_named() {
        let mut c = SelfCost {
            cpu_s: 18.0,
            runtime_lag_p99_ms: 80.0,
            runtime_lag_max_ms: 400.0,
            schedule_slip_p95_ms: Some(250.0),
            ..cost()
        };
        c.judge_saturation();
        assert_eq!(c.saturation.len(), 3, "{:?}", c.saturation);
        assert!(c.saturation[0].contains("1.80 of 2 cores"));
        assert!(c.saturation[1].contains("80 ms late"));
        assert!(c.saturation[2].contains("250 ms late"));
    }

    #[test]
    fn sidecar_clients_that_drop_decoded_frames_make_the_run_unreliable() {
        let session = |decoded, dropped| crate::record::ReceiverSummary {
            client_frames_decoded: Some(decoded),
            client_frames_dropped: Some(dropped),
            ..crate::media::receiver::Receiver::new(
                "g/r000".into(),
                crate::record::Role::Light,
                0,
                crate::media::receiver::VideoReceiver::new(0, None),
                crate::media::receiver::AudioReceiver::new(None),
            )
            .summary("g", 1)
        };
        let mut c = cost();
        c.client_dropped_pct = client_dropped_pct([session(900, 20), session(100, 0)].iter());
        c.judge_saturation();
        assert_eq!(c.client_dropped_pct, Some(2.0));
        assert!(
            c.saturation.is_empty(),
            "2 % dropped is within {SATURATED_CLIENT_DROPPED_PCT} %"
        );
        c.client_dropped_pct = client_dropped_pct([session(300, 120), session(100, 0)].iter());
        c.judge_saturation();
        assert_eq!(c.client_dropped_pct, Some(30.0));
        assert!(
            c.saturation[0].contains("dropped 30 %"),
            "{:?}",
            c.saturation
        );
    }
}
