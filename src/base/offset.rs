//! A clock's offset to a reference clock from NTP-style exchanges (RFC 5905's on-wire
//! calculation): the client stamps a request when it leaves (t1) and its answer when it comes
//! back (t4); the reference stamps when it received (t2) and answered (t3). Sans-IO: the caller
//! does the exchange and feeds the four stamps.
//!
//! Of recent exchanges the one with the least round-trip delay is kept (NTP's clock filter):
//! queueing only ever adds delay, so the quickest exchange is the least skewed. Its error is at
//! most half its delay (the true offset lies where the two one-way delays are both ≥ 0), plus
//! what the clocks may have drifted apart since it was taken.

use super::Micros;

/// How many recent exchanges the estimate is chosen from.
pub const WINDOW: usize = 8;
/// The drift allowed for between two clocks, parts per million: a quartz oscillator's
/// tolerance is tens of ppm, and machines kept by NTP drift far less.
pub const DRIFT_PPM: f64 = 50.0;

/// The four timestamps of one exchange, each on its own side's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    pub client_sent: Micros,
    pub server_received: Micros,
    pub server_sent: Micros,
    pub client_received: Micros,
}

impl Exchange {
    /// How far the client's clock is ahead of the server's, µs.
    pub fn ahead_us(&self) -> f64 {
        let there = self.server_received as f64 - self.client_sent as f64;
        let back = self.server_sent as f64 - self.client_received as f64;
        -(there + back) / 2.0
    }

    /// The round trip less the time the server held the request, µs (never below zero).
    pub fn delay_us(&self) -> f64 {
        let round_trip = self.client_received as f64 - self.client_sent as f64;
        let held = self.server_sent as f64 - self.server_received as f64;
        (round_trip - held).max(0.0)
    }
}

/// The current estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// How far this clock is ahead of the reference, µs.
    pub ahead_us: f64,
    /// The most the true offset can differ from `ahead_us`, µs.
    pub bound_us: f64,
    /// The chosen exchange's delay, µs.
    pub delay_us: f64,
}

/// Keeps the recent exchanges and answers the best estimate.
#[derive(Debug, Clone, Default)]
pub struct OffsetEstimator {
    recent: Vec<Exchange>,
    exchanges: u64,
    /// Every estimate's offset, to report how far it moved over the run.
    lowest_us: Option<f64>,
    highest_us: Option<f64>,
}

impl OffsetEstimator {
    /// Takes one exchange; one whose stamps run backwards on the client is dropped.
    pub fn add(&mut self, e: Exchange) {
        if e.client_received < e.client_sent || e.server_sent < e.server_received {
            return;
        }
        self.exchanges += 1;
        self.recent.push(e);
        if self.recent.len() > WINDOW {
            self.recent.remove(0);
        }
        if let Some(best) = self.estimate(e.client_received) {
            self.lowest_us = Some(
                self.lowest_us
                    .map_or(best.ahead_us, |l| l.min(best.ahead_us)),
            );
            self.highest_us = Some(
                self.highest_us
                    .map_or(best.ahead_us, |h| h.max(best.ahead_us)),
            );
        }
    }

    /// The least-delay exchange of the window, with its bound grown by the drift since it was
    /// taken (`now` on the client's clock); `None` before any exchange.
    pub fn estimate(&self, now: Micros) -> Option<Estimate> {
        let best = self
            .recent
            .iter()
            .min_by(|a, b| a.delay_us().total_cmp(&b.delay_us()))?;
        let age_s = now.saturating_sub(best.client_received) as f64 / 1e6;
        Some(Estimate {
            ahead_us: best.ahead_us(),
            bound_us: best.delay_us() / 2.0 + age_s * DRIFT_PPM,
            delay_us: best.delay_us(),
        })
    }

    /// Exchanges taken.
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    /// The span the estimate moved over (highest less lowest), µs.
    pub fn wander_us(&self) -> f64 {
        match (self.lowest_us, self.highest_us) {
            (Some(l), Some(h)) => h - l,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exchange between a client `ahead` µs ahead of the server, with one-way delays `out` and
    /// `back` and the server holding the request `held` µs, starting at server time `at`.
    fn exchange(at: u64, ahead: i64, out: u64, back: u64, held: u64) -> Exchange {
        let client = |server_time: u64| server_time.saturating_add_signed(ahead);
        Exchange {
            client_sent: client(at),
            server_received: at + out,
            server_sent: at + out + held,
            client_received: client(at + out + held + back),
        }
    }

    #[test]
    fn a_symmetric_exchange_gives_the_exact_offset() {
        let e = exchange(1_000_000, 250_000, 300, 300, 50);
        assert_eq!(e.ahead_us(), 250_000.0);
        assert_eq!(e.delay_us(), 600.0);
        let e = exchange(1_000_000, -1_500, 80, 80, 0);
        assert_eq!(e.ahead_us(), -1_500.0);
    }

    #[test]
    fn the_truth_lies_within_the_bound_however_asymmetric_the_paths() {
        for (out, back) in [(10, 5_000), (5_000, 10), (700, 700), (0, 2_000)] {
            let mut est = OffsetEstimator::default();
            est.add(exchange(2_000_000, 40_000, out, back, 100));
            let now = 2_000_000 + 40_000 + out + back + 100;
            let e = est.estimate(now).unwrap();
            assert!(
                (e.ahead_us - 40_000.0).abs() <= e.bound_us,
                "{out}/{back}: {e:?}"
            );
        }
    }

    #[test]
    fn the_quickest_recent_exchange_is_kept_and_old_ones_leave_the_window() {
        let mut est = OffsetEstimator::default();
        // One quick, exact exchange among slow, skewed ones.
        est.add(exchange(1_000_000, 10_000, 9_000, 100, 0));
        est.add(exchange(2_000_000, 10_000, 50, 50, 0));
        est.add(exchange(3_000_000, 10_000, 100, 8_000, 0));
        let e = est.estimate(3_100_000).unwrap();
        assert_eq!(e.ahead_us, 10_000.0);
        assert_eq!(e.delay_us, 100.0);
        for k in 0..WINDOW as u64 {
            est.add(exchange(4_000_000 + k * 1_000_000, 12_000, 400, 600, 0));
        }
        let e = est.estimate(20_000_000).unwrap();
        assert_eq!(e.delay_us, 1_000.0);
        assert!((e.ahead_us - 12_000.0).abs() <= e.bound_us);
        assert_eq!(est.exchanges(), 3 + WINDOW as u64);
        assert!(est.wander_us() >= 1_900.0, "{}", est.wander_us());
    }

    #[test]
    fn the_bound_grows_with_the_age_of_the_chosen_exchange() {
        let mut est = OffsetEstimator::default();
        est.add(exchange(0, 0, 100, 100, 0));
        let fresh = est.estimate(200).unwrap().bound_us;
        let later = est.estimate(200 + 60_000_000).unwrap().bound_us;
        assert_eq!(fresh, 100.0);
        assert!((later - fresh - 60.0 * DRIFT_PPM).abs() < 1e-6);
    }

    #[test]
    fn stamps_that_run_backwards_are_dropped() {
        let mut est = OffsetEstimator::default();
        est.add(Exchange {
            client_sent: 10,
            server_received: 5,
            server_sent: 6,
            client_received: 9,
        });
        assert_eq!(est.estimate(100), None);
    }
}
