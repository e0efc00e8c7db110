//! A histogram's percentiles in the metric's own unit: what run.json, gates and reports read.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Percentiles in the metric's own unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Smallest sample.
    pub min: f64,
    /// Mean of the samples.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>, scale: f64) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |p: f64| h.value_at_quantile(p) as f64 / scale;
        Self {
            count: h.len(),
            min: h.min() as f64 / scale,
            mean: h.mean() / scale,
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            max: h.max() as f64 / scale,
        }
    }
}

impl Summary {
    /// The statistic a gate names ("p50" … "p99", "mean", "min"; anything else is the
    /// maximum); `None` when nothing was measured.
    pub fn stat(&self, name: &str) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        Some(match name {
            "p50" => self.p50,
            "p90" => self.p90,
            "p95" => self.p95,
            "p99" => self.p99,
            "mean" => self.mean,
            "min" => self.min,
            _ => self.max,
        })
    }
}
