//! HTTP side-load, run by goose: each `[[http]]` load is one goose attack whose users loop over
//! the weighted requests, started at the load's offset and ended with it (or with the run).
//! Goose keeps the request counts, statuses, errors and the coordinated-omission-corrected
//! latency; each response's latency is also put in the run's per-second intervals here, so the
//! report can draw HTTP latency on the same time axis as the media.

use crate::base::Micros;
use crate::base::WallClock;
use crate::metrics::histogram::new_histogram;
use crate::metrics::{Metric, MetricSeries, Recorder, Sample, SerHistogram};
use crate::plan::http::{HttpLoadPlan, HttpRequestPlan};
use crate::scenario::template::Fill;
use goose::config::{GooseConfiguration, GooseDefault, GooseDefaultType};
use goose::goose::{GooseMethod, GooseRequest, GooseUser, Scenario, Transaction, TransactionError};
use goose::metrics::{
    GooseCoordinatedOmissionMitigation, GooseMetrics, GooseRequestMetricTimingData,
};
use goose::GooseAttack;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What one load did.
#[derive(Debug, Clone, Default)]
pub struct HttpLoadOutcome {
    pub name: String,
    /// The base URL requests went to.
    pub target: String,
    pub users: usize,
    pub co_mitigation: String,
    /// Latency of each response, by the second it came back in.
    pub latency: MetricSeries,
    pub requests: Vec<RequestTally>,
    /// Goose's error texts with their counts.
    pub errors: BTreeMap<String, u64>,
    /// Responses goose made up to fill the gaps a stalled server left (coordinated omission).
    pub synthetic_requests: u64,
    /// Why the load could not run at all, or a setup request that failed.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RequestTally {
    pub name: String,
    pub method: String,
    pub count: u64,
    pub success: u64,
    pub fail: u64,
    pub statuses: BTreeMap<u16, u64>,
    /// Measured latency (µs values, scale 1000 per ms).
    pub latency: SerHistogram,
    /// The same with coordinated omission mitigated, when it was on.
    pub latency_co: Option<SerHistogram>,
}

struct Shared {
    plan: HttpLoadPlan,
    seq: AtomicU64,
    clock: WallClock,
    recorder: Mutex<Recorder>,
    env: BTreeMap<String, String>,
    setup_failure: Mutex<Option<String>>,
    /// Counted from the answers themselves: goose's own counts include the responses its
    /// coordinated-omission mitigation makes up.
    tallies: Tallies,
}

/// A load's tallies by request name, shared with the live view.
pub type Tallies = Arc<Mutex<BTreeMap<String, RequestTally>>>;

fn method_of(m: &str) -> GooseMethod {
    match m {
        "GET" => GooseMethod::Get,
        "PUT" => GooseMethod::Put,
        "PATCH" => GooseMethod::Patch,
        "DELETE" => GooseMethod::Delete,
        _ => GooseMethod::Post,
    }
}

fn co_of(name: &str) -> GooseCoordinatedOmissionMitigation {
    match name {
        "minimum" => GooseCoordinatedOmissionMitigation::Minimum,
        "maximum" => GooseCoordinatedOmissionMitigation::Maximum,
        "disabled" => GooseCoordinatedOmissionMitigation::Disabled,
        _ => GooseCoordinatedOmissionMitigation::Average,
    }
}

async fn send(
    shared: &Shared,
    r: &HttpRequestPlan,
    user: &mut GooseUser,
    record: bool,
) -> Result<u16, Box<TransactionError>> {
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let env = |v: &str| shared.env.get(v).cloned();
    let fill = Fill {
        room: &shared.plan.room,
        user: user.weighted_users_index + 1,
        seq,
        env: &env,
    };
    let path = r.path.render(&fill);
    let method = method_of(&r.method);
    let mut builder = user.get_request_builder(&method, &path)?;
    for (name, value) in &shared.plan.headers {
        builder = builder.header(name.as_str(), value.render(&fill));
    }
    if let Some(body) = &r.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.render(&fill));
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path.as_str())
        .name(r.name.as_str())
        .set_request_builder(builder)
        .build();
    let mut answer = user.request(request).await?;
    let status = answer.request.status_code;
    if record {
        let latency_us =
            answer.request.response_time * 1000 + answer.request.response_time_fraction_us as u64;
        let ok = r.accepts(status);
        if let Ok(mut tallies) = shared.tallies.lock() {
            let t = tallies
                .entry(r.name.clone())
                .or_insert_with(|| RequestTally {
                    name: r.name.clone(),
                    method: r.method.clone(),
                    ..RequestTally::default()
                });
            t.count += 1;
            if ok {
                t.success += 1;
            } else {
                t.fail += 1;
            }
            *t.statuses.entry(status).or_default() += 1;
            let _ = t.latency.0.record(latency_us.max(1));
        }
        if let Ok(mut rec) = shared.recorder.lock() {
            rec.record(Sample {
                metric: Metric::HttpLatencyMs,
                at: shared.clock.now(),
                value: latency_us as f64 / 1000.0,
            });
        }
    }
    if r.expect.contains(&status) && !answer.request.success {
        user.set_success(&mut answer.request)?;
    }
    Ok(status)
}

fn histogram_of(t: &GooseRequestMetricTimingData) -> SerHistogram {
    let mut h = new_histogram();
    for (&bucket_us, &count) in t.times_us.iter() {
        let _ = h.record_n(bucket_us.max(1), count as u64);
    }
    SerHistogram(h)
}

/// Goose's coordinated-omission-corrected latency, by request name.
fn corrected(metrics: &GooseMetrics) -> BTreeMap<String, SerHistogram> {
    metrics
        .requests
        .values()
        .filter_map(|a| {
            Some((
                a.path.clone(),
                histogram_of(a.coordinated_omission_data.as_ref()?),
            ))
        })
        .collect()
}

/// Builds the goose attack for `plan` against `base`.
fn attack(shared: Arc<Shared>, base: &str) -> Result<GooseAttack, goose::GooseError> {
    let plan = &shared.plan;
    let wait = std::time::Duration::from_micros(plan.wait_us);
    let mut scenario = Scenario::new(&plan.name).set_wait_time(wait, wait)?;
    for (k, r) in plan.requests.iter().enumerate() {
        let s = shared.clone();
        let t = Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let s = s.clone();
            Box::pin(async move {
                send(&s, &s.plan.requests[k], user, true).await?;
                Ok(())
            })
        }))
        .set_name(&r.name)
        .set_weight(r.weight as usize)?;
        scenario = scenario.register_transaction(t);
    }
    // Goose's test plan counts whole seconds.
    let secs = |us: u64| us.div_ceil(1_000_000);
    let hold_s = secs(plan.end_us.saturating_sub(plan.start_us + plan.rise_us));
    let steps = format!(
        "{users},{rise};{users},{hold_s};0,0",
        users = plan.users,
        rise = secs(plan.rise_us)
    );
    let mut goose: GooseAttack =
        *GooseAttack::initialize_with_config(GooseConfiguration::default())?
            .register_scenario(scenario)
            .set_default(GooseDefault::Host, base)?
            .set_default(GooseDefault::TestPlan, steps.as_str())?
            .set_default(GooseDefault::NoPrintMetrics, true)?
            .set_default(GooseDefault::NoErrorSummary, true)?
            .set_default(GooseDefault::NoTelnet, true)?
            .set_default(GooseDefault::Quiet, 1usize)?
            .set_default(
                GooseDefault::CoordinatedOmissionMitigation,
                co_of(&plan.co_mitigation),
            )?;
    if let Some(rate) = plan.rate {
        goose = *goose.set_default(GooseDefault::ThrottleRequests, rate as usize)?;
    }
    if !plan.setup.is_empty() {
        let s = shared.clone();
        goose = goose.test_start(Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let s = s.clone();
            Box::pin(async move {
                for r in &s.plan.setup {
                    let why = match send(&s, r, user, false).await {
                        Ok(status) if r.accepts(status) => continue,
                        Ok(0) => format!("setup request \"{}\" got no answer", r.name),
                        Ok(status) => {
                            format!("setup request \"{}\" answered HTTP {status}", r.name)
                        }
                        Err(e) => format!("setup request \"{}\": {e}", r.name),
                    };
                    if let Ok(mut f) = s.setup_failure.lock() {
                        f.get_or_insert(why);
                    }
                }
                Ok(())
            })
        })));
    }
    Ok(goose)
}

/// Runs `plan` against `base` from its start offset until its end or `stop`.
pub async fn run(
    plan: HttpLoadPlan,
    base: Result<String, String>,
    clock: WallClock,
    run_start: Micros,
    interval_us: u64,
    mut stop: watch::Receiver<bool>,
    live: Arc<super::live::Live>,
) -> HttpLoadOutcome {
    let mut outcome = HttpLoadOutcome {
        name: plan.name.clone(),
        target: base.clone().unwrap_or_default(),
        users: plan.users,
        co_mitigation: plan.co_mitigation.clone(),
        ..HttpLoadOutcome::default()
    };
    let base = match base {
        Ok(b) => b,
        Err(why) => {
            outcome.failure = Some(why);
            return outcome;
        }
    };
    let env = match environment(&plan) {
        Ok(env) => env,
        Err(why) => {
            outcome.failure = Some(why);
            return outcome;
        }
    };
    let start_at = clock.instant_of(run_start + plan.start_us);
    let shared = Arc::new(Shared {
        plan,
        seq: AtomicU64::new(0),
        clock,
        recorder: Mutex::new(Recorder::new(run_start, interval_us)),
        env,
        setup_failure: Mutex::new(None),
        tallies: Tallies::default(),
    });
    live.watch_http(&shared.plan.name, shared.tallies.clone());
    let goose = match attack(shared.clone(), &base) {
        Ok(g) => g,
        Err(e) => {
            outcome.failure = Some(format!("goose: {e:?}"));
            return outcome;
        }
    };
    tokio::select! {
        _ = tokio::time::sleep_until(start_at.into()) => {}
        _ = stop.wait_for(|s| *s) => return outcome,
    }
    let running = tokio::spawn(goose.execute());
    let stopper = tokio::spawn(async move {
        if stop.wait_for(|s| *s).await.is_ok() {
            goose::trigger_killswitch("rtcbench run stopped");
        }
    });
    let result = running.await;
    stopper.abort();
    settle(&mut outcome, result, &shared);
    outcome
}

/// The environment variables the load's templates read, each read once now.
fn environment(plan: &HttpLoadPlan) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    let vars = plan.headers.iter().flat_map(|(_, t)| t.env_vars()).chain(
        plan.requests.iter().chain(&plan.setup).flat_map(|r| {
            r.path
                .env_vars()
                .chain(r.body.iter().flat_map(|b| b.env_vars()))
        }),
    );
    for var in vars {
        let value =
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        env.insert(var.to_string(), value);
    }
    Ok(env)
}

/// What goose came back with, and what the load's own recorder and tallies hold, into the
/// outcome.
fn settle(
    outcome: &mut HttpLoadOutcome,
    result: Result<Result<goose::metrics::GooseMetrics, goose::GooseError>, tokio::task::JoinError>,
    shared: &Shared,
) {
    match result {
        Ok(Ok(metrics)) => {
            let mut co = corrected(&metrics);
            // Cloned, not taken: the live view still reads them after the load ends.
            if let Ok(tallies) = shared.tallies.lock() {
                outcome.requests = tallies
                    .values()
                    .cloned()
                    .map(|mut t| {
                        t.latency_co = co.remove(&t.name);
                        t
                    })
                    .collect();
            }
            for e in metrics.errors.values() {
                *outcome.errors.entry(e.error.clone()).or_default() += e.occurrences as u64;
            }
            outcome.synthetic_requests = metrics
                .coordinated_omission_metrics
                .as_ref()
                .map_or(0, |c| c.synthetic_requests);
        }
        Ok(Err(e)) => outcome.failure = Some(format!("goose: {e:?}")),
        Err(e) => outcome.failure = Some(format!("goose task: {e}")),
    }
    if let Some(why) = shared.setup_failure.lock().ok().and_then(|mut f| f.take()) {
        outcome.failure.get_or_insert(why);
    }
    if let Ok(rec) = shared.recorder.lock() {
        if let Some(series) = rec.series.get(&Metric::HttpLatencyMs) {
            outcome.latency = series.clone();
        }
    }
}
