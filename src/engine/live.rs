//! What a run is doing right now, for the progress line and the live telemetry: counters the
//! session tasks update (per group and role), the groups' recorders, and the generator's last
//! interval, read while the run goes on.
//!
//! Joins count when a session is first up, so they show as they happen; a session's outcome is
//! settled once, when it ends, so that the counts add up to run.json's exactly: its joined
//! sessions are `joins − withdrawn` and its failed sessions are `failures`.

use super::http_load::{RequestTally, Tallies};
use super::monitor::GeneratorInterval;
use crate::metrics::recorder::Recorder;
use crate::metrics::Metric;
use crate::record::{ReceiverSummary, Reconnects, Role};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A group's sessions of one role.
pub type Key = (String, Role);

/// What a group's sessions of one role did so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub sessions_up: u64,
    /// Sessions that came up (signalled), each once however often it rejoined.
    pub joins: u64,
    /// Of those, sessions that still ended without joining (no frame shown, a silent track).
    pub withdrawn: u64,
    /// Sessions that ended without joining, by the step that failed.
    pub failures: BTreeMap<String, u64>,
    pub reconnects: Reconnects,
}

impl Counts {
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

#[derive(Default)]
struct Sessions {
    counts: BTreeMap<Key, Counts>,
    /// Sessions up now, by id: settling one takes it down.
    up: HashSet<String>,
}

#[derive(Default)]
pub struct Live {
    sessions: Mutex<Sessions>,
    recorders: Mutex<Vec<(String, Arc<Mutex<Recorder>>)>>,
    generator: Mutex<Option<GeneratorInterval>>,
    started: std::sync::OnceLock<Instant>,
    http: Mutex<Vec<(String, Tallies)>>,
    /// Publishers that failed, by group and failed step.
    publish_failures: Mutex<BTreeMap<(String, String), u64>>,
}

/// A reading of [`Live`] for the progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    pub sessions_up: u64,
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

    fn with_counts(
        &self,
        group: &str,
        role: Role,
        f: impl FnOnce(&mut Counts, &mut HashSet<String>),
    ) {
        if let Ok(mut s) = self.sessions.lock() {
            let Sessions { counts, up } = &mut *s;
            f(counts.entry((group.to_string(), role)).or_default(), up);
        }
    }

    /// Session `id` of `group` is up for the first time.
    pub fn session_up(&self, group: &str, role: Role, id: &str) {
        self.with_counts(group, role, |c, up| {
            if up.insert(id.to_string()) {
                c.joins += 1;
                c.sessions_up += 1;
            }
        });
    }

    /// Drops, rejoins or failed rejoins of a session of `group`, added as they happen.
    pub fn reconnect(&self, group: &str, role: Role, change: Reconnects) {
        self.with_counts(group, role, |c, _| {
            c.reconnects.drops += change.drops;
            c.reconnects.rejoins += change.rejoins;
            c.reconnects.rejoin_failures += change.rejoin_failures;
        });
    }

    /// Session `s` ended as its summary says: it is down, and joined or failed.
    pub fn settled(&self, s: &ReceiverSummary) {
        self.with_counts(&s.group, s.role, |c, up| {
            let was_up = up.remove(&s.id);
            if was_up {
                c.sessions_up = c.sessions_up.saturating_sub(1);
            }
            if !s.joined {
                c.withdrawn += u64::from(was_up);
                let step = s.failure.as_ref().map_or("media", |f| f.step.as_str());
                *c.failures.entry(step.to_string()).or_default() += 1;
            }
        });
    }

    /// A publisher of `group` failed at `step` (its viewers will wait for nothing).
    pub fn publish_failed(&self, group: &str, step: &str) {
        if let Ok(mut f) = self.publish_failures.lock() {
            *f.entry((group.to_string(), step.to_string())).or_default() += 1;
        }
    }

    /// Publishers that failed so far, by group and step.
    pub fn publish_failures(&self) -> BTreeMap<(String, String), u64> {
        self.publish_failures
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Every group and role's counts so far.
    pub fn counts(&self) -> BTreeMap<Key, Counts> {
        self.sessions
            .lock()
            .map(|s| s.counts.clone())
            .unwrap_or_default()
    }

    /// Sessions of `group` that failed so far.
    pub fn failures_in(&self, group: &str) -> u64 {
        self.sessions.lock().map_or(0, |s| {
            s.counts
                .iter()
                .filter(|((g, _), _)| g == group)
                .map(|(_, c)| c.failed())
                .sum()
        })
    }

    pub fn watch_http(&self, load: &str, tallies: Tallies) {
        if let Ok(mut h) = self.http.lock() {
            h.push((load.to_string(), tallies));
        }
    }

    /// Each HTTP side-load's requests so far, by load and request name.
    pub fn http(&self) -> Vec<(String, RequestTally)> {
        let Ok(loads) = self.http.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (load, tallies) in loads.iter() {
            if let Ok(t) = tallies.lock() {
                out.extend(t.values().map(|r| (load.clone(), r.clone())));
            }
        }
        out
    }

    /// The run's clock starts (or started) at `at`.
    pub fn begin(&self, at: Instant) {
        let _ = self.started.set(at);
    }

    /// How far into the run it is; `None` before it starts.
    pub fn elapsed(&self) -> Option<Duration> {
        let started = *self.started.get()?;
        Instant::now().checked_duration_since(started)
    }

    pub fn note_generator(&self, interval: GeneratorInterval) {
        if let Ok(mut g) = self.generator.lock() {
            *g = Some(interval);
        }
    }

    /// The generator's last complete interval, once one closed.
    pub fn generator(&self) -> Option<GeneratorInterval> {
        self.generator.lock().ok().and_then(|g| *g)
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
        let counts = self.counts();
        Snapshot {
            sessions_up: counts.values().map(|c| c.sessions_up).sum(),
            joins: counts.values().map(|c| c.joins).sum(),
            failures: counts.values().map(Counts::failed).sum(),
            e2e_p95_ms,
        }
    }

    /// Each group's histogram of each metric it has, over the run so far.
    pub fn totals(&self) -> Vec<(String, Metric, hdrhistogram::Histogram<u64>)> {
        let mut out: BTreeMap<(String, Metric), hdrhistogram::Histogram<u64>> = BTreeMap::new();
        let Ok(recorders) = self.recorders.lock() else {
            return Vec::new();
        };
        for (group, r) in recorders.iter() {
            let Ok(r) = r.lock() else { continue };
            for (&metric, series) in &r.series {
                let merged = out
                    .entry((group.clone(), metric))
                    .or_insert_with(crate::metrics::histogram::new_histogram);
                let _ = merged.add(&series.total.0);
            }
        }
        out.into_iter().map(|((g, m), h)| (g, m, h)).collect()
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
    use crate::media::receiver::{AudioReceiver, Receiver, VideoReceiver};
    use crate::metrics::Sample;
    use crate::record::SessionFailure;

    fn ended(id: &str, joined: bool, step: Option<&str>) -> ReceiverSummary {
        let receiver = Receiver::new(
            id.into(),
            Role::Light,
            0,
            VideoReceiver::new(0, None),
            AudioReceiver::new(None),
        );
        let mut s = receiver.summary("g", 1_000_000);
        s.joined = joined;
        s.failure = step.map(|step| SessionFailure {
            step: step.into(),
            reason: String::new(),
        });
        s
    }

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
        live.session_up("g", Role::Light, "a");
        live.session_up("g", Role::Light, "a");
        live.session_up("g", Role::Light, "b");
        live.settled(&ended("a", true, None));
        live.settled(&ended("c", false, Some("status")));
        let s = live.snapshot(Some(1));
        assert_eq!((s.sessions_up, s.joins, s.failures), (1, 2, 1));
        let p95 = s.e2e_p95_ms.expect("latency in interval 1");
        assert!((94.0..=96.0).contains(&p95), "{p95}");
        assert_eq!(live.snapshot(Some(0)).e2e_p95_ms, None);
        let totals = live.totals();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].2.len(), 100);
    }

    #[test]
    fn settled_sessions_add_up_to_what_the_record_counts() {
        let live = Live::default();
        live.session_up("g", Role::Light, "joined");
        live.session_up("g", Role::Light, "no-frame");
        live.settled(&ended("joined", true, None));
        live.settled(&ended("no-frame", false, None));
        live.settled(&ended("refused", false, Some("status")));
        let c = &live.counts()[&("g".to_string(), Role::Light)];
        // run.json: 1 joined (joins − withdrawn), 2 failed.
        assert_eq!((c.joins, c.withdrawn, c.sessions_up), (2, 1, 0));
        assert_eq!(c.failures.get("media"), Some(&1));
        assert_eq!(c.failures.get("status"), Some(&1));
        assert_eq!(live.failures_in("g"), 2);
        live.publish_failed("g", "connect");
        live.publish_failed("g", "connect");
        let published = live.publish_failures();
        assert_eq!(published[&("g".to_string(), "connect".to_string())], 2);
    }
}
