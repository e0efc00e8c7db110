//! The run over time, for the report's time-series charts: sessions up, joins and join failures
//! per interval, and freeze time as a share of watching time, with the plan's stage boundaries.

use super::GroupResult;
use crate::metrics::Metric;
use crate::plan::Mark;
pub use crate::record::{Timeline, TimelineMark, TimelinePoint};

impl Timeline {
    pub fn build(
        groups: &[GroupResult],
        marks: &[Mark],
        duration_s: f64,
        interval_ms: u64,
    ) -> Self {
        let step = interval_ms as f64 / 1000.0;
        let n = (duration_s / step).ceil().max(0.0) as usize;
        let mut points: Vec<TimelinePoint> = (0..n)
            .map(|i| TimelinePoint {
                start_s: i as f64 * step,
                ..TimelinePoint::default()
            })
            .collect();
        let index = |t: f64| ((t / step).floor().max(0.0) as usize).min(n.saturating_sub(1));
        for s in groups.iter().flat_map(|g| &g.sessions) {
            let Some(planned) = s.planned_join_s else {
                continue;
            };
            if n == 0 {
                break;
            }
            match (s.joined, s.connect_ms) {
                (true, Some(ms)) => {
                    let up = planned + ms / 1000.0;
                    let down = s.left_s.unwrap_or(duration_s);
                    points[index(up)].joins += 1;
                    for p in points.iter_mut() {
                        let mid = p.start_s + step / 2.0;
                        if up <= mid && mid < down {
                            p.sessions_up += 1;
                        }
                    }
                }
                _ => points[index(planned)].join_failures += 1,
            }
        }
        for p in points.iter_mut() {
            let i = index(p.start_s + step / 2.0);
            let frozen_ms: f64 = groups
                .iter()
                .filter_map(|g| g.metric(Metric::FreezeDurationMs)?.intervals.get(i))
                .map(|iv| iv.summary.mean * iv.summary.count as f64)
                .sum();
            let watched_ms = p.sessions_up as f64 * interval_ms as f64;
            p.freeze_time_pct =
                (watched_ms > 0.0).then(|| (100.0 * frozen_ms / watched_ms).min(100.0));
        }
        Self {
            marks: marks
                .iter()
                .map(|m| TimelineMark {
                    at_s: m.at_us as f64 / 1e6,
                    label: m.label.clone(),
                })
                .collect(),
            points,
        }
    }

    pub fn peak_sessions(&self) -> u64 {
        self.points.iter().map(|p| p.sessions_up).max().unwrap_or(0)
    }

    /// The most joins in one interval, per second.
    pub fn peak_joins_per_s(&self, interval_ms: u64) -> f64 {
        let most = self.points.iter().map(|p| p.joins).max().unwrap_or(0);
        most as f64 * 1000.0 / interval_ms as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::GroupOutcome;
    use crate::media::receiver::{AudioReceiver, Receiver, Role, SessionFailure, VideoReceiver};
    use crate::metrics::{Recorder, Sample};
    use crate::results::GroupResult;

    fn session(
        id: &str,
        planned_s: f64,
        connect_ms: Option<f64>,
        left_s: Option<f64>,
    ) -> crate::media::receiver::ReceiverSummary {
        let r = Receiver::new(
            id.into(),
            Role::Light,
            0,
            VideoReceiver::new(0, None),
            AudioReceiver::new(None),
        );
        let mut s = r.summary("g", 0);
        s.planned_join_s = Some(planned_s);
        s.connect_ms = connect_ms;
        s.joined = connect_ms.is_some();
        s.left_s = left_s;
        if connect_ms.is_none() {
            s.failure = Some(SessionFailure {
                step: "offer".into(),
                reason: "HTTP 503".into(),
            });
        }
        s
    }

    #[test]
    fn sessions_joins_failures_and_freeze_share_land_in_their_intervals() {
        // Known truth: 4 sessions joining 0.2 s after plan at 0, 1, 1 and 2 s; one leaves at
        // 3.5 s; one planned at 2 s never joins; 300 ms of freezes end in second 2.
        let mut rec = Recorder::new(0, 1_000_000);
        for ms in [100.0, 200.0] {
            rec.record(Sample {
                metric: Metric::FreezeDurationMs,
                at: 2_500_000,
                value: ms,
            });
        }
        let outcome = GroupOutcome {
            name: "g".into(),
            network_name: "clean".into(),
            network: Default::default(),
            sender: Default::default(),
            link: Default::default(),
            publisher_link: Default::default(),
            publisher_reconnects: Default::default(),
            network_phases: Vec::new(),
            publisher_network_phases: Vec::new(),
            series: rec.series,
            sessions: vec![
                session("a", 0.0, Some(200.0), None),
                session("b", 1.0, Some(200.0), Some(3.5)),
                session("c", 1.0, Some(200.0), None),
                session("d", 2.0, Some(200.0), None),
                session("e", 2.0, None, None),
            ],
            publisher_failures: vec![],
            notes: Default::default(),
        };
        let g = GroupResult::from_outcome(outcome, 1000);
        let marks = [Mark {
            at_us: 2_000_000,
            label: "step to 4".into(),
        }];
        let t = Timeline::build(&[g], &marks, 5.0, 1000);
        let up: Vec<u64> = t.points.iter().map(|p| p.sessions_up).collect();
        assert_eq!(up, [1, 3, 4, 3, 3]);
        let joins: Vec<u64> = t.points.iter().map(|p| p.joins).collect();
        assert_eq!(joins, [1, 2, 1, 0, 0]);
        let failed: Vec<u64> = t.points.iter().map(|p| p.join_failures).collect();
        assert_eq!(failed, [0, 0, 1, 0, 0]);
        // 300 ms frozen over 4 sessions × 1000 ms watched = 7.5 %, within histogram precision.
        let freeze = t.points[2].freeze_time_pct.unwrap();
        assert!((freeze - 7.5).abs() < 0.05, "{freeze}");
        assert_eq!(t.points[0].freeze_time_pct, Some(0.0));
        assert_eq!((t.peak_sessions(), t.peak_joins_per_s(1000)), (4, 2.0));
        assert_eq!(
            t.marks,
            [TimelineMark {
                at_s: 2.0,
                label: "step to 4".into()
            }]
        );
    }
}
