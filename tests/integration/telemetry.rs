//! Live telemetry against a real Prometheus (Debian's, on 127.0.0.1): a run is scraped through
//! `--metrics` and pushed by remote write at once; what Prometheus holds afterwards must equal
//! run.json exactly. The same run's live page is loaded in headless Chromium and must show the
//! run's joins, and every query of the Grafana dashboard must parse in Prometheus and name a
//! metric rtcbench exports.

use super::common;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A plain HTTP/1.0 GET on loopback; the body, or None if nothing answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.take(8 << 20).read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_string())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus scraping `target` every second, with the remote-write receiver on.
fn start_prometheus(dir: &Path, port: u16, target: u16) -> Killed {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: rtcbench\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .expect("config");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
        .spawn()
        .expect("start prometheus");
    let prometheus = Killed(child);
    let until = Instant::now() + Duration::from_secs(30);
    while get(port, "/-/ready").is_none() {
        assert!(Instant::now() < until, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    prometheus
}

/// An instant query's result vector, evaluated at `at` (Unix seconds) or now.
fn query(port: u16, promql: &str, at: Option<f64>) -> serde_json::Value {
    let q: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let time = at.map_or(String::new(), |t| format!("&time={t:.3}"));
    let body = get(port, &format!("/api/v1/query?query={q}{time}"))
        .unwrap_or_else(|| panic!("prometheus refused the query {promql}"));
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["status"], "success", "{promql}: {body}");
    v["data"]["result"].clone()
}

fn scalar(port: u16, promql: &str) -> f64 {
    let r = query(port, promql, None);
    let value = r[0]["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("{promql}: no sample ({r})"));
    value.parse().expect("number")
}

const SCENARIO: &str = r#"
[[group]]
name = "room"
receivers = 8
probes = 1
stagger = "500ms"

[[fault]]
kind = "signalling-error"
start = "1200ms"
end = "2800ms"
status = 503

[[gate]]
metric = "e2e_latency_ms"
stat = "p95"
below = 400

[[http]]
name = "likes"
users = 2
rise = "0s"
rate = 20

[[http.request]]
name = "like"
path = "/api/rooms/{{room}}/likes"
"#;

/// The run's live page in headless Chromium: the join count it shows, with `/live.json`'s
/// just before and just after.
fn joins_on_the_page(dashboard: u16) -> (f64, u64, f64) {
    let live = || -> f64 {
        let body = get(dashboard, "/live.json").expect("live.json");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["joins"]
            .as_f64()
            .expect("joins")
    };
    let before = live();
    let dom = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg("--virtual-time-budget=3000")
        .arg(format!("http://127.0.0.1:{dashboard}/"))
        .stderr(Stdio::null())
        .output()
        .expect("chromium");
    let after = live();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page never drew: {dom}"
    );
    let shown = dom
        .split("id=\"joins\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no join count on the page: {dom}"));
    (before, shown, after)
}

/// Every sample name a `/metrics` text declares.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split(' ');
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        match kind {
            "counter" => names.insert(format!("{name}_total")),
            "histogram" => {
                for s in ["bucket", "sum", "count"] {
                    names.insert(format!("{name}_{s}"));
                }
                true
            }
            _ => names.insert(name.to_string()),
        };
    }
    names
}

/// The dashboard's queries, with its variables filled in for `run`.
fn dashboard_queries(run: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string("deploy/grafana/rtcbench.json").expect("dashboard");
    let d: serde_json::Value = serde_json::from_str(&text).expect("dashboard json");
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            let expr = t["expr"].as_str().expect("expr");
            let filled = expr.replace("$run", run).replace("$__rate_interval", "4s");
            out.push((p["title"].as_str().unwrap_or("").to_string(), filled));
        }
    }
    out
}

#[test]
fn prometheus_reads_back_what_run_json_says_and_the_live_page_shows_the_joins() {
    let _heavy = common::heavy_blocking();
    if !have_prometheus() {
        return;
    }
    let dir = common::temp_dir("telemetry");
    let (metrics, dashboard, prom) = (free_port(), free_port(), free_port());
    let _prometheus = start_prometheus(&dir, prom, metrics);
    let scenario = write_scenario(&dir, "telemetry", "10s", SCENARIO);
    let out = dir.join("rehearsal");
    let mut run = Killed(
        run_command(&scenario, &out, &dir.join("run.log"), prom)
            .args(["--metrics", &format!("127.0.0.1:{metrics}")])
            .args(["--dashboard", &format!("127.0.0.1:{dashboard}")])
            .args(["--metrics-linger", "10s"])
            .spawn()
            .expect("rtcbench"),
    );
    // Mid-run: the page, the names /metrics declares, and an instant to query rates at.
    let mid_run = Instant::now() + Duration::from_secs(30);
    let mut text = None;
    while text.is_none() {
        assert!(Instant::now() < mid_run, "the run never got going");
        std::thread::sleep(Duration::from_millis(300));
        let Some(body) = get(dashboard, "/live.json") else {
            continue;
        };
        let live: serde_json::Value = serde_json::from_str(&body).expect("json");
        if live["elapsed_s"].as_f64().unwrap_or(0.0) >= 6.0 {
            text = get(metrics, "/metrics");
        }
    }
    let text = text.expect("metrics");
    let queried_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let (before, shown, after) = joins_on_the_page(dashboard);
    assert!(shown >= 1, "the page shows no joins");
    assert!(
        (before..=after).contains(&(shown as f64)),
        "page {shown}, live {before}..{after}"
    );
    let status = common::wait_for(&mut run.0, Duration::from_secs(90)).expect("the run ended");
    let log = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
    // 3: sessions failed, as the signalling fault means them to.
    assert_eq!(status.code(), Some(3), "{log}");
    assert!(!log.contains("remote write"), "a push failed: {log}");

    let results = run_json(&out);
    let groups = results["groups"].as_array().expect("groups");
    let joined = joined_in(&results);
    let failed: f64 = groups
        .iter()
        .map(|g| g["totals"]["failed_sessions"].as_f64().unwrap())
        .sum();
    let e2e: f64 = groups
        .iter()
        .filter_map(|g| g["metrics"]["e2e_latency_ms"]["summary"]["count"].as_f64())
        .sum();
    assert!(failed >= 1.0, "the signalling fault failed no join");
    assert!(
        joined >= 4.0 && e2e > 500.0,
        "joined {joined}, e2e samples {e2e}"
    );
    // Scraped (job="rtcbench") and pushed (no job) series, read back through the HTTP API.
    for source in ["job=\"rtcbench\"", "job=\"\""] {
        let m = format!("{{run=\"rehearsal\",{source}}}");
        let back = scalar(
            prom,
            &format!("sum(rtcbench_joins_total{m}) - sum(rtcbench_joins_withdrawn_total{m})"),
        );
        assert_eq!(back, joined, "joined, {source}");
        assert_eq!(
            scalar(prom, &format!("sum(rtcbench_join_failures_total{m})")),
            failed,
            "{source}"
        );
        let count = scalar(prom, &format!("sum(rtcbench_e2e_latency_seconds_count{m})"));
        assert_eq!(count, e2e, "e2e histogram count, {source}");
        eprintln!("{source}: joined {back}, failed {failed}, e2e samples {count}, as run.json");
    }

    let names = exported_names(&text);
    let must_draw = [
        "Viewers up",
        "Join success",
        "E2E latency",
        "First frame",
        "Gates",
        "HTTP",
    ];
    let mut drawn = BTreeSet::new();
    for (title, expr) in dashboard_queries("rehearsal") {
        let named = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("rtcbench_"));
        for name in named {
            assert!(
                names.contains(name),
                "panel \"{title}\" queries {name}, which is not exported"
            );
        }
        // Every query parses and runs; the panels a rehearsal needs draw something mid-run.
        if !query(prom, &expr, Some(queried_at))
            .as_array()
            .unwrap()
            .is_empty()
        {
            drawn.insert(title);
        }
    }
    for panel in must_draw {
        assert!(
            drawn.iter().any(|t| t.starts_with(panel)),
            "panel {panel}… draws nothing mid-run"
        );
    }
}

/// `scenario.toml` in `dir`: a small WebRTC scenario with `body` after its video.
fn write_scenario(dir: &Path, name: &str, duration: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join("scenario.toml");
    let text = format!("{}{body}", common::small_webrtc(name, duration));
    std::fs::write(&path, text).expect("scenario");
    path
}

/// `rtcbench run` of `scenario` into `out`, pushing to the Prometheus on `prom` every 2 s,
/// standard error into `log`.
fn run_command(scenario: &Path, out: &Path, log: &Path, prom: u16) -> Command {
    let mut cmd = common::bin();
    cmd.args([
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args([
        "--metrics-push",
        &format!("http://127.0.0.1:{prom}/api/v1/write"),
    ])
    .args(["--metrics-push-every", "2s"])
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(log).expect("log"));
    cmd
}

fn run_json(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("json")
}

/// Sessions run.json counts as joined.
fn joined_in(results: &serde_json::Value) -> f64 {
    let groups = results["groups"].as_array().expect("groups");
    let sessions = groups
        .iter()
        .flat_map(|g| g["sessions"].as_array().unwrap());
    sessions.filter(|s| s["joined"] == true).count() as f64
}

/// Skips (or, in CI, fails) without Prometheus.
fn have_prometheus() -> bool {
    if Command::new("prometheus").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("RTCBENCH_REQUIRE_PROMETHEUS").is_none(),
        "prometheus is not installed (apt-get install prometheus)"
    );
    eprintln!("prometheus is not installed: skipped");
    false
}

#[test]
fn the_shards_of_one_run_push_to_one_prometheus_apart_by_shard() {
    let _heavy = common::heavy_blocking();
    if !have_prometheus() {
        return;
    }
    let dir = common::temp_dir("telemetry-shards");
    let (prom, coordinator) = (free_port(), free_port());
    // Nothing to scrape: the shards only push.
    let _prometheus = start_prometheus(&dir, prom, free_port());
    let group = "[[group]]\nname = \"room\"\nreceivers = 4\nstagger = \"200ms\"\n";
    let scenario = write_scenario(&dir, "pushed", "6s", group);
    let shards: Vec<Killed> = (0..2)
        .map(|i| {
            let (out, log) = (
                dir.join(format!("shard-{i}")),
                dir.join(format!("shard-{i}.log")),
            );
            Killed(
                run_command(&scenario, &out, &log, prom)
                    .args(["--shard", &format!("{i}/2")])
                    .args(["--coordinator", &format!("127.0.0.1:{coordinator}")])
                    .spawn()
                    .expect("shard"),
            )
        })
        .collect();
    let mut joined = 0.0;
    for (i, mut shard) in shards.into_iter().enumerate() {
        let status = common::wait_for(&mut shard.0, Duration::from_secs(120)).expect("shard ended");
        let log = std::fs::read_to_string(dir.join(format!("shard-{i}.log"))).unwrap_or_default();
        assert!(status.success(), "shard {i}: {log}");
        joined += joined_in(&run_json(&dir.join(format!("shard-{i}"))));
    }
    let m = "{scenario=\"pushed\"}";
    assert_eq!(
        scalar(
            prom,
            &format!("count(count by (shard) (rtcbench_run_duration_seconds{m}))")
        ),
        2.0
    );
    assert_eq!(
        scalar(
            prom,
            &format!("count(count by (run) (rtcbench_run_duration_seconds{m}))")
        ),
        1.0,
        "one run"
    );
    let back = scalar(
        prom,
        &format!("sum(rtcbench_joins_total{m}) - sum(rtcbench_joins_withdrawn_total{m})"),
    );
    assert_eq!(back, joined);
    assert!(joined >= 4.0, "{joined}");
}
