//! The engine: runs a plan's groups concurrently against the clock and gathers what they measured.

pub mod abort;

mod cohost;
pub mod driver;
pub mod http_load;
pub mod live;
pub mod monitor;
pub mod progress;
pub mod room;
mod session;
mod sidecar;
pub mod webrtc;

pub use crate::base::WallClock;
pub use room::{GroupOutcome, Room};

use crate::net::kernel::KernelNet;
use crate::provider::Provider;
use crate::scenario::Transport;

use crate::base::Micros;
use crate::media::codec::CodecError;
use crate::plan::Plan;
use live::Live;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("group \"{group}\": {source}")]
    Media { group: String, source: CodecError },
    #[error("group \"{group}\" task failed: {reason}")]
    Task { group: String, reason: String },
}

pub struct RunOutcome {
    pub started_at_us: Micros,
    pub stopped_at_us: Micros,
    /// False when the run was stopped early (Ctrl-C); what was measured is kept.
    pub completed: bool,
    pub groups: Vec<GroupOutcome>,
    pub failures: Vec<EngineError>,
    /// How late the runtime woke timers, and the process's CPU, per interval of the run.
    pub generator: monitor::GeneratorSeries,
    pub http: Vec<http_load::HttpLoadOutcome>,
    /// The gate that stopped the run, if one did.
    pub aborted: Option<abort::Abort>,
}

/// Runs every group of `plan` in real time; `stop` ends all of them early. WebRTC groups signal
/// through `provider`, their clients on the kernel path in `kernel`'s namespaces.
pub async fn run(
    plan: &Plan,
    provider: Option<Arc<dyn Provider>>,
    kernel: Option<Arc<KernelNet>>,
    outer_stop: watch::Receiver<bool>,
    live: Arc<Live>,
) -> RunOutcome {
    let clock = WallClock::start();
    // Start on a whole interval a little ahead, so set-up cost is not measured as latency.
    let run_start = clock.now() + 200_000;
    // Everything stops on Ctrl-C (`outer_stop`) or when an aborting gate breaks.
    let (stop_tx, stop) = watch::channel(false);
    let forward = {
        let (stop_tx, mut outer) = (stop_tx.clone(), outer_stop.clone());
        tokio::spawn(async move {
            if outer.wait_for(|s| *s).await.is_ok() {
                let _ = stop_tx.send(true);
            }
        })
    };
    let gate_watch = tokio::spawn(abort::watch_gates(
        plan.gates.clone(),
        live.clone(),
        clock,
        run_start,
        run_start + plan.duration_us,
        std::time::Duration::from_micros(plan.interval_us),
        stop_tx.clone(),
        stop.clone(),
    ));
    if let Some(p) = &provider {
        p.schedule_faults(&plan.faults, clock, run_start);
    }
    let mut simulated = Vec::new();
    let mut webrtc = Vec::new();
    let mut failures = Vec::new();
    let generator_monitor = tokio::spawn(monitor::watch_generator(
        clock.instant_of(run_start),
        std::time::Duration::from_micros(plan.interval_us),
        clock.instant_of(run_start + plan.duration_us),
        stop.clone(),
    ));
    let http_loads: Vec<_> = plan
        .http
        .iter()
        .map(|load| {
            let base = match (&load.target, &provider) {
                (crate::plan::http::HttpTarget::Url(u), _) => Ok(u.clone()),
                (_, Some(p)) => p.live_room_api().ok_or_else(|| {
                    format!(
                        "provider \"{}\" serves no live-room API; give the load a target URL",
                        p.name()
                    )
                }),
                (_, None) => Err("target \"embedded\" needs transport = \"webrtc\"".to_string()),
            };
            tokio::spawn(http_load::run(
                load.clone(),
                base,
                clock,
                run_start,
                plan.interval_us,
                stop.clone(),
            ))
        })
        .collect();
    for group in &plan.groups {
        match (group.transport, &provider) {
            (Transport::Webrtc, Some(p)) => {
                let task = webrtc::run_group(
                    group.clone(),
                    p.clone(),
                    kernel.clone(),
                    run_start,
                    plan.interval_us,
                    clock,
                    stop.clone(),
                    live.clone(),
                );
                webrtc.push((group.name.clone(), tokio::spawn(task)));
            }
            (Transport::Webrtc, None) => failures.push(EngineError::Task {
                group: group.name.clone(),
                reason: "a WebRTC group needs a provider".into(),
            }),
            (Transport::Simulated, _) => {
                let mut room = match Room::new(group, run_start, plan.interval_us) {
                    Ok(r) => r,
                    Err(source) => {
                        failures.push(EngineError::Media {
                            group: group.name.clone(),
                            source,
                        });
                        continue;
                    }
                };
                let stop = stop.clone();
                simulated.push((
                    group.name.clone(),
                    tokio::spawn(async move {
                        let stopped = driver::run_realtime(&mut room, clock, stop).await;
                        (stopped, room)
                    }),
                ));
            }
        }
    }
    let mut groups = Vec::new();
    let mut stopped_at = run_start;
    let mut completed = true;
    for (name, task) in simulated {
        match task.await {
            Ok((Ok(at), room)) => {
                completed &= at >= room.end();
                stopped_at = stopped_at.max(at);
                groups.push(room.finish(at));
            }
            Ok((Err(source), room)) => {
                let at = clock.now();
                failures.push(EngineError::Media {
                    group: name,
                    source,
                });
                groups.push(room.finish(at));
                completed = false;
            }
            Err(e) => failures.push(EngineError::Task {
                group: name,
                reason: e.to_string(),
            }),
        }
    }
    for (name, task) in webrtc {
        match task.await {
            Ok(outcomes) => groups.extend(outcomes),
            Err(e) => failures.push(EngineError::Task {
                group: name,
                reason: e.to_string(),
            }),
        }
    }
    let mut http = Vec::new();
    for (load, task) in plan.http.iter().zip(http_loads) {
        match task.await {
            Ok(outcome) => http.push(outcome),
            Err(e) => failures.push(EngineError::Task {
                group: format!("http {}", load.name),
                reason: e.to_string(),
            }),
        }
    }
    let generator = generator_monitor.await.unwrap_or_default();
    // The run is over: the gate watch ends with it if nothing broke.
    let _ = stop_tx.send(true);
    let aborted = gate_watch.await.ok().flatten();
    forward.abort();
    let stopped_early = *outer_stop.borrow() || aborted.is_some();
    let end = if stopped_early {
        clock.now()
    } else {
        run_start + plan.duration_us
    };
    RunOutcome {
        started_at_us: run_start,
        stopped_at_us: stopped_at.max(end.min(clock.now())),
        completed: completed && !stopped_early,
        groups,
        failures,
        generator,
        http,
        aborted,
    }
}
