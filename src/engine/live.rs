//! What a run is doing right now, for a progress display: counters the session tasks update
//! and the groups' recorders, read while the run goes on.

use crate::metrics::recorder::Recorder;
use crate::metrics::Metric;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Live {
    sessions_up: AtomicI64,
    joins: AtomicU64,
    recorders: Mutex<Vec<(String, Arc<Mutex<Recorder>>)>>,
    failures_by_group: Mutex<std::collections::BTreeMap<String, u64>>,
}

/// A reading of [`Live`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    pub sessions_up: i64,
    pub joins: u64,
    pub failures: u64,
    /// End-to-end latency p95 over the last complete interval, all groups together.
    pub e2e_p95_ms: Option<f64>,
}

impl Live {
    pub fn watch_recorder(&self, group: &str, recorder: Arc<Mutex<Recorder>>) {
        if let Ok(mut r) = self.recorders.lock() {
            r.push((group.to_string(), recorder));
        }
    }

    pub fn session_up(&self) {
        self.joins.fetch_add(1, Ordering::Relaxed);
        self.sessions_up.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_down(&self) {
        self.sessions_up.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn failure(&self, group: &str) {
        if let Ok(mut f) = self.failures_by_group.lock() {
            *f.entry(group.to_string()).or_default() += 1;
        }
    }

    /// Sessions of `group` that failed so far.
    pub fn failures_in(&self, group: &str) -> u64 {
        self.failures_by_group
            .lock()
            .map_or(0, |f| f.get(group).copied().unwrap_or(0))
    }

    /// `metric` over the whole run so far in `group`, as one histogram.
    pub fn group_total(&self, group: &str, metric: Metric) -> Option<hdrhistogram::Histogram<u64>> {
        let mut merged = crate::metrics::histogram::new_histogram();
        let recorders = self.recorders.lock().ok()?;
        for (_, r) in recorders.iter().filter(|(g, _)| g == group) {
            let r = r.lock().ok()?;
            if let Some(s) = r.series.get(&metric) {
                merged.add(&s.total.0).ok()?;
            }
        }
        Some(merged)
    }

    /// Groups whose recorders are watched.
    pub fn groups(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .recorders
            .lock()
            .map(|r| r.iter().map(|(g, _)| g.clone()).collect())
            .unwrap_or_default();
        names.dedup();
        names
    }

    /// The counters, and latency over interval `interval` (the last complete one).
    pub fn snapshot(&self, interval: Option<usize>) -> Snapshot {
        let e2e_p95_ms = interval.and_then(|i| self.interval_p95(Metric::E2eLatencyMs, i));
        Snapshot {
            sessions_up: self.sessions_up.load(Ordering::Relaxed),
            joins: self.joins.load(Ordering::Relaxed),
            failures: self
                .failures_by_group
                .lock()
                .map_or(0, |f| f.values().sum()),
            e2e_p95_ms,
        }
    }

    fn interval_p95(&self, metric: Metric, interval: usize) -> Option<f64> {
        let mut merged = hdrhistogram::Histogram::<u64>::new(3).ok()?;
        merged.auto(true);
        let recorders = self.recorders.lock().ok()?;
        for (_, r) in recorders.iter() {
            let r = r.lock().ok()?;
            if let Some(s) = r.series.get(&metric) {
                merged.add(s.interval(interval)).ok()?;
            }
        }
        (!merged.is_empty()).then(|| merged.value_at_quantile(0.95) as f64 / metric.scale())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Sample;

    #[test]
    fn counters_and_the_last_interval_p95_are_read_live() {
        let live = Live::default();
        let recorder = Arc::new(Mutex::new(Recorder::new(0, 1_000_000)));
        live.watch_recorder("g", recorder.clone());
        for ms in 1..=100 {
            recorder.lock().unwrap().record(Sample {
                metric: Metric::E2eLatencyMs,
                at: 1_500_000,
                value: ms as f64,
            });
        }
        live.session_up();
        live.session_up();
        live.session_down();
        live.failure("g");
        let s = live.snapshot(Some(1));
        assert_eq!((s.sessions_up, s.joins, s.failures), (1, 2, 1));
        let p95 = s.e2e_p95_ms.expect("latency in interval 1");
        assert!((94.0..=96.0).contains(&p95), "{p95}");
        assert_eq!(live.snapshot(Some(0)).e2e_p95_ms, None);
    }
}
