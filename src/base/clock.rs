//! Media clocks: real wall time for runs, simulated time for calibration tests.
//!
//! A shard of a run spread over several machines reads its clock through a [`Correction`]: its
//! offset to the reference shard's clock, as [`crate::base::offset`] estimates it. Publishers
//! stamp capture times and viewers time arrivals on the corrected clock, so end-to-end latency
//! between machines compares like with like.

use super::Micros;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The variable that shifts this process's wall clock by a number of microseconds (signed). It
/// exists for tests, which need a machine whose clock is wrong by a known amount.
pub const TEST_SHIFT_VAR: &str = "RTCBENCH_TEST_CLOCK_SHIFT_US";

/// The test-only shift, read once per process.
pub fn test_shift_us() -> i64 {
    static SHIFT: OnceLock<i64> = OnceLock::new();
    *SHIFT.get_or_init(|| {
        std::env::var(TEST_SHIFT_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// How far this process's clock is ahead of the reference clock, in microseconds; shared by
/// every copy of the clocks that read through it, and updated as better estimates come in.
#[derive(Debug, Clone, Copy)]
pub struct Correction(&'static AtomicI64);

impl Correction {
    /// A new correction of zero. Each lives for the rest of the process (eight bytes per run).
    pub fn new() -> Self {
        Self(Box::leak(Box::new(AtomicI64::new(0))))
    }

    pub fn set(&self, ahead_us: i64) {
        self.0.store(ahead_us, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Correction {
    fn default() -> Self {
        Self::new()
    }
}

fn shifted(us: Micros, by: i64) -> Micros {
    us.saturating_add_signed(by)
}

/// Wall time in Unix-epoch microseconds, monotonic within a run (save for corrections, which
/// move it by the change of the estimate: a fraction of a millisecond).
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    base: Instant,
    base_unix_us: Micros,
    correction: Option<Correction>,
}

impl WallClock {
    pub fn start() -> Self {
        let base_unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        Self {
            base: Instant::now(),
            base_unix_us: shifted(base_unix_us, test_shift_us()),
            correction: None,
        }
    }

    /// The same clock read through `correction` (subtracted from every reading).
    pub fn corrected(self, correction: Correction) -> Self {
        Self {
            correction: Some(correction),
            ..self
        }
    }

    /// The reading without any correction: what this machine's clock says.
    pub fn uncorrected(self) -> Self {
        Self {
            correction: None,
            ..self
        }
    }

    fn ahead_us(&self) -> i64 {
        self.correction.map_or(0, |c| c.get())
    }

    pub fn now(&self) -> Micros {
        self.micros_of(Instant::now())
    }

    /// The media-clock reading of `at`.
    pub fn micros_of(&self, at: Instant) -> Micros {
        let raw = match at.checked_duration_since(self.base) {
            Some(d) => self.base_unix_us + d.as_micros() as u64,
            None => self
                .base_unix_us
                .saturating_sub((self.base - at).as_micros() as u64),
        };
        shifted(raw, -self.ahead_us())
    }

    /// The instant of a media-clock reading (the inverse of [`Self::micros_of`]).
    pub fn instant_of(&self, at: Micros) -> Instant {
        let at = shifted(at, self.ahead_us());
        if at >= self.base_unix_us {
            self.base + std::time::Duration::from_micros(at - self.base_unix_us)
        } else {
            let before = std::time::Duration::from_micros(self.base_unix_us - at);
            self.base.checked_sub(before).unwrap_or(self.base)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn micros_and_instants_convert_both_ways() {
        let clock = WallClock::start();
        let now = Instant::now();
        for at in [
            now,
            now + Duration::from_millis(1500),
            clock.base - Duration::from_millis(20),
        ] {
            let us = clock.micros_of(at);
            let back = clock.instant_of(us);
            let diff = if back > at { back - at } else { at - back };
            assert!(diff < Duration::from_micros(1), "{diff:?}");
        }
        assert_eq!(
            clock.micros_of(clock.base) + 1_000,
            clock.micros_of(clock.base + Duration::from_millis(1))
        );
    }

    #[test]
    fn a_correction_moves_readings_and_instants_together() {
        let correction = Correction::new();
        let raw = WallClock::start();
        let clock = raw.corrected(correction);
        let at = Instant::now() + Duration::from_millis(300);
        correction.set(250_000);
        assert_eq!(clock.micros_of(at) + 250_000, raw.micros_of(at));
        let back = clock.instant_of(clock.micros_of(at));
        assert!(back <= at && at - back < Duration::from_micros(1));
        correction.set(-40_000);
        assert_eq!(clock.micros_of(at), raw.micros_of(at) + 40_000);
        assert_eq!(clock.uncorrected().micros_of(at), raw.micros_of(at));
    }
}
