//! A run's live exports, started with the engine and ended after it: `/metrics` and the live
//! page on their own thread, remote write as a task, and a last scrape or push of the final
//! figures before the endpoint goes away.

use crate::engine::live::Live;
use crate::plan::Plan;
use crate::telemetry::server::{self, Endpoint, ServeError};
use crate::telemetry::{remote_write, RunLabels, Telemetry, TelemetryOptions};
use std::sync::Arc;
use tokio::sync::watch;

/// What to export and as whom.
pub struct Exports {
    pub options: TelemetryOptions,
    pub labels: RunLabels,
}

/// The exports of one running run.
pub struct Watching {
    metrics: Option<Endpoint>,
    dashboard: Option<Endpoint>,
    push: Option<tokio::task::JoinHandle<u64>>,
    done: watch::Sender<bool>,
    linger: std::time::Duration,
}

impl Watching {
    pub fn start(exports: Exports, live: Arc<Live>, plan: &Plan) -> Result<Self, ServeError> {
        let (done, done_rx) = watch::channel(false);
        let options = exports.options;
        let telemetry = Telemetry::new(live, plan.clone(), exports.labels);
        let metrics = match &options.metrics {
            Some(addr) => {
                let e = server::start(addr, telemetry.clone(), "--metrics")?;
                eprintln!("metrics: http://{}/metrics", e.addr);
                Some(e)
            }
            None => None,
        };
        let dashboard = match (&options.dashboard, &metrics) {
            (Some(addr), Some(m)) if same_address(addr, m) => {
                eprintln!("live page: http://{}/", m.addr);
                None
            }
            (Some(addr), _) => {
                let e = server::start(addr, telemetry.clone(), "--dashboard")?;
                eprintln!("live page: http://{}/", e.addr);
                Some(e)
            }
            (None, _) => None,
        };
        let push = options.push.clone().map(|url| {
            tokio::spawn(remote_write::push_until_done(
                url,
                telemetry.clone(),
                options.push_every,
                done_rx,
            ))
        });
        Ok(Self {
            metrics,
            dashboard,
            push,
            done,
            linger: options.linger,
        })
    }

    /// The run is over: the last push goes out and `/metrics` waits for one more scrape,
    /// unless the run was `stopped` (Ctrl-C, SIGTERM), when nothing lingers.
    pub async fn finish(self, stopped: bool) {
        let seen = self.metrics.as_ref().map(|m| {
            m.refresh();
            m.scrapes()
        });
        let _ = self.done.send(true);
        if let Some(push) = self.push {
            if let Ok(failed) = push.await {
                if failed > 0 {
                    eprintln!("remote write: {failed} pushes failed");
                }
            }
        }
        if let (Some(m), Some(seen)) = (self.metrics, seen) {
            if !self.linger.is_zero() && !stopped {
                let linger = self.linger;
                let _ = tokio::task::spawn_blocking(move || {
                    m.wait_for_scrape_after(seen, linger);
                    drop(m);
                })
                .await;
            }
        }
        drop(self.dashboard);
    }
}

/// Whether `addr` asks for the endpoint `m` already listens on.
fn same_address(addr: &str, m: &Endpoint) -> bool {
    addr.parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a == m.addr)
}
