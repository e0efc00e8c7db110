//! A run spread over shards: a Kubernetes Indexed Job emulated by local processes (each given
//! exactly the environment and arguments the manifests give its pod; the headless Service's DNS
//! name of shard 0 is the one thing replaced, by 127.0.0.1), merged exactly; a shard whose clock
//! is wrong by a known amount; and merges refused with the file and field.

use crate::common;
use rtcbench::results::RunResults;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("manifest");
    serde_norway::from_str(&text).expect("YAML")
}

/// `$(VAR)` in a Kubernetes argument expanded from the container's environment.
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    env.iter().fold(arg.to_string(), |a, (k, v)| {
        a.replace(&format!("$({k})"), v)
    })
}

/// The pod paths of the manifests, moved under `root`.
fn local_path(arg: &str, root: &Path) -> String {
    for pod in ["/config", "/results"] {
        if let Some(rest) = arg.strip_prefix(pod) {
            return format!("{}{rest}", root.join(&pod[1..]).display());
        }
    }
    arg.to_string()
}

/// The environment the Job gives pod `index`: the container's `env` (the downward API's
/// completion index filled in) and what the Job controller adds.
fn pod_env(container: &Value, job: &str, index: u32, port: u16) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for e in container["env"].as_array().expect("env") {
        let name = e["name"].as_str().unwrap().to_string();
        let value = match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
            (Value::String(v), _) => v.clone(),
            (_, Value::String(path)) if path.contains("job-completion-index") => index.to_string(),
            other => panic!("{name}: no local value for {other:?}"),
        };
        env.insert(name, value);
    }
    // The headless Service's name for shard 0, as the cluster's DNS would resolve it.
    let coordinator = env.get_mut("RTCBENCH_COORDINATOR").expect("coordinator");
    assert_eq!(*coordinator, format!("{job}-0.{job}:7700"));
    *coordinator = format!("127.0.0.1:{port}");
    env.insert("JOB_COMPLETION_INDEX".into(), index.to_string());
    env.insert("HOSTNAME".into(), format!("{job}-{index}"));
    env
}

fn command_of(container: &Value, env: &BTreeMap<String, String>, root: &Path) -> Command {
    let mut cmd = common::bin();
    for a in container["args"].as_array().expect("args") {
        cmd.arg(local_path(&expand(a.as_str().unwrap(), env), root));
    }
    cmd.envs(env);
    cmd
}

fn job_container(manifest: &Value) -> &Value {
    &manifest["spec"]["template"]["spec"]["containers"][0]
}

/// Writes the ConfigMap's files where the pods' volume would hold them.
fn mount_config(manifests: &Path, root: &Path) {
    let map = yaml(&manifests.join("configmap.yaml"));
    let config = root.join("config");
    std::fs::create_dir_all(&config).unwrap();
    for (name, text) in map["data"].as_object().expect("data") {
        std::fs::write(config.join(name), text.as_str().unwrap()).unwrap();
    }
}

fn read(dir: &Path) -> RunResults {
    RunResults::read(&dir.join("run.json")).unwrap_or_else(|e| panic!("{e}"))
}

/// The shards' histograms of `metric` in `group`, added.
fn union_of(
    shards: &[RunResults],
    group: &str,
    metric: rtcbench::metrics::Metric,
) -> Option<hdrhistogram::Histogram<u64>> {
    let mut all: Option<hdrhistogram::Histogram<u64>> = None;
    for s in shards {
        if let Some(m) = s.group(group).and_then(|g| g.metric(metric)) {
            match &mut all {
                None => all = Some(m.histogram.0.clone()),
                Some(h) => h.add(&m.histogram.0).unwrap(),
            }
        }
    }
    all
}

/// Every count of the merged run is the shards' sum, and every merged percentile is that of
/// all the shards' samples together.
fn check_exact(merged: &RunResults, shards: &[RunResults]) {
    for g in &merged.groups {
        let theirs: Vec<_> = shards.iter().filter_map(|s| s.group(&g.name)).collect();
        let sum =
            |f: fn(&rtcbench::record::GroupResult) -> u64| theirs.iter().map(|t| f(t)).sum::<u64>();
        assert_eq!(
            g.totals.receivers,
            sum(|t| t.totals.receivers),
            "{}",
            g.name
        );
        assert_eq!(
            g.totals.failed_sessions,
            sum(|t| t.totals.failed_sessions),
            "{}",
            g.name
        );
        assert_eq!(
            g.sessions.len() as u64,
            sum(|t| t.sessions.len() as u64),
            "{}",
            g.name
        );
        assert_eq!(
            g.totals.packets_lost,
            sum(|t| t.totals.packets_lost),
            "{}",
            g.name
        );
        for (metric, m) in &g.metrics {
            let union = union_of(shards, &g.name, *metric).expect("a shard measured it");
            assert_eq!(m.histogram.0.len(), union.len(), "{} {metric:?}", g.name);
            let expected = rtcbench::metrics::Summary::of(&union, m.scale);
            assert_eq!(m.summary, expected, "{} {metric:?}", g.name);
        }
    }
    let joins = |r: &RunResults| {
        r.timeline
            .as_ref()
            .map_or(0, |t| t.points.iter().map(|p| p.joins).sum::<u64>())
    };
    assert_eq!(joins(merged), shards.iter().map(joins).sum::<u64>());
}

#[test]
fn an_indexed_job_emulated_by_local_processes_merges_exactly() {
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("indexed-job");
    let scenario = dir.join("peak.toml");
    let toml = common::small_webrtc("peak", "8s")
        + "[[group]]\nname = \"room\"\nreceivers = 10\nprobes = 2\nstagger = \"150ms\"\n\
           [[group]]\nname = \"calls\"\nkind = \"call\"\npairs = 1\n";
    std::fs::write(&scenario, toml).unwrap();
    let manifests = dir.join("manifests");
    let shards = 4u32;
    let out = common::bin()
        .args([
            "deploy",
            "kubernetes",
            scenario.to_str().unwrap(),
            "--shards",
            "4",
        ])
        .args(["--name", "peak", "--out", manifests.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    mount_config(&manifests, &dir);
    let job = yaml(&manifests.join("job.yaml"));
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], shards);
    let port = free_port();
    let mut pods: Vec<common::Running> = (0..shards)
        .map(|i| {
            let env = pod_env(job_container(&job), "peak", i, port);
            common::Running(
                command_of(job_container(&job), &env, &dir)
                    .spawn()
                    .expect("spawn"),
            )
        })
        .collect();
    for (i, pod) in pods.iter_mut().enumerate() {
        let status = common::wait_for(&mut pod.0, Duration::from_secs(120));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "shard {i}");
    }
    let merge = yaml(&manifests.join("merge-job.yaml"));
    let merged_out = command_of(job_container(&merge), &BTreeMap::new(), &dir)
        .output()
        .unwrap();
    assert!(
        merged_out.status.success(),
        "{}",
        String::from_utf8_lossy(&merged_out.stderr)
    );
    let parts: Vec<RunResults> = (0..shards)
        .map(|i| read(&dir.join(format!("results/shard-{i}"))))
        .collect();
    let merged = read(&dir.join("results/merged"));
    check_exact(&merged, &parts);
    assert_eq!(merged.shards.len(), 4);
    assert!(merged.missing_shards.is_empty());
    let start = parts[0].shard.as_ref().unwrap().start_at_us;
    for (i, p) in parts.iter().enumerate() {
        let s = p.shard.as_ref().expect("shard record");
        assert_eq!((s.index, s.count), (i as u32, shards));
        assert_eq!(s.host, format!("peak-{i}"));
        assert_eq!(s.start_at_us, start, "one start for all");
        let clock = s.clock.as_ref().expect("clock measured");
        assert!(clock.ahead_ms.abs() <= clock.bound_ms + 1.0, "{clock:?}");
        // The planned-join error: how late this shard's sessions dialled against the common
        // plan, plus how far its clock can be off the reference.
        let slip = p
            .self_cost
            .as_ref()
            .and_then(|c| c.schedule_slip_max_ms)
            .unwrap_or(0.0);
        assert!(
            slip + clock.bound_ms <= 20.0,
            "shard {i}: slip {slip} ms, clock ±{} ms",
            clock.bound_ms
        );
    }
    let publishers: u64 = parts
        .iter()
        .map(|p| p.self_cost.as_ref().unwrap().publishers)
        .sum();
    assert_eq!(
        publishers,
        1 + 2,
        "the room's host and the two call sides, each once"
    );
    let report = std::fs::read_to_string(dir.join("results/merged/report.md")).unwrap();
    assert!(report.contains("Shards (4 of 4 merged)"), "{report}");
}

#[test]
fn a_shard_whose_clock_is_shifted_reports_the_shift_and_the_same_latency() {
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("clock-shift");
    let scenario = dir.join("s.toml");
    let toml = common::small_webrtc("shifted", "10s")
        + "[[group]]\nname = \"room\"\nreceivers = 6\nstagger = \"100ms\"\n";
    std::fs::write(&scenario, toml).unwrap();
    let coordinator = format!("127.0.0.1:{}", free_port());
    let shift_us: i64 = 250_000;
    let shard = |i: u32, shift: i64| {
        let mut cmd = common::bin();
        cmd.args([
            "run",
            scenario.to_str().unwrap(),
            "--shard",
            &format!("{i}/2"),
        ])
        .args(["--coordinator", &coordinator, "--out"])
        .arg(dir.join(format!("s{i}")))
        .env(rtcbench::base::clock::TEST_SHIFT_VAR, shift.to_string());
        common::Running(cmd.spawn().expect("spawn"))
    };
    let mut runs = [shard(0, 0), shard(1, shift_us)];
    for r in &mut runs {
        let status = common::wait_for(&mut r.0, Duration::from_secs(90));
        assert_eq!(status.and_then(|s| s.code()), Some(0));
    }
    let (a, b) = (read(&dir.join("s0")), read(&dir.join("s1")));
    let clock = b.shard.as_ref().unwrap().clock.clone().expect("measured");
    let error_ms = (clock.ahead_ms - shift_us as f64 / 1000.0).abs();
    assert!(error_ms <= clock.bound_ms, "{clock:?}");
    assert!(clock.bound_ms < 5.0, "{clock:?}");
    let p50 = |r: &RunResults| {
        r.group("room")
            .and_then(|g| g.metric(rtcbench::metrics::Metric::E2eLatencyMs))
            .map(|m| m.summary.p50)
            .expect("e2e measured")
    };
    let (p50_a, p50_b) = (p50(&a), p50(&b));
    assert!(
        (p50_a - p50_b).abs() <= 2.0,
        "shard 0 {p50_a} ms, shifted shard 1 {p50_b} ms"
    );
}

/// Two shards of a short simulated-link run started at an agreed instant (no coordinator).
fn simulated_shards(dir: &Path) -> [PathBuf; 2] {
    let scenario = dir.join("sim.toml");
    std::fs::write(
        &scenario,
        "name = \"sim\"\nduration = \"2s\"\n[video]\nwidth = 320\nheight = 180\n\
         [[group]]\nname = \"g\"\nreceivers = 4\n",
    )
    .unwrap();
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let outs = [dir.join("a"), dir.join("b")];
    let mut runs: Vec<common::Running> = outs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let mut cmd = common::bin();
            cmd.args([
                "run",
                scenario.to_str().unwrap(),
                "--shard",
                &format!("{i}/2"),
            ])
            .args(["--start-at", &at, "--out"])
            .arg(out);
            common::Running(cmd.spawn().unwrap())
        })
        .collect();
    for r in &mut runs {
        let status = common::wait_for(&mut r.0, Duration::from_secs(60));
        assert_eq!(status.and_then(|s| s.code()), Some(0));
    }
    outs
}

fn merge(dirs: &[&Path], extra: &[&str]) -> (bool, String) {
    let out = common::bin()
        .arg("merge")
        .args(dirs)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn merges_of_shards_that_do_not_belong_together_are_refused_naming_file_and_field() {
    let dir = common::temp_dir("merge-refusals");
    let [a, b] = simulated_shards(&dir);
    let merged = dir.join("m");
    let (ok, err) = merge(&[&a, &b], &["--out", merged.to_str().unwrap()]);
    assert!(ok, "{err}");
    let parts = [read(&a), read(&b)];
    check_exact(&read(&merged), &parts);

    // Another seed.
    let other = dir.join("other-seed");
    std::fs::create_dir_all(&other).unwrap();
    let text = std::fs::read_to_string(b.join("run.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["seed"] = Value::from(99u64);
    std::fs::write(other.join("run.json"), v.to_string()).unwrap();
    let (ok, err) = merge(&[&a, &other], &[]);
    assert!(!ok);
    assert!(
        err.contains("other-seed/run.json") && err.contains("field `seed`"),
        "{err}"
    );

    // The same shard twice.
    let (ok, err) = merge(&[&a, &a], &[]);
    assert!(!ok && err.contains("field `shard.index`"), "{err}");

    // A missing shard: refused, then merged with --allow-partial and named in the report.
    let (ok, err) = merge(&[&a], &[]);
    assert!(!ok && err.contains("shard 1 of 2 missing"), "{err}");
    let partial = dir.join("partial");
    let (ok, err) = merge(
        &[&a],
        &["--allow-partial", "--out", partial.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(read(&partial).missing_shards, vec![1]);
    let report = std::fs::read_to_string(partial.join("report.md")).unwrap();
    assert!(report.contains("Shard(s) 1 missing"), "{report}");

    // A shard killed while writing: only the hidden partial file.
    let crashed = dir.join("crashed");
    std::fs::create_dir_all(&crashed).unwrap();
    std::fs::write(
        crashed.join(".run.json.4242.partial"),
        &text[..text.len() / 2],
    )
    .unwrap();
    let (ok, err) = merge(&[&a, &crashed], &[]);
    assert!(
        !ok && err.contains("crashed") && err.contains("stopped while writing"),
        "{err}"
    );

    // A run that was no shard.
    let single = dir.join("single");
    let out = common::run_to(&dir.join("sim.toml"), &single);
    assert!(out.status.success());
    let (ok, err) = merge(&[&a, &single], &[]);
    assert!(
        !ok && err.contains("field `shard`") && err.contains("compare"),
        "{err}"
    );
}
