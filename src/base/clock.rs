//! Media clocks: real wall time for runs, simulated time for calibration tests.

use super::Micros;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall time in Unix-epoch microseconds, monotonic within a run.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    base: Instant,
    base_unix_us: Micros,
}

impl WallClock {
    pub fn start() -> Self {
        let base_unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        Self {
            base: Instant::now(),
            base_unix_us,
        }
    }
    pub fn now(&self) -> Micros {
        self.base_unix_us + self.base.elapsed().as_micros() as u64
    }
    /// The media-clock reading of `at`.
    pub fn micros_of(&self, at: Instant) -> Micros {
        match at.checked_duration_since(self.base) {
            Some(d) => self.base_unix_us + d.as_micros() as u64,
            None => self
                .base_unix_us
                .saturating_sub((self.base - at).as_micros() as u64),
        }
    }

    /// The instant of a media-clock reading (the inverse of [`Self::micros_of`]).
    pub fn instant_of(&self, at: Micros) -> Instant {
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
}
