//! The generator watching itself: how late the runtime wakes a timer. A saturated generator
//! shows here before anywhere else, and its lateness would otherwise be read as the provider's.

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the monitor asks to be woken.
pub const TICK: Duration = Duration::from_millis(20);

/// Wakes every [`TICK`] until `until` or `stop`; returns how late each wake-up was, in µs.
pub async fn runtime_lag(until: Instant, mut stop: watch::Receiver<bool>) -> Histogram<u64> {
    let mut lag = Histogram::<u64>::new(3).expect("valid precision");
    let mut next = Instant::now() + TICK;
    while next < until {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop.changed() => break,
        }
        let now = Instant::now();
        let _ = lag.record(now.saturating_duration_since(next).as_micros() as u64);
        // After a long stall, one late sample says it; do not replay the missed ticks.
        next = (next + TICK).max(now);
    }
    lag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_shows_as_lag() {
        let (_tx, rx) = watch::channel(false);
        let until = Instant::now() + Duration::from_millis(400);
        let monitor = tokio::spawn(runtime_lag(until, rx));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Hold the only runtime thread for 150 ms, as an overloaded generator would.
        std::thread::sleep(Duration::from_millis(150));
        let lag = monitor.await.expect("monitor");
        let max_ms = lag.max() as f64 / 1000.0;
        // The wake-up due during the block came about 130-150 ms late.
        assert!((100.0..250.0).contains(&max_ms), "max lag {max_ms} ms");
        assert!(
            lag.value_at_quantile(0.5) < 10_000,
            "most wake-ups are on time"
        );
    }
}
