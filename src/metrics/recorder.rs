//! Per-metric histograms for a whole run and for each fixed interval of it.

use super::histogram::{new_histogram, PackedHistogram, SerHistogram};
use super::{Metric, Sample};
use crate::base::Micros;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A metric over the whole run and per interval. Intervals are packed once two newer ones have
/// samples, so a long run's memory grows by tens of bytes a second, not by a histogram's
/// counters; a late sample for a packed interval unpacks it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "SeriesParts", from = "SeriesParts")]
pub struct MetricSeries {
    pub total: SerHistogram,
    /// Interval `i` covers [i × interval, (i + 1) × interval) from the run's start.
    packed: Vec<PackedHistogram>,
    /// Intervals still taking samples, by index.
    open: BTreeMap<usize, Histogram<u64>>,
}

/// Equal when they hold the same samples in the same intervals, packed or not.
impl PartialEq for MetricSeries {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total
            && self.interval_count() == other.interval_count()
            && (0..self.interval_count())
                .all(|i| SerHistogram(self.interval(i)) == SerHistogram(other.interval(i)))
    }
}

/// A series as it is stored: the total and every interval packed.
#[derive(Serialize, Deserialize)]
struct SeriesParts {
    total: SerHistogram,
    intervals: Vec<PackedHistogram>,
}

impl From<MetricSeries> for SeriesParts {
    fn from(s: MetricSeries) -> Self {
        Self {
            intervals: s.packed_intervals(),
            total: s.total,
        }
    }
}

impl From<SeriesParts> for MetricSeries {
    fn from(p: SeriesParts) -> Self {
        MetricSeries::from_parts(p.total, p.intervals)
    }
}

/// How many of the newest intervals stay unpacked: samples of the interval just closed still
/// arrive (a freeze is recorded when it ends).
const OPEN_INTERVALS: usize = 2;

impl MetricSeries {
    pub fn record_scaled(&mut self, interval: usize, value: u64) {
        record(&mut self.total.0, value);
        record(self.open_interval(interval), value);
        self.pack_older_than(interval.saturating_sub(OPEN_INTERVALS - 1));
    }

    fn open_interval(&mut self, interval: usize) -> &mut Histogram<u64> {
        let packed = &self.packed;
        self.open.entry(interval).or_insert_with(|| {
            packed
                .get(interval)
                .map(PackedHistogram::unpack)
                .unwrap_or_else(new_histogram)
        })
    }

    fn pack_older_than(&mut self, interval: usize) {
        while let Some((&oldest, _)) = self.open.first_key_value() {
            if oldest >= interval {
                break;
            }
            let Some(h) = self.open.remove(&oldest) else {
                break;
            };
            self.place(oldest, PackedHistogram::pack(&h));
        }
    }

    fn place(&mut self, interval: usize, packed: PackedHistogram) {
        if self.packed.len() <= interval {
            self.packed
                .resize_with(interval + 1, PackedHistogram::default);
        }
        self.packed[interval] = packed;
    }

    /// How many intervals the series spans.
    pub fn interval_count(&self) -> usize {
        let open = self.open.last_key_value().map_or(0, |(&i, _)| i + 1);
        self.packed.len().max(open)
    }

    /// Interval `i`'s samples (empty when it had none).
    pub fn interval(&self, i: usize) -> Histogram<u64> {
        match self.open.get(&i) {
            Some(h) => h.clone(),
            None => self
                .packed
                .get(i)
                .map(PackedHistogram::unpack)
                .unwrap_or_else(new_histogram),
        }
    }

    /// Every interval packed, in order: what run.json keeps.
    pub fn packed_intervals(&self) -> Vec<PackedHistogram> {
        (0..self.interval_count())
            .map(|i| match self.open.get(&i) {
                Some(h) => PackedHistogram::pack(h),
                None => self.packed.get(i).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// A series from its total and packed intervals (as run.json holds them).
    pub fn from_parts(total: SerHistogram, intervals: Vec<PackedHistogram>) -> Self {
        Self {
            total,
            packed: intervals,
            open: BTreeMap::new(),
        }
    }

    /// Several series added into one, each interval unpacked once per series and packed once:
    /// merging N shards costs N unpacks, not N repacks of the growing sum.
    pub fn merge_all(all: &[MetricSeries]) -> MetricSeries {
        let mut total = new_histogram();
        for s in all {
            add(&mut total, &s.total.0);
        }
        let count = all
            .iter()
            .map(MetricSeries::interval_count)
            .max()
            .unwrap_or(0);
        let packed = (0..count)
            .map(|i| {
                let mut sum = new_histogram();
                for s in all.iter().filter(|s| i < s.interval_count()) {
                    add(&mut sum, &s.interval(i));
                }
                PackedHistogram::pack(&sum)
            })
            .collect();
        MetricSeries::from_parts(SerHistogram(total), packed)
    }

    /// Adds another series exactly (histogram addition, never averaging).
    pub fn merge(&mut self, other: &MetricSeries) {
        add(&mut self.total.0, &other.total.0);
        for i in 0..other.interval_count() {
            let theirs = other.interval(i);
            if theirs.is_empty() {
                continue;
            }
            let mut mine = self.interval(i);
            add(&mut mine, &theirs);
            self.open.remove(&i);
            self.place(i, PackedHistogram::pack(&mine));
        }
    }
}

fn record(h: &mut Histogram<u64>, value: u64) {
    // Auto-resizing histograms only refuse values beyond u64 precision limits.
    if h.record(value).is_err() {
        h.saturating_record(value);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_intervals_are_packed_and_still_take_late_samples() {
        let mut s = MetricSeries::default();
        for i in 0..100usize {
            for v in 0..50u64 {
                s.record_scaled(i, 1000 + v * (i as u64 + 1));
            }
        }
        assert_eq!(s.open.len(), OPEN_INTERVALS, "only the newest stay open");
        assert_eq!(s.interval_count(), 100);
        assert_eq!(s.interval(3).len(), 50);
        assert_eq!(
            s.interval(3).max(),
            s.interval(3).highest_equivalent(1000 + 49 * 4)
        );
        // A late sample for a packed interval lands in it.
        s.record_scaled(3, 7);
        assert_eq!(s.interval(3).len(), 51);
        assert_eq!(s.total.0.len(), 5001);
        let packed: usize = s.packed.iter().map(|p| p.bytes_len()).sum();
        assert!(
            packed < 100 * 400,
            "{packed} bytes for 100 packed intervals"
        );
        // Stored and read back, and merged, it holds the same samples.
        let json = serde_json::to_string(&s).expect("json");
        let back: MetricSeries = serde_json::from_str(&json).expect("back");
        assert_eq!(back, s);
        let mut doubled = back.clone();
        doubled.merge(&s);
        assert_eq!(doubled.interval(50).len(), 100);
        assert_eq!(doubled.total.0.len(), 2 * 5001);
    }
}
