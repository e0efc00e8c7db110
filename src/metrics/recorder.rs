//! Per-metric histograms for a whole run and for each fixed interval of it.

use super::histogram::{new_histogram, SerHistogram};
use super::{Metric, Sample};
use crate::base::Micros;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    pub total: SerHistogram,
    /// Interval `i` covers [i × interval, (i + 1) × interval) from the run's start.
    pub intervals: Vec<SerHistogram>,
}

impl MetricSeries {
    pub fn record_scaled(&mut self, interval: usize, value: u64) {
        if self.intervals.len() <= interval {
            self.intervals
                .resize_with(interval + 1, SerHistogram::default);
        }
        for h in [&mut self.total.0, &mut self.intervals[interval].0] {
            // Auto-resizing histograms only refuse values beyond u64 precision limits.
            if h.record(value).is_err() {
                h.saturating_record(value);
            }
        }
    }

    /// Adds another series exactly (histogram addition, never averaging).
    pub fn merge(&mut self, other: &MetricSeries) {
        add(&mut self.total.0, &other.total.0);
        if self.intervals.len() < other.intervals.len() {
            self.intervals
                .resize_with(other.intervals.len(), SerHistogram::default);
        }
        for (mine, theirs) in self.intervals.iter_mut().zip(&other.intervals) {
            add(&mut mine.0, &theirs.0);
        }
    }
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_err() {
        // Only fails when `into` cannot grow to `from`'s range; rebuild an auto-resizing one.
        let mut grown = new_histogram();
        let _ = grown.add(&*into);
        let _ = grown.add(from);
        *into = grown;
    }
}

#[derive(Debug, Clone)]
pub struct Recorder {
    start: Micros,
    interval_us: u64,
    pub series: BTreeMap<Metric, MetricSeries>,
}

impl Recorder {
    pub fn new(start: Micros, interval_us: u64) -> Self {
        Self {
            start,
            interval_us: interval_us.max(1),
            series: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, sample: Sample) {
        if !sample.value.is_finite() {
            return;
        }
        let interval = (sample.at.saturating_sub(self.start) / self.interval_us) as usize;
        let scaled = (sample.value.max(0.0) * sample.metric.scale()).round() as u64;
        self.series
            .entry(sample.metric)
            .or_default()
            .record_scaled(interval, scaled);
    }

    pub fn record_all(&mut self, samples: impl IntoIterator<Item = Sample>) {
        for s in samples {
            self.record(s);
        }
    }
}
