//! The command line as a user drives it, in real time.

use crate::common::{self, bin, run_to, wait_for};

use rtcbench::metrics::Metric;
use rtcbench::results::RunResults;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(tag: &str) -> PathBuf {
    common::temp_dir(&format!("cli-{tag}"))
}

const TWO_GROUPS: &str = r#"name = "cli-e2e"
duration = "4s"
[video]
width = 320
height = 180
bitrate = "500kbps"
[network.far]
delay = "50ms"
[[group]]
name = "near"
receivers = 2
probes = 1
[[group]]
name = "far"
receivers = 2
probes = 1
network = "far"
"#;

#[test]
fn run_writes_results_report_and_charts_and_report_rerenders() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("run");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, TWO_GROUPS).expect("write scenario");
    let out = dir.join("out");
    let status = bin()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seed",
            "9",
        ])
        .status()
        .expect("run");
    assert!(status.success(), "run failed: {status}");
    for f in ["run.json", "report.html", "report.md", "sessions.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for chart in [
        "e2e_latency_cdf",
        "e2e_latency_over_time",
        "fps_over_time",
        "freeze_time_per_stream",
    ] {
        for ext in ["svg", "png"] {
            let p = out.join("charts").join(format!("{chart}.{ext}"));
            assert!(
                std::fs::metadata(&p)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} missing or empty",
                p.display()
            );
        }
    }
    // The run measured itself: 4 receivers watching ~4 s of video and audio.
    let results = rtcbench::results::RunResults::read(&out.join("run.json")).expect("run.json");
    let cost = results.self_cost.expect("self cost");
    assert!(
        (24.0..=32.5).contains(&cost.subscriber_track_s),
        "{} track-s",
        cost.subscriber_track_s
    );
    assert_eq!(cost.publishers, 2);
    assert!(
        cost.cpu_s > 0.0 && (3.5..6.0).contains(&cost.wall_s),
        "{cost:?}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(html.contains("rtcbench&#39;s own cost") || html.contains("rtcbench's own cost"));
    assert!(
        html.contains("<svg") && html.contains("far"),
        "charts are inlined"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the report must not fetch anything"
    );

    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    assert!(r.completed && r.seed == 9 && r.failures.is_empty());
    let p50 = |g: &str| {
        r.group(g)
            .and_then(|g| g.metric(Metric::E2eLatencyMs))
            .map(|m| m.summary.p50)
            .expect("latency")
    };
    let added = p50("far") - p50("near");
    eprintln!(
        "real time: near p50 {:.2} ms, far p50 {:.2} ms, added {added:.2} ms",
        p50("near"),
        p50("far")
    );
    // In real time the generator's own scheduling adds noise the simulated tests do not have.
    assert!(
        (added - 50.0).abs() <= 5.0,
        "50 ms injected, {added:.2} ms measured"
    );
    let csv = std::fs::read_to_string(out.join("sessions.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 5, "header and four sessions");

    std::fs::remove_file(out.join("report.md")).expect("remove");
    let status = bin()
        .args(["report", out.to_str().unwrap(), "--format", "md"])
        .status()
        .expect("report");
    assert!(status.success());
    let md = std::fs::read_to_string(out.join("report.md")).expect("re-rendered report.md");
    assert!(md.contains("charts/e2e_latency_cdf.png") && md.contains("| near |"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn validate_names_the_problem_and_fails() {
    let dir = temp_dir("validate");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nduration = \"10s\"\n[video]\nfps = 0\n[[group]]\nname = \"a\"\nreceivers = 1\n").expect("write");
    let out = bin()
        .args([
            "validate",
            "scenarios/quickstart.toml",
            bad.to_str().unwrap(),
        ])
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml:4:7: field `video.fps`"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: scenarios/quickstart.toml"));
    let missing = bin()
        .args(["run", "no/such/scenario.toml"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/scenario.toml"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `validate` reports every problem of a provider file at its own line (not the first at 1:1),
/// checks URLs and timeouts as a run would meet them, and warns of unset variables.
#[test]
fn validate_reports_every_problem_of_a_file_at_its_line_and_warns_of_unset_variables() {
    let dir = temp_dir("validate-all");
    let bad = dir.join("bad-provider.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\nkind = \"whip-whep\"\n\
         whip_url = \"http://127.0.0.1:99999/whip/{room}\"\n\
         whep_url = \"http://[::1/whep/{room}\"\n\
         step_timeout = \"0s\"\n",
    )
    .expect("write");
    let unset = dir.join("unset-token.toml");
    std::fs::write(
        &unset,
        "name = \"ok\"\nkind = \"whip-whep\"\n\
         whip_url = \"https://h/whip/{room}\"\nwhep_url = \"https://h/whep/{room}\"\n\
         token_env = \"RTCBENCH_TEST_NEVER_SET\"\n",
    )
    .expect("write");
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"name = \"caf\xe9\"\n").expect("write");
    let out = bin()
        .arg("validate")
        .args([&bad, &unset, &latin1])
        .env_remove("RTCBENCH_TEST_NEVER_SET")
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad-provider.toml:3:12: field `whip_url`: \"http://127.0.0.1:99999/whip/{room}\" is not a URL: invalid port number",
        "bad-provider.toml:4:12: field `whep_url`: \"http://[::1/whep/{room}\" is not a URL: invalid IPv6 address",
        "bad-provider.toml:5:16: field `step_timeout`: 0s is outside",
        "warning: ",
        "unset-token.toml:5:13: field `token_env`: environment variable RTCBENCH_TEST_NEVER_SET is not set",
        "latin1.toml:1:12: field `(encoding)`: invalid UTF-8 (byte 0xe9)",
    ] {
        assert!(said.contains(expected), "{expected}\nnot in:\n{said}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: "));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_reference_answers_whip_offers_until_ctrl_c() {
    let _heavy = common::heavy_blocking();
    use std::io::BufRead;
    let mut child = bin()
        .args(["serve-reference", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("banner");
    let whip = line
        .split_whitespace()
        .nth(3)
        .expect("WHIP url in the banner")
        .replace("{room}", "cli");
    assert!(whip.starts_with("http://127.0.0.1:"), "{line}");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let answer = runtime.block_on(async {
        use rtcbench::client::native::{NativePeer, Role};
        use rtcbench::media::sender::MediaSender;
        let socket = rtcbench::client::driver::bind("127.0.0.1".parse().unwrap())
            .await
            .expect("bind");
        let sender = MediaSender::new(common::small_sender(1), 0).expect("sender");
        let mut peer = NativePeer::new(
            Role::Publish(Box::new(sender)),
            socket.local_addr().unwrap(),
            rtcbench::base::WallClock::start(),
            Instant::now(),
        )
        .expect("peer");
        let offer = peer.create_offer().expect("offer");
        let resource = rtcbench::provider::signal::whip::offer(
            &reqwest::Client::new(),
            &whip,
            offer,
            None,
            Duration::from_secs(3),
        )
        .await
        .expect("WHIP to the separate process");
        peer.accept_answer(&resource.answer).map(|_| resource)
    });
    let resource = answer.expect("a usable answer");
    assert!(resource.url.is_some_and(|u| u.contains("/whip/cli/")));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let status = wait_for(&mut child, Duration::from_secs(10)).expect("stops on Ctrl-C");
    assert!(status.success());
}

#[test]
fn export_clip_writes_the_group_clip_and_names_known_groups_on_a_typo() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("clip");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, TWO_GROUPS).unwrap();
    let clip = dir.join("far.y4m");
    let ok = bin()
        .args(["export-clip", scenario.to_str().unwrap(), "--group", "far"])
        .args(["--out", clip.to_str().unwrap(), "--length", "500ms"])
        .output()
        .expect("runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // 15 frames at 30 fps, each "FRAME\n" and 320x180 I420.
    let header = "YUV4MPEG2 W320 H180 F30:1 Ip A1:1 C420jpeg\n".len() as u64;
    let size = std::fs::metadata(&clip).unwrap().len();
    assert_eq!(size, header + 15 * (6 + 320 * 180 * 3 / 2));

    let typo = bin()
        .args(["export-clip", scenario.to_str().unwrap(), "--group", "farr"])
        .args(["--out", clip.to_str().unwrap()])
        .output()
        .expect("runs");
    assert_eq!(typo.status.code(), Some(1));
    let err = String::from_utf8_lossy(&typo.stderr);
    assert!(
        err.contains("no group \"farr\"") && err.contains("near, far"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_broken_gate_exits_4_and_a_held_one_0() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("gates");
    let run = |gate: &str| {
        let scenario = dir.join("g.toml");
        // A folder per run: an earlier run's folder is refused.
        let out = dir.join(format!("out-{}", gate.len()));
        std::fs::write(
            &scenario,
            format!(
                "name = \"gates\"\nduration = \"2s\"\n[video]\nwidth = 320\nheight = 180\n\
                 [network.far]\ndelay = \"50ms\"\n[[group]]\nname = \"g\"\nreceivers = 1\n\
                 network = \"far\"\n{gate}"
            ),
        )
        .unwrap();
        let o = run_to(&scenario, &out);
        let results = rtcbench::results::RunResults::read(&out.join("run.json")).unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            results,
        )
    };
    // 50 ms of injected one-way delay: p95 cannot be under 40 ms, and is under 500 ms.
    let (code, stdout, r) =
        run("[[gate]]\nmetric = \"e2e_latency_ms\"\nstat = \"p95\"\nbelow = 40\n");
    assert_eq!(code, Some(4), "{stdout}");
    assert!(
        stdout.contains("gate FAIL: e2e_latency_ms p95 < 40 [g]"),
        "{stdout}"
    );
    assert!(r.gates[0].observed.is_some_and(|v| v > 50.0));
    let (code, stdout, r) = run(
        "[[gate]]\nmetric = \"e2e_latency_ms\"\nstat = \"p95\"\nbelow = 500\n\
         [[gate]]\nmetric = \"join_success_pct\"\nabove = 99\n",
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(r.gates.len(), 2);
    assert!(r.gates.iter().all(|g| g.passed));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_aborting_gate_stops_the_run_early_and_exits_4() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("abort");
    let scenario = dir.join("a.toml");
    // A 30 s WebRTC room whose e2e p95 cannot be under 0.5 ms: judged from 2 s in, the run
    // must stop within a few seconds, keep what it measured and name the gate.
    std::fs::write(
        &scenario,
        "name = \"abort\"\nduration = \"30s\"\ntransport = \"webrtc\"\n\
         [video]\nwidth = 320\nheight = 180\nbitrate = \"300kbps\"\n\
         [[group]]\nname = \"g\"\nreceivers = 1\n\
         [[gate]]\nmetric = \"e2e_latency_ms\"\nstat = \"p95\"\nbelow = 0.5\n\
         abort_on_fail = true\nabort_after = \"2s\"\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run_to(&scenario, &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("ABORTED: stopped at"), "{stdout}");
    let r = rtcbench::results::RunResults::read(&out.join("run.json")).unwrap();
    let a = r
        .aborted_by
        .as_ref()
        .expect("the run says which gate stopped it");
    assert_eq!(
        (a.gate.as_str(), a.group.as_str()),
        ("e2e_latency_ms p95 < 0.5", "g")
    );
    assert!(a.observed >= 0.5 && (2.0..6.0).contains(&a.at_s), "{a:?}");
    assert!(!r.completed && r.duration_s < 8.0, "ran {} s", r.duration_s);
    assert!(!r.gates[0].passed);
    assert!(r.groups[0]
        .metric(rtcbench::metrics::Metric::E2eLatencyMs)
        .is_some());
    std::fs::remove_dir_all(&dir).ok();
}
