//! HTTP side-load in run.json: per request name, counts, statuses and latency (as measured and,
//! when goose mitigated coordinated omission, as corrected), and latency per interval.

use super::{MetricResult, Summary};
use crate::engine::http_load::{HttpLoadOutcome, RequestTally};
use crate::metrics::Metric;
pub use crate::record::{HttpLoadResult, HttpRequestResult};

impl HttpRequestResult {
    fn of(t: RequestTally) -> Self {
        let scale = Metric::HttpLatencyMs.scale();
        Self {
            latency_ms: Summary::of(&t.latency.0, scale),
            latency_co_ms: t.latency_co.as_ref().map(|h| Summary::of(&h.0, scale)),
            name: t.name,
            method: t.method,
            count: t.count,
            success: t.success,
            fail: t.fail,
            statuses: t.statuses,
            histogram: t.latency,
        }
    }

    pub fn error_pct(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            100.0 * self.fail as f64 / self.count as f64
        }
    }
}

impl HttpLoadResult {
    pub fn from_outcome(o: HttpLoadOutcome, interval_ms: u64) -> Self {
        Self {
            latency: MetricResult::from_series(Metric::HttpLatencyMs, &o.latency, interval_ms),
            requests: o.requests.into_iter().map(HttpRequestResult::of).collect(),
            name: o.name,
            target: o.target,
            users: o.users,
            co_mitigation: o.co_mitigation,
            errors: o.errors,
            synthetic_requests: o.synthetic_requests,
            failure: o.failure,
        }
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }
}
