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

/// Replaces every histogram string in `json` with `histogram` (base64).
fn with_every_histogram(json: &str, histogram: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(json).expect("json");
    fn walk(v: &mut serde_json::Value, replacement: &str, count: &mut usize) {
        match v {
            serde_json::Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    match (key.as_str(), field.is_string()) {
                        ("histogram", true) => {
                            *field = replacement.into();
                            *count += 1;
                        }
                        _ => walk(field, replacement, count),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|i| walk(i, replacement, count))
            }
            _ => {}
        }
    }
    let mut count = 0;
    walk(&mut value, histogram, &mut count);
    assert!(count > 0, "no histogram in the run");
    value.to_string()
}

/// A hostile run.json: a 56-character histogram that declares a 4 GB payload, and small zlib
/// bombs, are refused with the reason (before: an abort on a 4 GB allocation, and 33 s).
#[test]
fn run_json_histograms_that_declare_or_inflate_too_much_are_refused() {
    use base64::Engine;
    let dir = common::temp_dir("hostile-histograms");
    let json = serde_json::to_string(&run_with(1..100)).expect("json");
    let mut declared = 0x1c84_9313u32.to_be_bytes().to_vec();
    declared.extend_from_slice(&u32::MAX.to_be_bytes());
    declared.extend_from_slice(&[0; 32]);
    let mut bomb = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut bomb, &0x1c84_9313u32.to_be_bytes()).expect("cookie");
    std::io::Write::write_all(&mut bomb, &vec![0u8; 256 << 20]).expect("zeros");
    let bomb = bomb.finish().expect("bomb");
    let mut bombed = 0x1c84_9314u32.to_be_bytes().to_vec();
    bombed.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
    bombed.extend_from_slice(&bomb);
    for (name, bytes, said) in [
        ("declared", declared, "declares 4294967295 payload bytes"),
        ("bomb", bombed, "inflates past"),
    ] {
        let path = dir.join(format!("{name}.json"));
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        std::fs::write(&path, with_every_histogram(&json, &text)).expect("write");
        let started = std::time::Instant::now();
        let e = RunResults::read(&path).expect_err(name).to_string();
        assert!(e.contains(said), "{name}: {e}");
        assert!(
            started.elapsed().as_secs() < 5,
            "{name}: {:?}",
            started.elapsed()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A full disk while run.json is written leaves the earlier run.json whole (it is written
/// beside and renamed). Needs root to mount a 64 KiB tmpfs; says so and passes otherwise.
#[test]
fn a_full_disk_keeps_the_earlier_run_json() {
    let dir = common::temp_dir("full-disk");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    let path = dir.join("run.json");
    let small = run_with(1..10);
    small.write(&path).expect("a small run fits");
    let before = std::fs::read(&path).expect("read");
    // Thousands of distinct values: far over 64 KiB of JSON.
    let big = run_with((1..20_000).map(|v| v * 7));
    let e = big.write(&path).expect_err("the disk is full");
    let after = std::fs::read(&path).expect("read");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let _ = std::process::Command::new("umount").arg(&dir).status();
    assert!(e.to_string().contains("run.json"), "{e}");
    assert_eq!(before, after, "the earlier run.json changed");
    assert_eq!(leftovers, ["run.json"], "a partial file was left");
    std::fs::remove_dir_all(&dir).ok();
}
