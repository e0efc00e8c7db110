//! Live telemetry of a running run, for the people watching a long rehearsal: OpenMetrics for
//! a Prometheus to scrape (`--metrics`), the same samples pushed by Prometheus remote write
//! for pods nobody scrapes (`--metrics-push`), and a small self-contained live page
//! (`--dashboard`). Everything is read from the engine's live view at the moment it is asked
//! for; nothing here touches the media path.

pub mod gather;
pub mod model;
pub mod page;
pub mod remote_write;
pub mod server;

use crate::engine::live::Live;
use crate::plan::Plan;
use model::{Family, Labels};
use std::sync::Arc;

/// The labels every series carries: which run, scenario, provider, shard and region it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunLabels {
    pub run: String,
    pub scenario: String,
    pub provider: String,
    /// `INDEX/COUNT` of a sharded run.
    pub shard: Option<String>,
    pub region: Option<String>,
}

impl RunLabels {
    fn labels(&self) -> Labels {
        let mut l = vec![
            ("run".to_string(), self.run.clone()),
            ("scenario".to_string(), self.scenario.clone()),
            ("provider".to_string(), self.provider.clone()),
        ];
        if let Some(s) = &self.shard {
            l.push(("shard".into(), s.clone()));
        }
        if let Some(r) = &self.region {
            l.push(("region".into(), r.clone()));
        }
        l
    }
}

/// What the exports read: the engine's live view, the plan, and who this run is.
pub struct Telemetry {
    live: Arc<Live>,
    plan: Plan,
    labels: RunLabels,
    cpu_count: usize,
}

impl Telemetry {
    pub fn new(live: Arc<Live>, plan: Plan, labels: RunLabels) -> Arc<Self> {
        let cpu_count = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Self {
            live,
            plan,
            labels,
            cpu_count,
        })
    }

    /// Everything exported, read now.
    pub fn families(&self) -> Vec<Family> {
        let run = self.labels.labels();
        let (live, plan) = (&*self.live, &self.plan);
        let mut out = gather::progress(live, plan, &run);
        out.extend(gather::sessions(live, plan, &run));
        out.extend(gather::measured(live, &run));
        out.extend(gather::http(live, &run));
        out.extend(gather::generator(live, plan, self.cpu_count, &run));
        out.extend(gather::gates(live, plan, &run));
        out
    }

    pub fn openmetrics(&self) -> String {
        model::openmetrics(self.families())
    }
}

/// Which live exports a run has (all off by default).
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// `HOST:PORT` for `/metrics`.
    pub metrics: Option<String>,
    /// `HOST:PORT` for the live page.
    pub dashboard: Option<String>,
    /// A Prometheus remote-write URL.
    pub push: Option<String>,
    pub push_every: std::time::Duration,
    /// After the run, how long `/metrics` waits to be read once more.
    pub linger: std::time::Duration,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        Self {
            metrics: None,
            dashboard: None,
            push: None,
            push_every: std::time::Duration::from_secs(5),
            linger: std::time::Duration::from_secs(10),
        }
    }
}

impl TelemetryOptions {
    pub fn any(&self) -> bool {
        self.metrics.is_some() || self.dashboard.is_some() || self.push.is_some()
    }
}
