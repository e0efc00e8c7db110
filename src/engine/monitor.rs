//! The generator watching itself: how late the runtime wakes a timer. A saturated generator
//! shows here before anywhere else, and its lateness would otherwise be read as the provider's.

use super::live::Live;
use crate::base::cpu::{generator_cpu_s, resident_bytes};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the monitor asks to be woken.
pub const TICK: Duration = Duration::from_millis(20);

/// The generator's own state over one measurement interval of the run, summarised when the
/// interval closes (a histogram a second would make a long run's memory grow).
#[derive(Debug, Clone, Copy, Default)]
pub struct GeneratorInterval {
    /// How late wake-ups in the interval were, in µs: p99 and worst.
    pub lag_p99_us: u64,
    pub lag_max_us: u64,
    /// CPU seconds the process used in the interval.
    pub cpu_s: f64,
    /// The process's resident memory as the interval closed, in bytes.
    pub rss_bytes: Option<u64>,
}

/// How late the runtime woke timers, over the run and per interval from `start`.
#[derive(Debug, Clone)]
pub struct GeneratorSeries {
    pub lag_us: Histogram<u64>,
    pub intervals: Vec<GeneratorInterval>,
}

impl Default for GeneratorSeries {
    fn default() -> Self {
        Self {
            lag_us: new_histogram(),
            intervals: Vec::new(),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new(3).expect("valid precision")
}

/// The interval being measured: its lateness and the CPU reading it started from.
struct Open {
    lag_us: Histogram<u64>,
    cpu_at_start: f64,
}

impl Open {
    /// Summarises the interval into `series` (and the live view) and starts the next one.
    fn close_into(&mut self, series: &mut GeneratorSeries, live: &Live) {
        let cpu = generator_cpu_s().unwrap_or(self.cpu_at_start);
        let closed = GeneratorInterval {
            lag_p99_us: self.lag_us.value_at_quantile(0.99),
            lag_max_us: self.lag_us.max(),
            cpu_s: cpu - self.cpu_at_start,
            rss_bytes: resident_bytes(),
        };
        series.intervals.push(closed);
        live.note_generator(closed);
        self.lag_us.reset();
        self.cpu_at_start = cpu;
    }
}

/// Wakes every [`TICK`] from `start` until `until` or `stop`, noting how late each wake-up was
/// and the process's CPU time in each `interval`.
pub async fn watch_generator(
    start: Instant,
    interval: Duration,
    until: Instant,
    mut stop: watch::Receiver<bool>,
    live: std::sync::Arc<Live>,
) -> GeneratorSeries {
    let mut series = GeneratorSeries::default();
    tokio::time::sleep_until(start.into()).await;
    let mut open = Open {
        lag_us: new_histogram(),
        cpu_at_start: generator_cpu_s().unwrap_or(0.0),
    };
    let mut next = start + TICK;
    while next < until {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop.changed() => break,
        }
        let now = Instant::now();
        let late = now.saturating_duration_since(next).as_micros() as u64;
        let index = (now.duration_since(start).as_nanos() / interval.as_nanos()) as usize;
        // Crossing into a new interval closes the one before (and any a stall skipped).
        while series.intervals.len() < index {
            open.close_into(&mut series, &live);
        }
        let _ = series.lag_us.record(late);
        let _ = open.lag_us.record(late);
        // After a long stall, one late sample says it; do not replay the missed ticks.
        next = (next + TICK).max(now);
    }
    open.close_into(&mut series, &live);
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_shows_as_lag() {
        let (_tx, rx) = watch::channel(false);
        let start = Instant::now();
        let until = start + Duration::from_millis(400);
        let monitor = tokio::spawn(watch_generator(
            start,
            Duration::from_millis(100),
            until,
            rx,
            Default::default(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Hold the only runtime thread for 150 ms, as an overloaded generator would.
        std::thread::sleep(Duration::from_millis(150));
        let series = monitor.await.expect("monitor");
        // 1-2 intervals of 100 ms each held the block; its CPU is the thread's sleep, not work.
        assert!(series.intervals.len() >= 3);
        // Each interval says how much memory the process held as it closed.
        assert!(series
            .intervals
            .iter()
            .all(|i| i.rss_bytes.is_some_and(|b| b > 1 << 20)));
        let lag = series.lag_us;
        let max_ms = lag.max() as f64 / 1000.0;
        // The wake-up due during the block came about 130-150 ms late.
        assert!((100.0..250.0).contains(&max_ms), "max lag {max_ms} ms");
        assert!(
            lag.value_at_quantile(0.5) < 10_000,
            "most wake-ups are on time"
        );
    }
}
