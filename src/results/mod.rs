//! run.json: the versioned record of a run, from which every report is rendered and which
//! merges exactly with other runs (histogram addition, never averaging).

pub use crate::record::{
    GroupResult, GroupTotals, IntervalResult, MetricResult, RunResults, SCHEMA,
};
pub mod capacity;
pub mod environment;
pub mod gates;
pub mod http;
pub mod merge;
pub mod self_cost;
pub mod timeline;

pub use environment::Environment;
pub use self_cost::SelfCost;

use crate::base::files::read_to_string_limited;
use crate::engine::GroupOutcome;
use crate::media::receiver::{ReceiverSummary, Role};
pub use crate::metrics::Summary;
use crate::metrics::{Metric, MetricSeries};
use crate::net::LinkStats;
use std::path::Path;

/// The largest run.json read back: a 30-minute run of hundreds of sessions is a few tens of MB.
pub const MAX_RUN_JSON: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a run.json this version reads: {reason}")]
    Format { path: String, reason: String },
    #[error("cannot merge: {0}")]
    Merge(String),
}

impl MetricResult {
    pub fn from_series(metric: Metric, series: &MetricSeries, interval_ms: u64) -> Self {
        let scale = metric.scale();
        Self {
            unit: metric.unit().to_string(),
            scale,
            summary: Summary::of(&series.total.0, scale),
            histogram: series.total.clone(),
            intervals: series
                .packed_intervals()
                .into_iter()
                .enumerate()
                .map(|(i, packed)| IntervalResult {
                    start_s: i as f64 * interval_ms as f64 / 1000.0,
                    summary: Summary::of(&packed.unpack(), scale),
                    histogram: packed,
                })
                .collect(),
        }
    }

    /// The summary of the intervals starting in [`from_s`, `to_s`) (run seconds).
    pub fn window_summary(&self, from_s: f64, to_s: f64) -> Summary {
        let mut merged = crate::metrics::histogram::new_histogram();
        for i in self
            .intervals
            .iter()
            .filter(|i| i.start_s >= from_s - 1e-9 && i.start_s < to_s - 1e-9)
        {
            // Both grow as needed, so adding cannot run out of range.
            let _ = merged.add(i.histogram.unpack());
        }
        Summary::of(&merged, self.scale)
    }

    pub fn to_series(&self) -> MetricSeries {
        MetricSeries::from_parts(
            self.histogram.clone(),
            self.intervals.iter().map(|i| i.histogram.clone()).collect(),
        )
    }
}

impl GroupTotals {
    pub fn of(sessions: &[ReceiverSummary], link: &LinkStats) -> Self {
        let mut t = GroupTotals {
            link_loss_pct: link.loss_pct(),
            link_delay_ms: link.mean_delay_ms(),
            ..Default::default()
        };
        let (mut freeze_us, mut span_us, mut low_fps_us) = (0.0, 0.0, 0.0);
        let (mut marker_weight, mut marker_sum) = (0.0, 0.0);
        let mut late = 0u64;
        for s in sessions {
            late += s.packets_reordered;
            t.receivers += 1;
            t.probes += (s.role == Role::Probe) as u64;
            t.packets_expected += s.packets_expected;
            t.packets_lost += s.packets_lost;
            t.frames_rendered += s.frames_rendered;
            for (sum, one) in [
                (&mut t.freeze_w3c, s.freeze_w3c),
                (&mut t.freeze_200ms, s.freeze_200ms),
                (&mut t.freeze_500ms, s.freeze_500ms),
            ] {
                sum.count += one.count;
                sum.total_us += one.total_us;
            }
            t.audio_gaps += s.audio_gaps;
            t.keyframe_requests += s.keyframe_requests;
            t.reconnects.add(&s.reconnects);
            t.unrecovered += s.unrecovered;
            t.frames_lost += s.frames_lost;
            t.silent_track_sessions += u64::from(!s.silent_tracks.is_empty());
            freeze_us += s.freeze_w3c.total_us as f64;
            low_fps_us += s.low_fps_time_pct / 100.0 * s.rendered_ms * 1000.0;
            span_us += s.rendered_ms * 1000.0;
            if let Some(p) = s.marker_read_pct {
                marker_weight += s.frames_rendered as f64;
                marker_sum += p * s.frames_rendered as f64;
            }
        }
        let joined = sessions.iter().filter(|s| s.joined).count() as f64;
        let quick = sessions.iter().filter(|s| s.joined_within_5s).count() as f64;
        t.failed_sessions = sessions.iter().filter(|s| !s.joined).count() as u64;
        if !sessions.is_empty() {
            t.join_success_pct = joined * 100.0 / sessions.len() as f64;
            t.join_within_5s_pct = quick * 100.0 / sessions.len() as f64;
        }
        if t.packets_expected > 0 {
            t.packet_loss_pct = t.packets_lost as f64 * 100.0 / t.packets_expected as f64;
            t.packet_loss_before_repair_pct =
                (t.packets_lost + late) as f64 * 100.0 / t.packets_expected as f64;
        }
        if span_us > 0.0 {
            t.freeze_time_pct = freeze_us * 100.0 / span_us;
            t.low_fps_time_pct = low_fps_us * 100.0 / span_us;
        }
        let r = t.reconnects;
        if r.drops > 0 {
            t.reconnect_success_pct = Some(r.rejoins.min(r.drops) as f64 * 100.0 / r.drops as f64);
        }
        if marker_weight > 0.0 {
            t.marker_read_pct = Some(marker_sum / marker_weight);
        }
        t
    }
}

impl GroupResult {
    pub fn from_outcome(o: GroupOutcome, interval_ms: u64) -> Self {
        let metrics = o
            .series
            .iter()
            .map(|(m, s)| (*m, MetricResult::from_series(*m, s, interval_ms)))
            .collect();
        Self {
            totals: GroupTotals::of(&o.sessions, &o.link),
            name: o.name,
            network_name: o.network_name,
            network: o.network,
            sender: o.sender,
            link: o.link,
            publisher_link: o.publisher_link,
            publisher_reconnects: o.publisher_reconnects,
            network_phases: o.network_phases,
            publisher_network_phases: o.publisher_network_phases,
            metrics,
            sessions: o.sessions,
            publisher_failures: o.publisher_failures,
            notes: o.notes,
        }
    }

    pub fn metric(&self, m: Metric) -> Option<&MetricResult> {
        self.metrics.get(&m)
    }

    /// Adds another shard's or repeat's measurements of the same group.
    pub fn merge(&mut self, other: &GroupResult, interval_ms: u64) {
        for (m, theirs) in &other.metrics {
            let mut series = self
                .metrics
                .get(m)
                .map(MetricResult::to_series)
                .unwrap_or_default();
            series.merge(&theirs.to_series());
            self.metrics
                .insert(*m, MetricResult::from_series(*m, &series, interval_ms));
        }
        for (a, b) in [
            (
                &mut self.sender.frames_captured,
                other.sender.frames_captured,
            ),
            (&mut self.sender.frames_sent, other.sender.frames_sent),
            (&mut self.sender.keyframes, other.sender.keyframes),
            (
                &mut self.sender.keyframe_requests_honoured,
                other.sender.keyframe_requests_honoured,
            ),
            (&mut self.sender.video_packets, other.sender.video_packets),
            (&mut self.sender.video_bytes, other.sender.video_bytes),
            (&mut self.sender.audio_packets, other.sender.audio_packets),
        ] {
            *a += b;
        }
        self.link.add(&other.link);
        self.publisher_link.add(&other.publisher_link);
        self.publisher_reconnects.add(&other.publisher_reconnects);
        for (mine, theirs) in [
            (&mut self.network_phases, &other.network_phases),
            (
                &mut self.publisher_network_phases,
                &other.publisher_network_phases,
            ),
        ] {
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.link.add(&b.link);
            }
        }
        self.sessions.extend(other.sessions.iter().cloned());
        self.publisher_failures
            .extend(other.publisher_failures.iter().cloned());
        for (message, sessions) in &other.notes {
            *self.notes.entry(message.clone()).or_default() += sessions;
        }
        self.totals = GroupTotals::of(&self.sessions, &self.link);
    }
}

impl RunResults {
    /// Gates that broke.
    pub fn broken_gates(&self) -> usize {
        self.gates.iter().filter(|g| !g.passed).count()
    }

    /// Failed joins that count against the run: a capacity search's group fails joins by design
    /// once past its knee, and its verdict is the knee, not the failures.
    pub fn unexpected_failed_sessions(&self) -> usize {
        let searched = self.capacity.as_ref().map(|c| c.group.as_str());
        self.groups
            .iter()
            .filter(|g| Some(g.name.as_str()) != searched)
            .map(|g| g.totals.failed_sessions as usize + g.publisher_failures.len())
            .sum()
    }

    /// Sessions and publishers that failed to join, over all groups.
    pub fn failed_sessions(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.totals.failed_sessions as usize + g.publisher_failures.len())
            .sum()
    }

    pub fn group(&self, name: &str) -> Option<&GroupResult> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Combines another run of the same scenario into this one, group by group.
    pub fn merge(&mut self, other: &RunResults) -> Result<(), ResultsError> {
        if other.schema != self.schema {
            return Err(ResultsError::Merge(format!(
                "schema {} vs {}",
                self.schema, other.schema
            )));
        }
        if other.interval_ms != self.interval_ms {
            return Err(ResultsError::Merge(format!(
                "interval {} ms vs {} ms",
                self.interval_ms, other.interval_ms
            )));
        }
        for theirs in &other.groups {
            match self.groups.iter_mut().find(|g| g.name == theirs.name) {
                Some(mine) => mine.merge(theirs, self.interval_ms),
                None => self.groups.push(theirs.clone()),
            }
        }
        self.duration_s = self.duration_s.max(other.duration_s);
        self.completed &= other.completed;
        self.self_cost = match (self.self_cost.take(), other.self_cost.clone()) {
            (Some(a), Some(b)) => Some(SelfCost {
                cpu_s: a.cpu_s + b.cpu_s,
                wall_s: a.wall_s.max(b.wall_s),
                subscriber_track_s: a.subscriber_track_s + b.subscriber_track_s,
                publishers: a.publishers + b.publishers,
                sfu_in_process: a.sfu_in_process || b.sfu_in_process,
                runtime_lag_p99_ms: a.runtime_lag_p99_ms.max(b.runtime_lag_p99_ms),
                runtime_lag_max_ms: a.runtime_lag_max_ms.max(b.runtime_lag_max_ms),
                schedule_slip_p95_ms: max_of(a.schedule_slip_p95_ms, b.schedule_slip_p95_ms),
                schedule_slip_max_ms: max_of(a.schedule_slip_max_ms, b.schedule_slip_max_ms),
                cpu_count: a.cpu_count.max(b.cpu_count),
                // Worst of the shards: any machine whose clients fell behind is unreliable.
                client_dropped_pct: max_of(a.client_dropped_pct, b.client_dropped_pct),
                saturation: a.saturation.into_iter().chain(b.saturation).collect(),
                // Per-interval load belongs to one process; merged runs keep the first's.
                intervals: a.intervals,
            }),
            (a, b) => a.or(b),
        };
        self.failures.extend(other.failures.iter().cloned());
        // Side-loads are kept per run: their goose summaries do not add exactly.
        self.http.extend(other.http.iter().cloned());
        Ok(())
    }

    /// Writes run.json whole or not at all (a full disk leaves the previous file), streamed
    /// rather than built in memory first.
    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        crate::base::files::write_atomic_with(path, |out| {
            serde_json::to_writer_pretty(out, self).map_err(std::io::Error::other)
        })
        .map_err(|source| ResultsError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let text =
            read_to_string_limited(path, MAX_RUN_JSON).map_err(|source| ResultsError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// A run.json's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ResultsError> {
        let format = |reason: String| ResultsError::Format {
            path: path.to_string(),
            reason,
        };
        let probe: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format(e.to_string()))?;
        if probe.get("schema").and_then(|s| s.as_str()) != Some(SCHEMA) {
            return Err(format(format!(
                "schema is {:?}, expected {SCHEMA}",
                probe.get("schema")
            )));
        }
        serde_json::from_value(probe).map_err(|e| format(e.to_string()))
    }
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}
