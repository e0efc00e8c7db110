//! run.json round-trips, and merging runs adds histograms exactly.

use crate::common;
use rtcbench::engine::{GroupOutcome, RunOutcome};
use rtcbench::metrics::{Metric, Recorder, Sample};
use rtcbench::results::RunResults;
use rtcbench::runner::to_results;
use rtcbench::scenario;

const SCENARIO: &str = "name = \"m\"\nduration = \"4s\"\n[[group]]\nname = \"g\"\nreceivers = 1\n";

/// A run whose group recorded latencies `values` (ms), one per 10 ms from t = 0.
fn run_with(values: impl Iterator<Item = u64>) -> RunResults {
    let s = scenario::parse(SCENARIO, "m.toml").expect("scenario");
    let mut recorder = Recorder::new(0, 1_000_000);
    for (i, v) in values.enumerate() {
        recorder.record(Sample {
            metric: Metric::E2eLatencyMs,
            at: i as u64 * 10_000,
            value: v as f64,
        });
    }
    let mut outcome = common::simulate(SCENARIO).remove(0);
    outcome.series = recorder.series;
    let group: GroupOutcome = outcome;
    let run = RunOutcome {
        started_at_us: 0,
        stopped_at_us: 4_000_000,
        completed: true,
        groups: vec![group],
        failures: vec![],
        generator: Default::default(),
        http: vec![],
        aborted: None,
    };
    to_results(&s, 1, run, 1000, None)
}

#[test]
fn merged_percentiles_are_those_of_all_samples() {
    let _heavy = common::heavy_blocking();
    let mut a = run_with(1..=1000);
    let b = run_with(1001..=3000);
    a.merge(&b).expect("merge");
    let m = a
        .group("g")
        .expect("group")
        .metric(Metric::E2eLatencyMs)
        .expect("metric");
    assert_eq!(m.summary.count, 3000);
    // Truth for 1..=3000 ms: p50 = 1500, p99 = 2970, max = 3000; HdrHistogram keeps 3 digits.
    for (got, want) in [
        (m.summary.p50, 1500.0),
        (m.summary.p99, 2970.0),
        (m.summary.max, 3000.0),
    ] {
        assert!(
            (got - want).abs() <= want * 0.001 + 0.001,
            "{got} vs {want}"
        );
    }
    // Intervals merge one by one: second 0 of each run held 100 samples.
    assert_eq!(m.intervals[0].summary.count, 200);
    assert_eq!(a.group("g").expect("group").sessions.len(), 2);
}

#[test]
fn run_json_round_trips_and_merges_the_same_after_reading() {
    let _heavy = common::heavy_blocking();
    let dir = std::env::temp_dir().join(format!("rtcbench-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let a = run_with(1..=500);
    let b = run_with(200..=900);
    a.write(&dir.join("a.json")).expect("write");
    b.write(&dir.join("b.json")).expect("write");
    let a2 = RunResults::read(&dir.join("a.json")).expect("read");
    assert!(a2 == a, "run.json must read back exactly");
    let (mut direct, mut via_disk) = (a.clone(), a2);
    direct.merge(&b).expect("merge");
    via_disk
        .merge(&RunResults::read(&dir.join("b.json")).expect("read"))
        .expect("merge");
    assert!(
        direct == via_disk,
        "merging after a round trip must give the same run"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_file_of_another_schema_is_refused_clearly() {
    let _heavy = common::heavy_blocking();
    let dir = std::env::temp_dir().join(format!("rtcbench-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("run.json");
    std::fs::write(&path, r#"{"schema": "rtcbench.run/99"}"#).expect("write");
    let err = RunResults::read(&path)
        .expect_err("must refuse")
        .to_string();
    assert!(
        err.contains("rtcbench.run/99") && err.contains("run.json"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
