//! What forwarding costs the reference SFU: its process CPU per subscriber track-second it
//! forwarded, read between two instants, so `serve-reference` can say how many viewers a core
//! of it carries.

use super::worker::WorkerReading;

/// The SFU process and its workers at one instant.
#[derive(Debug, Clone, Default)]
pub struct CostSnapshot {
    /// Process CPU seconds (user + system) so far.
    pub cpu_s: f64,
    /// Seconds since any fixed instant.
    pub wall_s: f64,
    pub workers: Vec<WorkerReading>,
}

/// Between two snapshots: the CPU per forwarded subscriber track-second, with what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardingCost {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub track_s: f64,
    pub packets: u64,
    /// Packets each worker wrote to its subscribers in the window.
    pub worker_packets: Vec<u64>,
    pub relay_dropped: u64,
}

impl ForwardingCost {
    /// None when nothing was forwarded in the window (the cost of idling is not a cost per
    /// track).
    pub fn between(from: &CostSnapshot, to: &CostSnapshot) -> Option<Self> {
        let wall_s = to.wall_s - from.wall_s;
        let sum = |s: &CostSnapshot, f: fn(&WorkerReading) -> f64| -> f64 {
            s.workers.iter().map(f).sum()
        };
        let track_s = sum(to, |r| r.track_s) - sum(from, |r| r.track_s);
        if track_s <= 0.0 || wall_s <= 0.0 {
            return None;
        }
        let worker_packets = to
            .workers
            .iter()
            .zip(
                from.workers
                    .iter()
                    .chain(std::iter::repeat(&WorkerReading::default())),
            )
            .map(|(t, f)| t.forwarded.saturating_sub(f.forwarded))
            .collect();
        let total = |s: &CostSnapshot, f: fn(&WorkerReading) -> u64| -> u64 {
            s.workers.iter().map(f).sum()
        };
        Some(Self {
            wall_s,
            cpu_s: to.cpu_s - from.cpu_s,
            track_s,
            packets: total(to, |r| r.forwarded).saturating_sub(total(from, |r| r.forwarded)),
            worker_packets,
            relay_dropped: total(to, |r| r.relay_dropped)
                .saturating_sub(total(from, |r| r.relay_dropped)),
        })
    }

    pub fn cpu_ms_per_track_s(&self) -> f64 {
        self.cpu_s * 1e3 / self.track_s
    }

    /// One line for the operator.
    pub fn describe(&self) -> String {
        let packets = self.packets.max(1) as f64;
        let shares: Vec<String> = self
            .worker_packets
            .iter()
            .map(|&p| format!("{:.0}%", p as f64 * 100.0 / packets))
            .collect();
        let mut line = format!(
            "forwarding to {:.0} tracks on average on {} worker(s): {:.3} ms CPU per forwarded \
             track-second \
             ({:.2} CPU-s over {:.1} s, {:.0} track-s, {:.0} packets/s, {} of them by worker)",
            self.track_s / self.wall_s,
            self.worker_packets.len(),
            self.cpu_ms_per_track_s(),
            self.cpu_s,
            self.wall_s,
            self.track_s,
            self.packets as f64 / self.wall_s,
            shares.join(", "),
        );
        if self.relay_dropped > 0 {
            line.push_str(&format!(
                "; {} relay batches lost to full workers",
                self.relay_dropped
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(track_s: f64, forwarded: u64) -> WorkerReading {
        WorkerReading {
            track_s,
            forwarded,
            relay_dropped: 0,
        }
    }

    #[test]
    fn cost_is_cpu_over_track_seconds_of_the_window() {
        let from = CostSnapshot {
            cpu_s: 1.0,
            wall_s: 10.0,
            workers: vec![reading(100.0, 1000), reading(100.0, 1000)],
        };
        let to = CostSnapshot {
            cpu_s: 3.0,
            wall_s: 20.0,
            workers: vec![reading(600.0, 5500), reading(600.0, 5500)],
        };
        let cost = ForwardingCost::between(&from, &to).unwrap();
        assert_eq!(cost.track_s, 1000.0);
        assert!((cost.cpu_ms_per_track_s() - 2.0).abs() < 1e-9);
        assert_eq!(cost.packets, 9000);
        assert_eq!(cost.worker_packets, vec![4500, 4500]);
        assert!(cost.describe().contains("50%, 50% of them by worker"));
        assert!(cost
            .describe()
            .contains("2.000 ms CPU per forwarded track-second"));
    }

    #[test]
    fn nothing_forwarded_is_no_cost_per_track() {
        let idle = CostSnapshot {
            cpu_s: 1.0,
            wall_s: 1.0,
            workers: vec![reading(0.0, 0)],
        };
        let later = CostSnapshot {
            cpu_s: 1.2,
            wall_s: 11.0,
            ..idle.clone()
        };
        assert_eq!(ForwardingCost::between(&idle, &later), None);
    }
}
