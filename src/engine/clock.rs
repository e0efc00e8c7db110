//! Media clocks: real wall time for runs, simulated time for calibration tests.

use crate::media::Micros;
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
    pub fn instant_of(&self, at: Micros) -> Instant {
        self.base + std::time::Duration::from_micros(at.saturating_sub(self.base_unix_us))
    }
}
