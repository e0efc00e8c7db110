//! Load profiles: stages of ramp, step, hold and pulse turned into the planned join and leave
//! instant of every viewer session. Open model: the instants are fixed here, before the run, and
//! joins happen on them whatever earlier joins are doing. The same stages and seed always give
//! the same sessions.

use crate::base::rng::{mix64, GOLDEN_GAMMA};

/// One stage as the plan sees it: a shape, a length, and a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stage {
    /// Linear change of the target to `to` over `us` (a step is a ramp of a few seconds).
    Ramp { us: u64, to: f64 },
    /// The target stays where it is for `us`.
    Hold { us: u64 },
    /// The target jumps to `to` (over `rise_us`), stays, and falls back (over `rise_us`) by the
    /// end of `us`.
    Pulse { us: u64, to: f64, rise_us: u64 },
}

impl Stage {
    pub fn duration_us(&self) -> u64 {
        match *self {
            Stage::Ramp { us, .. } | Stage::Hold { us } | Stage::Pulse { us, .. } => us,
        }
    }
}

/// What the stages' targets mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Concurrent viewers: joins and leaves follow the target line.
    Concurrency,
    /// Joins per second; each session lasts `watch_us` (or to the end of the run when `None`).
    ArrivalRate { watch_us: Option<u64> },
}

/// A planned viewer session, in microseconds from the group's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub join_us: u64,
    /// `None`: watches until the run ends.
    pub leave_us: Option<u64>,
}

/// The sessions `stages` call for, sorted by join instant.
pub fn sessions(stages: &[Stage], target: Target) -> Vec<Session> {
    let mut out = match target {
        Target::Concurrency => concurrency_sessions(stages),
        Target::ArrivalRate { watch_us } => arrival_sessions(stages, watch_us),
    };
    out.sort_by_key(|s| s.join_us);
    out
}

fn concurrency_sessions(stages: &[Stage]) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    // Open sessions, newest last: a falling target ends the newest first.
    let mut open: Vec<usize> = Vec::new();
    let mut level = 0i64;
    let mut start = 0u64;
    let join = |sessions: &mut Vec<Session>, open: &mut Vec<usize>, at: u64| {
        sessions.push(Session {
            join_us: at,
            leave_us: None,
        });
        open.push(sessions.len() - 1);
    };
    let leave = |sessions: &mut Vec<Session>, open: &mut Vec<usize>, at: u64| {
        if let Some(i) = open.pop() {
            sessions[i].leave_us = Some(at);
        }
    };
    // The instant of the n-th of `count` evenly spaced changes over `span` from `from`.
    let nth = |from: u64, span: u64, n: i64, count: i64| -> u64 {
        from + (span as u128 * n as u128 / count as u128) as u64
    };
    for stage in stages {
        let end = start + stage.duration_us();
        match *stage {
            Stage::Hold { .. } => {}
            Stage::Ramp { us, to } => {
                let to = to.round() as i64;
                let change = to - level;
                for n in 1..=change.abs() {
                    let at = nth(start, us, n, change.abs());
                    if change > 0 {
                        join(&mut sessions, &mut open, at);
                    } else {
                        leave(&mut sessions, &mut open, at);
                    }
                }
                level = to;
            }
            Stage::Pulse { us, to, rise_us } => {
                let extra = (to.round() as i64 - level).max(0);
                let rise = rise_us.min(us / 2);
                for n in 1..=extra {
                    join(&mut sessions, &mut open, nth(start, rise, n, extra));
                }
                for n in 1..=extra {
                    leave(&mut sessions, &mut open, nth(end - rise, rise, n, extra));
                }
            }
        }
        start = end;
    }
    sessions
}

fn arrival_sessions(stages: &[Stage], watch_us: Option<u64>) -> Vec<Session> {
    let mut joins = Vec::new();
    let mut rate = 0.0f64;
    let mut start = 0u64;
    // Arrivals so far, fractional: the next join is when this reaches the next whole number.
    let mut count = 0.0f64;
    for stage in stages {
        let us = stage.duration_us();
        let secs = us as f64 / 1e6;
        // The rate over the stage: from r0 to r1 linearly (a pulse is flat at its top).
        let (r0, r1, after) = match *stage {
            Stage::Hold { .. } => (rate, rate, rate),
            Stage::Ramp { to, .. } => (rate, to, to),
            Stage::Pulse { to, .. } => (to, to, rate),
        };
        let slope = (r1 - r0) / secs.max(1e-9);
        let total = (r0 + r1) / 2.0 * secs;
        let mut next = count.floor() + 1.0;
        while next <= count + total + 1e-9 {
            let need = next - count;
            // Solve r0·t + slope·t²/2 = need for t in [0, secs].
            let t = if slope.abs() < 1e-12 {
                need / r0
            } else {
                (-r0 + (r0 * r0 + 2.0 * slope * need).max(0.0).sqrt()) / slope
            };
            let at = start + (t.clamp(0.0, secs) * 1e6).round() as u64;
            joins.push(at);
            next += 1.0;
        }
        count += total;
        rate = after;
        start += us;
    }
    joins
        .into_iter()
        .map(|join_us| Session {
            join_us,
            leave_us: watch_us.map(|w| join_us + w),
        })
        .collect()
}

/// Viewers leave and come back: `churn_per_min` is the share of viewers that do so each minute
/// (0.1 = 10 %). Each session is cut at exponentially distributed instants and a new session starts at the same instant, so the audience
/// size follows the profile while joins keep happening. `end_us` bounds sessions with no leave.
pub fn with_churn(
    sessions: &[Session],
    churn_per_min: f64,
    end_us: u64,
    seed: u64,
) -> Vec<Session> {
    if churn_per_min <= 0.0 {
        return sessions.to_vec();
    }
    let mean_us = 60e6 / churn_per_min;
    let mut out = Vec::new();
    for (slot, s) in sessions.iter().enumerate() {
        let stop = s.leave_us.unwrap_or(end_us);
        let mut state = mix64(seed ^ (slot as u64).wrapping_mul(GOLDEN_GAMMA));
        let mut join = s.join_us;
        loop {
            state = mix64(state);
            // A uniform in (0, 1] from the top 53 bits, then an exponential draw.
            let u = ((state >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let cut = join + (-u.ln() * mean_us) as u64;
            if cut >= stop {
                out.push(Session {
                    join_us: join,
                    leave_us: s.leave_us,
                });
                break;
            }
            out.push(Session {
                join_us: join,
                leave_us: Some(cut),
            });
            join = cut;
        }
    }
    out.sort_by_key(|s| s.join_us);
    out
}

/// Viewers present at `at_us`.
pub fn concurrency_at(sessions: &[Session], at_us: u64) -> usize {
    sessions
        .iter()
        .filter(|s| s.join_us <= at_us && s.leave_us.is_none_or(|l| l > at_us))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn a_ramp_joins_evenly() {
        let s = sessions(
            &[Stage::Ramp {
                us: 10 * S,
                to: 10.0,
            }],
            Target::Concurrency,
        );
        let joins: Vec<u64> = s.iter().map(|s| s.join_us).collect();
        assert_eq!(joins, (1..=10).map(|k| k * S).collect::<Vec<_>>());
        assert!(s.iter().all(|s| s.leave_us.is_none()));
    }

    #[test]
    fn a_falling_ramp_ends_the_newest_sessions_first() {
        let s = sessions(
            &[
                Stage::Ramp { us: 4 * S, to: 4.0 },
                Stage::Ramp { us: 2 * S, to: 2.0 },
            ],
            Target::Concurrency,
        );
        assert_eq!(s[3].leave_us, Some(5 * S));
        assert_eq!(s[2].leave_us, Some(6 * S));
        assert_eq!(s[1].leave_us, None);
        assert_eq!(concurrency_at(&s, 5 * S + 1), 3);
    }

    #[test]
    fn arrival_rates_integrate_to_the_right_count_and_instants() {
        // 10 joins/s for 2 s, then a ramp from 10/s to 30/s over 2 s: 20 + 40 = 60 joins.
        let s = sessions(
            &[
                Stage::Ramp { us: 0, to: 10.0 },
                Stage::Hold { us: 2 * S },
                Stage::Ramp {
                    us: 2 * S,
                    to: 30.0,
                },
            ],
            Target::ArrivalRate {
                watch_us: Some(5 * S),
            },
        );
        assert_eq!(s.len(), 60);
        assert_eq!(s[0].join_us, 100_000);
        assert_eq!(s[19].join_us, 2 * S);
        // Ramp: 10t + 5t² = 20 at t = -1 + √5 = 1.2361 s.
        assert!(
            (s[39].join_us as i64 - 3_236_068).abs() <= 1,
            "{}",
            s[39].join_us
        );
        assert_eq!(s[0].leave_us, Some(5_100_000));
    }

    #[test]
    fn churn_keeps_the_audience_and_adds_joins() {
        let base = sessions(&[Stage::Ramp { us: 0, to: 100.0 }], Target::Concurrency);
        let churned = with_churn(&base, 0.3, 60 * S, 7);
        // 30 % a minute of 100 viewers for a minute: about 30 rejoins.
        let rejoins = churned.len() - base.len();
        assert!((15..=50).contains(&rejoins), "{rejoins}");
        for t in [S, 20 * S, 59 * S] {
            assert_eq!(concurrency_at(&churned, t), 100);
        }
        assert_eq!(churned, with_churn(&base, 0.3, 60 * S, 7));
        assert_ne!(churned, with_churn(&base, 0.3, 60 * S, 8));
    }
}
