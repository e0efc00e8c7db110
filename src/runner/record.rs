//! A run's outcome made into its record: run.json's fields, the generator's own cost, and the
//! verdicts of gates and capacity search judged on the record.

use crate::engine::RunOutcome;
use crate::plan::Plan;
use crate::results::self_cost::GeneratorInterval;
use crate::results::{Environment, GroupResult, RunResults, SelfCost, SCHEMA};
use crate::scenario::{GroupKind, Scenario, Transport};

/// What `drive` came back with.
pub(super) struct Ran {
    pub(super) outcome: RunOutcome,
    pub(super) provider: Option<String>,
    /// The provider's server ran in this process (its CPU is in `cpu_s`).
    pub(super) in_process: bool,
    /// CPU seconds the process spent on the run.
    pub(super) cpu_s: Option<f64>,
}

/// The record of a run, judged.
pub(super) fn results(scenario: &Scenario, seed: u64, plan: &Plan, ran: Ran) -> RunResults {
    let Ran {
        mut outcome,
        provider,
        in_process,
        cpu_s,
    } = ran;
    let aborted = outcome.aborted.take();
    let wall_s = outcome.stopped_at_us.saturating_sub(outcome.started_at_us) as f64 / 1e6;
    let generator = generator_intervals(&outcome, plan.interval_us);
    let lag = &outcome.generator.lag_us;
    let (lag_p99, lag_max) = (
        lag.value_at_quantile(0.99) as f64 / 1000.0,
        lag.max() as f64 / 1000.0,
    );
    let mut results = to_results(scenario, seed, outcome, plan.interval_us / 1000, provider);
    results.faults = plan.faults.clone();
    if let Some(cpu_s) = cpu_s {
        let mut cost = SelfCost {
            cpu_s,
            wall_s,
            sfu_in_process: in_process,
            runtime_lag_p99_ms: lag_p99,
            runtime_lag_max_ms: lag_max,
            schedule_slip_p95_ms: slip(&results, |s| s.p95),
            schedule_slip_max_ms: slip(&results, |s| s.max),
            cpu_count: results.environment.cpu_count,
            intervals: generator,
            ..SelfCost::default()
        };
        cost.count_media(&results.groups, scenario.audio.enabled, publishers(plan));
        cost.judge_saturation();
        results.self_cost = Some(cost);
    }
    if scenario.transport == Transport::Webrtc {
        results.timeline = Some(crate::results::timeline::Timeline::build(
            &results.groups,
            &plan.marks,
            results.duration_s,
            results.interval_ms,
        ));
    }
    judge(&mut results, plan, aborted);
    results
}

fn generator_intervals(outcome: &RunOutcome, interval_us: u64) -> Vec<GeneratorInterval> {
    let interval_s = interval_us as f64 / 1e6;
    outcome
        .generator
        .intervals
        .iter()
        .enumerate()
        .map(|(i, g)| GeneratorInterval {
            start_s: i as f64 * interval_s,
            cores: g.cpu_s / interval_s,
            timer_lag_p99_ms: g.lag_p99_us as f64 / 1000.0,
            timer_lag_max_ms: g.lag_max_us as f64 / 1000.0,
            rss_mb: g.rss_bytes.map(|b| b as f64 / 1e6),
        })
        .collect()
}

/// How many publishers the plan runs (each encodes its own video).
fn publishers(plan: &Plan) -> u64 {
    plan.groups
        .iter()
        .map(|g| match g.kind {
            GroupKind::Call => g.receivers.iter().filter(|r| !r.elsewhere).count() as u64,
            GroupKind::Room => u64::from(!g.external_publisher && !g.publisher_elsewhere),
            _ if g.publisher_elsewhere => 0,
            // Two of them publish again in their private call after the switch.
            GroupKind::Cohost => g.cohost.as_ref().map_or(0, |c| {
                c.hosts.len() as u64 + 2 * u64::from(c.switch_at_us.is_some())
            }),
        })
        .sum()
}

/// The worst schedule slip of any group, by `pick`.
fn slip(results: &RunResults, pick: fn(&crate::results::Summary) -> f64) -> Option<f64> {
    results
        .groups
        .iter()
        .filter_map(|g| g.metric(crate::metrics::Metric::ScheduleSlipMs))
        .map(|m| pick(&m.summary))
        .reduce(f64::max)
}

/// Gates and the capacity search judged on the record; a gate that stopped the run stands.
fn judge(results: &mut RunResults, plan: &Plan, aborted: Option<crate::engine::abort::Abort>) {
    let gates = &plan.gates;
    let searched = plan.capacity.as_ref().map(|c| c.group.as_str());
    results.gates = crate::results::gates::evaluate_except(gates, results, searched);
    if let Some(a) = aborted {
        // The verdict that stopped the run stands, whatever the shorter run adds up to.
        for g in results
            .gates
            .iter_mut()
            .filter(|g| g.gate == a.gate && g.group == a.group)
        {
            g.passed = false;
            g.observed = Some(a.observed);
        }
        results.aborted_by = Some(a);
    }
    if let Some(search) = &plan.capacity {
        results.capacity = Some(crate::results::capacity::evaluate(search, gates, results));
    }
}

pub fn to_results(
    scenario: &Scenario,
    seed: u64,
    outcome: RunOutcome,
    interval_ms: u64,
    provider: Option<String>,
) -> RunResults {
    let started = chrono::DateTime::from_timestamp_micros(outcome.started_at_us as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    RunResults {
        schema: SCHEMA.to_string(),
        rtcbench_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario_name: scenario.name.clone(),
        scenario: serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null),
        seed,
        started_at: started,
        duration_s: outcome.stopped_at_us.saturating_sub(outcome.started_at_us) as f64 / 1e6,
        completed: outcome.completed,
        interval_ms,
        provider,
        environment: Environment::detect(),
        self_cost: None,
        gates: Vec::new(),
        capacity: None,
        failures: outcome
            .failures
            .iter()
            .map(|f| f.to_string())
            .chain(outcome.http.iter().filter_map(|h| {
                h.failure
                    .as_ref()
                    .map(|why| format!("HTTP load \"{}\": {why}", h.name))
            }))
            .collect(),
        http: outcome
            .http
            .into_iter()
            .map(|h| crate::results::http::HttpLoadResult::from_outcome(h, interval_ms))
            .collect(),
        timeline: None,
        faults: Vec::new(),
        aborted_by: None,
        shard: None,
        shards: Vec::new(),
        missing_shards: Vec::new(),
        groups: outcome
            .groups
            .into_iter()
            .map(|g| GroupResult::from_outcome(g, interval_ms))
            .collect(),
    }
}
