//! The engine: runs a plan's groups concurrently against the clock and gathers what they measured.

pub mod clock;
pub mod driver;
pub mod room;

pub use clock::WallClock;
pub use room::{GroupOutcome, Room};

use crate::media::codec::CodecError;
use crate::media::Micros;
use crate::plan::Plan;
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
}

/// Runs every group of `plan` in real time; `stop` ends all of them early.
pub async fn run(plan: &Plan, stop: watch::Receiver<bool>) -> RunOutcome {
    let clock = WallClock::start();
    // Start on a whole interval a little ahead, so set-up cost is not measured as latency.
    let run_start = clock.now() + 200_000;
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for group in &plan.groups {
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
        let name = group.name.clone();
        tasks.push((
            name.clone(),
            tokio::spawn(async move {
                let stopped = driver::run_realtime(&mut room, clock, stop).await;
                (stopped, room)
            }),
        ));
    }
    let mut groups = Vec::new();
    let mut stopped_at = run_start;
    let mut completed = true;
    for (name, task) in tasks {
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
    RunOutcome {
        started_at_us: run_start,
        stopped_at_us: stopped_at,
        completed: completed && !*stop.borrow(),
        groups,
        failures,
    }
}
