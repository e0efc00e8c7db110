//! The engine: runs a plan's groups concurrently against the clock and gathers what they measured.

pub mod abort;
mod cdn;

mod cohost;
pub mod driver;
pub mod http_load;
pub mod live;
pub mod monitor;
pub mod progress;
pub mod published;
mod rejoin;
pub mod room;
mod rtmp;
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

/// What a run is driven with, shared by the helpers of `run`.
struct Setting<'a> {
    plan: &'a Plan,
    clock: WallClock,
    run_start: Micros,
    stop: watch::Receiver<bool>,
}

/// The clock a run reads and when it starts on it.
#[derive(Clone)]
pub struct Timing {
    pub clock: WallClock,
    /// An agreed start (the shards of one run); `None`: a little after now.
    pub start_at: Option<Micros>,
    /// Publications shared with the other shards of the run, when it is sharded.
    pub relay: published::Relay,
}

impl Timing {
    /// This machine's clock, starting as soon as set-up allows.
    pub fn now() -> Self {
        Self {
            clock: WallClock::start(),
            start_at: None,
            relay: None,
        }
    }
}

/// Runs every group of `plan` in real time; `stop` ends all of them early. WebRTC groups signal
/// through `provider`, their clients on the kernel path in `kernel`'s namespaces.
pub async fn run(
    plan: &Plan,
    provider: Option<Arc<dyn Provider>>,
    kernel: Option<Arc<KernelNet>>,
    outer_stop: watch::Receiver<bool>,
    live: Arc<Live>,
    timing: Timing,
) -> RunOutcome {
    let clock = timing.clock;
    let relay = timing.relay.clone();
    // A little ahead, so set-up cost is not measured as latency.
    let run_start = timing.start_at.unwrap_or_else(|| clock.now() + 200_000);
    live.begin(clock.instant_of(run_start));
    // Everything stops on Ctrl-C (`outer_stop`) or when an aborting gate breaks.
    let (stop_tx, stop) = watch::channel(false);
    let forward = forward_stop(outer_stop.clone(), stop_tx.clone());
    let at = Setting {
        plan,
        clock,
        run_start,
        stop,
    };
    let interval = std::time::Duration::from_micros(plan.interval_us);
    let run_end = run_start + plan.duration_us;
    let gate_watch = tokio::spawn(abort::watch_gates(
        plan.gates.clone(),
        live.clone(),
        clock,
        run_start,
        run_end,
        interval,
        stop_tx.clone(),
        at.stop.clone(),
    ));
    if let Some(p) = &provider {
        p.schedule_faults(&plan.faults, clock, run_start);
    }
    let generator_monitor = tokio::spawn(monitor::watch_generator(
        clock.instant_of(run_start),
        interval,
        clock.instant_of(run_end),
        at.stop.clone(),
        live.clone(),
    ));
    let http_loads = spawn_http_loads(&at, provider.as_deref(), &live);
    let mut failures = Vec::new();
    let (simulated, webrtc) = spawn_groups(&at, provider, kernel, &live, &mut failures, &relay);
    let mut gathered = Gathered {
        groups: Vec::new(),
        failures,
        stopped_at: run_start,
        completed: true,
    };
    gathered.simulated(simulated, clock).await;
    gathered.webrtc(webrtc).await;
    let http = gathered.http(plan, http_loads).await;
    let generator = generator_monitor.await.unwrap_or_default();
    // The run is over: the gate watch ends with it if nothing broke.
    let _ = stop_tx.send(true);
    let aborted = gate_watch.await.ok().flatten();
    forward.abort();
    let stopped_early = *outer_stop.borrow() || aborted.is_some();
    let end = if stopped_early { clock.now() } else { run_end };
    RunOutcome {
        started_at_us: run_start,
        stopped_at_us: gathered.stopped_at.max(end.min(clock.now())),
        completed: gathered.completed && !stopped_early,
        groups: gathered.groups,
        failures: gathered.failures,
        generator,
        http,
        aborted,
    }
}

/// Passes Ctrl-C (`outer`) on to the run's own stop.
fn forward_stop(
    mut outer: watch::Receiver<bool>,
    stop_tx: watch::Sender<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if outer.wait_for(|s| *s).await.is_ok() {
            let _ = stop_tx.send(true);
        }
    })
}

type HttpTask = tokio::task::JoinHandle<http_load::HttpLoadOutcome>;
/// A group's task, with the group's name.
type SimulatedTask = (
    String,
    tokio::task::JoinHandle<(Result<Micros, CodecError>, Room)>,
);
type WebrtcTask = (String, tokio::task::JoinHandle<Vec<GroupOutcome>>);

/// Starts the plan's HTTP side-loads against their URL or the provider's live-room API.
fn spawn_http_loads(
    at: &Setting,
    provider: Option<&dyn Provider>,
    live: &Arc<Live>,
) -> Vec<HttpTask> {
    at.plan
        .http
        .iter()
        .map(|load| {
            let base = match (&load.target, provider) {
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
                at.clock,
                at.run_start,
                at.plan.interval_us,
                at.stop.clone(),
                live.clone(),
            ))
        })
        .collect()
}

/// Starts every group: WebRTC groups through the provider, simulated ones on their own link.
fn spawn_groups(
    at: &Setting,
    provider: Option<Arc<dyn Provider>>,
    kernel: Option<Arc<KernelNet>>,
    live: &Arc<Live>,
    failures: &mut Vec<EngineError>,
    relay: &published::Relay,
) -> (Vec<SimulatedTask>, Vec<WebrtcTask>) {
    let mut simulated = Vec::new();
    let mut webrtc = Vec::new();
    let publications = published::Publications::default();
    for group in &at.plan.groups {
        let name = group.name.clone();
        match (group.transport, &provider) {
            (Transport::Webrtc, Some(p)) => {
                // Built here, where a failure (no file descriptor left for the TLS roots, say)
                // is the group's failure rather than a panic.
                let http = match reqwest::Client::builder().build() {
                    Ok(http) => http,
                    Err(e) => {
                        failures.push(EngineError::Task {
                            group: name,
                            reason: format!("cannot make an HTTP client: {e}"),
                        });
                        continue;
                    }
                };
                let run = webrtc::RunShared {
                    http,
                    provider: p.clone(),
                    kernel: kernel.clone(),
                    run_start: at.run_start,
                    interval_us: at.plan.interval_us,
                    clock: at.clock,
                    stop: at.stop.clone(),
                    live: live.clone(),
                    relay: relay.clone(),
                    publications: publications.clone(),
                };
                let task = webrtc::run_group(group.clone(), run);
                webrtc.push((name, tokio::spawn(task)));
            }
            (Transport::Webrtc, None) => failures.push(EngineError::Task {
                group: name,
                reason: "a WebRTC group needs a provider".into(),
            }),
            (Transport::Simulated, _) => {
                match Room::new(group, at.run_start, at.plan.interval_us) {
                    Ok(mut room) => {
                        let (clock, stop) = (at.clock, at.stop.clone());
                        let task = tokio::spawn(async move {
                            let stopped = driver::run_realtime(&mut room, clock, stop).await;
                            (stopped, room)
                        });
                        simulated.push((name, task));
                    }
                    Err(source) => failures.push(EngineError::Media {
                        group: name,
                        source,
                    }),
                }
            }
        }
    }
    (simulated, webrtc)
}

/// What the groups' tasks came back with.
struct Gathered {
    groups: Vec<GroupOutcome>,
    failures: Vec<EngineError>,
    stopped_at: Micros,
    completed: bool,
}

impl Gathered {
    async fn simulated(&mut self, tasks: Vec<SimulatedTask>, clock: WallClock) {
        for (name, task) in tasks {
            match task.await {
                Ok((Ok(at), room)) => {
                    self.completed &= at >= room.end();
                    self.stopped_at = self.stopped_at.max(at);
                    self.groups.push(room.finish(at));
                }
                Ok((Err(source), room)) => {
                    let at = clock.now();
                    self.failures.push(EngineError::Media {
                        group: name,
                        source,
                    });
                    self.groups.push(room.finish(at));
                    self.completed = false;
                }
                Err(e) => self.failures.push(EngineError::Task {
                    group: name,
                    reason: e.to_string(),
                }),
            }
        }
    }

    async fn webrtc(&mut self, tasks: Vec<WebrtcTask>) {
        for (name, task) in tasks {
            match task.await {
                Ok(outcomes) => self.groups.extend(outcomes),
                Err(e) => self.failures.push(EngineError::Task {
                    group: name,
                    reason: e.to_string(),
                }),
            }
        }
    }

    async fn http(&mut self, plan: &Plan, tasks: Vec<HttpTask>) -> Vec<http_load::HttpLoadOutcome> {
        let mut http = Vec::new();
        for (load, task) in plan.http.iter().zip(tasks) {
            match task.await {
                Ok(outcome) => http.push(outcome),
                Err(e) => self.failures.push(EngineError::Task {
                    group: format!("http {}", load.name),
                    reason: e.to_string(),
                }),
            }
        }
        http
    }
}
