//! A one-way simulated link: fixed delay, uniform jitter (packets may reorder) and random loss,
//! all from a seeded RNG so a run is repeatable. Sans-IO: datagrams and time in, datagrams out.

use crate::base::Micros;
pub use crate::record::LinkStats;
use crate::scenario::NetworkProfile;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    pub delay_us: u64,
    pub jitter_us: u64,
    pub loss: f64,
}

impl From<&NetworkProfile> for LinkParams {
    fn from(p: &NetworkProfile) -> Self {
        Self {
            delay_us: p.delay.as_micros(),
            jitter_us: p.jitter.as_micros(),
            loss: p.loss.fraction(),
        }
    }
}

impl LinkStats {
    /// Adds another link's counts (links of several receivers, or of merged runs).
    pub fn add(&mut self, other: &LinkStats) {
        self.sent += other.sent;
        self.dropped += other.dropped;
        self.delivered += other.delivered;
        self.delay_sum_us += other.delay_sum_us;
    }

    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.dropped as f64 * 100.0 / self.sent as f64
        }
    }
    pub fn mean_delay_ms(&self) -> f64 {
        if self.delivered == 0 {
            0.0
        } else {
            self.delay_sum_us as f64 / self.delivered as f64 / 1000.0
        }
    }
}

pub struct SimLink {
    params: LinkParams,
    rng: ChaCha8Rng,
    /// (delivery time, order of sending) → datagram; the order breaks ties first-in first-out.
    queue: BinaryHeap<Reverse<(Micros, u64, Datagram)>>,
    order: u64,
    pub stats: LinkStats,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Datagram(Vec<u8>);

impl SimLink {
    pub fn new(params: LinkParams, seed: u64) -> Self {
        Self {
            params,
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            order: 0,
            stats: LinkStats::default(),
        }
    }

    /// Sends a datagram at `now`; returns the delay it was given, or `None` if it was lost.
    pub fn send(&mut self, datagram: Vec<u8>, now: Micros) -> Option<u64> {
        self.stats.sent += 1;
        if self.params.loss > 0.0 && self.rng.random::<f64>() < self.params.loss {
            self.stats.dropped += 1;
            return None;
        }
        let j = self.params.jitter_us as i64;
        let offset = if j > 0 {
            self.rng.random_range(-j..=j)
        } else {
            0
        };
        let delay = (self.params.delay_us as i64 + offset).max(0) as u64;
        self.order += 1;
        self.queue
            .push(Reverse((now + delay, self.order, Datagram(datagram))));
        self.stats.delay_sum_us += delay;
        Some(delay)
    }

    /// When the next datagram is due out of the link.
    pub fn poll_timeout(&self) -> Option<Micros> {
        self.queue.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next datagram due by `now`, with its delivery instant.
    pub fn poll_delivery(&mut self, now: Micros) -> Option<(Micros, Vec<u8>)> {
        if self.poll_timeout()? > now {
            return None;
        }
        let Reverse((at, _, Datagram(d))) = self.queue.pop()?;
        self.stats.delivered += 1;
        Some((at, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_exact_without_jitter() {
        let mut link = SimLink::new(
            LinkParams {
                delay_us: 50_000,
                jitter_us: 0,
                loss: 0.0,
            },
            1,
        );
        link.send(vec![1], 1_000);
        assert_eq!(link.poll_delivery(50_999), None);
        assert_eq!(link.poll_delivery(51_000), Some((51_000, vec![1])));
    }

    #[test]
    fn same_seed_same_fate() {
        let run = |seed| {
            let mut link = SimLink::new(
                LinkParams {
                    delay_us: 10_000,
                    jitter_us: 5_000,
                    loss: 0.2,
                },
                seed,
            );
            (0..1000)
                .map(|i| link.send(vec![], i * 1000))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
