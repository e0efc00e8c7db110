//! Whole runs over real WebRTC through providers.

use crate::common;

use rtcbench::metrics::Metric;
use rtcbench::results::RunResults;
use std::path::PathBuf;
use std::process::Command;

fn temp_dir(tag: &str) -> PathBuf {
    common::temp_dir(&format!("webrtc-{tag}"))
}

fn rtcbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtcbench"))
        .args(args)
        .output()
        .expect("rtcbench runs")
}

#[test]
fn four_calls_for_ten_seconds_through_the_embedded_provider() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("calls");
    let scenario = dir.join("calls.toml");
    std::fs::write(
        &scenario,
        r#"name = "four-calls"
duration = "10s"
transport = "webrtc"
# A quarter of 640x360's pixels keeps 16 real-time peers on 2 cores clear of saturation in the
# unoptimised build (release handles 640x360: see the README).
[video]
width = 320
height = 180
bitrate = "300kbps"
[[group]]
name = "calls"
kind = "call"
pairs = 4
probes = 2
stagger = "100ms"
"#,
    )
    .expect("write");
    let out = dir.join("out");
    let run = rtcbench(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let g = r.group("calls").expect("group");
    let p = |m: Metric| g.metric(m).map(|x| x.summary).expect("metric");
    eprintln!(
        "4 calls: join {:.0}% (within 5 s {:.0}%), connect p50 {:.0} ms p95 {:.0} ms, e2e p50 {:.1} p95 {:.1} ms, loss {:.2}%, PSNR mean {:.2} dB, freezes {}",
        g.totals.join_success_pct,
        g.totals.join_within_5s_pct,
        p(Metric::ConnectMs).p50,
        p(Metric::ConnectMs).p95,
        p(Metric::E2eLatencyMs).p50,
        p(Metric::E2eLatencyMs).p95,
        g.totals.packet_loss_pct,
        p(Metric::PsnrDb).mean,
        g.totals.freeze_w3c.count
    );
    assert_eq!(g.sessions.len(), 8, "two sides per call");
    assert_eq!(g.totals.join_success_pct, 100.0);
    assert_eq!(g.totals.packet_loss_pct, 0.0);
    assert!(p(Metric::E2eLatencyMs).p95 < 50.0);
    assert!(p(Metric::PsnrDb).mean > 30.0);
    assert_eq!(g.totals.freeze_w3c.count, 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_provider_answering_500_is_recorded_per_session_and_in_the_exit_status() {
    let _heavy = common::heavy_blocking();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .fallback(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "overloaded") });
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        format!("http://{addr}")
    });
    let dir = temp_dir("500");
    let provider = dir.join("broken.toml");
    std::fs::write(
        &provider,
        format!("name = \"broken\"\nkind = \"whip-whep\"\nwhip_url = \"{url}/whip/{{room}}\"\nwhep_url = \"{url}/whep/{{room}}\"\nstep_timeout = \"2s\"\n"),
    )
    .expect("write");
    let scenario = dir.join("room.toml");
    std::fs::write(
        &scenario,
        "name = \"broken-room\"\nduration = \"3s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"room\"\nreceivers = 2\nprobes = 0\n",
    )
    .expect("write");
    let out = dir.join("out");
    let run = rtcbench(&[
        "run",
        scenario.to_str().unwrap(),
        "--provider",
        provider.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "sessions failed: {}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("failed at status: "));
    let r = RunResults::read(&out.join("run.json")).expect("the run is still recorded");
    let g = r.group("room").expect("group");
    assert_eq!(g.totals.join_success_pct, 0.0);
    for s in &g.sessions {
        let f = s.failure.as_ref().expect("failure recorded");
        assert_eq!(f.step, "status");
        assert!(
            f.reason.contains("500") && f.reason.contains("overloaded"),
            "{}",
            f.reason
        );
    }
    assert_eq!(g.publisher_failures.len(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_provider_file_with_a_bad_field_is_named() {
    let dir = temp_dir("badprovider");
    let provider = dir.join("p.toml");
    std::fs::write(&provider, "name = \"x\"\nkind = \"whip-whep\"\nwhip_url = \"http://h/whip/{stream}\"\nwhep_url = \"http://h/whep/{room}\"\n").expect("write");
    let e = rtcbench::provider::load(&provider)
        .expect_err("unknown placeholder")
        .to_string();
    assert!(
        e.contains("p.toml") && e.contains("whip_url") && e.contains("{stream}"),
        "{e}"
    );
    std::fs::write(&provider, "name = \"x\"\nkind = \"sip\"\n").expect("write");
    let e = rtcbench::provider::load(&provider)
        .expect_err("unknown kind")
        .to_string();
    assert!(e.contains("p.toml:2:8") && e.contains("kind"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_shipped_provider_file_validates_and_examples_say_what_they_need() {
    let mut files = Vec::new();
    for dir in ["providers", "providers/examples"] {
        for entry in std::fs::read_dir(dir).expect("providers folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 11, "{files:?}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtcbench"))
        .arg("validate")
        .args(&files)
        .output()
        .expect("rtcbench validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("ok: ").count(), files.len(), "{stdout}");
    for path in files.iter().filter(|p| p.starts_with("providers/examples")) {
        let text = std::fs::read_to_string(path).expect("read");
        // Each example names what it needs and what it leaves out, for a buyer reading it.
        for word in ["Needs:", "Covered:", "Not covered:"] {
            assert!(text.contains(word), "{}: no \"{word}\"", path.display());
        }
    }
}

#[tokio::test]
async fn a_provider_that_cannot_play_back_or_has_one_stream_is_refused_before_the_run() {
    let dir = temp_dir("refused");
    let toml = format!(
        "{}[[group]]\nname = \"call\"\nkind = \"call\"\npairs = 2\n",
        common::small_webrtc("refused", "2s")
    );
    let path = dir.join("scenario.toml");
    std::fs::write(&path, toml).expect("write");
    let scenario = rtcbench::scenario::load(&path).expect("scenario");
    let run = |provider: &str| {
        let options = rtcbench::runner::RunOptions {
            out: Some(dir.join("out")),
            providers: vec![provider.into()],
            ..Default::default()
        };
        let (scenario, provider) = (scenario.clone(), provider.to_string());
        async move {
            let (_tx, stop) = tokio::sync::watch::channel(false);
            match rtcbench::runner::run(&scenario, &options, stop).await {
                Ok(_) => panic!("{provider}: ran"),
                Err(e) => e.to_string(),
            }
        }
    };
    // Nothing sets these variables: the examples stop at the first one they need.
    let e = run("providers/examples/agora-media-gateway-whip.toml").await;
    assert!(
        e.contains("AGORA_STREAM_KEY") && e.contains("not set"),
        "{e}"
    );
    let e = run("providers/examples/cloudflare-stream.toml").await;
    assert!(e.contains("CF_STREAM_WHIP_URL (whip_url)"), "{e}");
    let file = |name: &str, body: &str| {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!("name = \"{name}\"\nkind = \"whip-whep\"\n{body}"),
        )
        .expect("write");
        path.display().to_string()
    };
    let ingest_only = file("ingest-only", "whip_url = \"http://127.0.0.1:9/whip\"\n");
    let e = run(&ingest_only).await;
    assert!(e.contains("\"ingest-only\" has no whep_url"), "{e}");
    let one_stream = file(
        "one-stream",
        "whip_url = \"http://127.0.0.1:9/live/whip\"\nwhep_url = \"http://127.0.0.1:9/live/whep\"\n",
    );
    let e = run(&one_stream).await;
    assert!(e.contains("\"one-stream\"") && e.contains("needs 2"), "{e}");
    // Janus offers to its viewers; the light viewer only offers.
    let light = format!(
        "viewer_client = \"light\"\n{}[[group]]\nname = \"room\"\nreceivers = 2\n",
        common::small_webrtc("refused-light", "2s")
    );
    std::fs::write(&path, light).expect("write");
    let scenario = rtcbench::scenario::load(&path).expect("scenario");
    let janus = dir.join("janus.toml");
    let body = "name = \"janus\"\nkind = \"janus\"\njanus_url = \"http://127.0.0.1:9/janus\"\n";
    std::fs::write(&janus, body).expect("write");
    let options = rtcbench::runner::RunOptions {
        out: Some(dir.join("out")),
        providers: vec![janus],
        ..Default::default()
    };
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let e = match rtcbench::runner::run(&scenario, &options, stop).await {
        Ok(_) => panic!("a light audience ran on Janus"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("\"janus\" offers to its viewers"), "{e}");
    // Every client through TURN: the light viewer has its host candidate only.
    let relayed = dir.join("relayed.toml");
    let body = "name = \"relayed\"\nkind = \"whip-whep\"\nwhip_url = \"http://127.0.0.1:9/whip/{room}\"\nwhep_url = \"http://127.0.0.1:9/whep/{room}\"\nice_transport_policy = \"relay\"\n";
    std::fs::write(&relayed, body).expect("write");
    let options = rtcbench::runner::RunOptions {
        providers: vec![relayed],
        ..options
    };
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let e = match rtcbench::runner::run(&scenario, &options, stop).await {
        Ok(_) => panic!("a light audience ran relayed"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("\"relayed\" relays every client through TURN"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_provider_whose_media_never_answers_fails_each_session_at_connect() {
    let _heavy = common::heavy_blocking();
    // Answers every offer with a real SDP answer from a peer that is never driven: signalling
    // succeeds, ICE never does.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(async {
        rtcbench::client::init_crypto();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().fallback(|offer: String| async move {
            use rtcbench::client::native::{NativePeer, Role};
            use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as R, VideoReceiver};
            let silent: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
            let receiver = Receiver::new(
                "x".into(),
                R::Light,
                0,
                VideoReceiver::new(0, None),
                AudioReceiver::new(None),
            );
            let mut peer = NativePeer::new(
                Role::Subscribe(Box::new(receiver)),
                silent,
                rtcbench::base::WallClock::start(),
                std::time::Instant::now(),
            )
            .expect("peer");
            match peer.accept_offer(&offer) {
                Ok(answer) => (axum::http::StatusCode::CREATED, answer),
                Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()),
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        format!("http://{addr}")
    });
    let dir = temp_dir("ice");
    let provider = dir.join("silent.toml");
    std::fs::write(
        &provider,
        format!("name = \"silent\"\nkind = \"whip-whep\"\nwhip_url = \"{url}/whip/{{room}}\"\nwhep_url = \"{url}/whep/{{room}}\"\nstep_timeout = \"1s\"\n"),
    )
    .expect("write");
    let scenario = dir.join("room.toml");
    std::fs::write(&scenario, "name = \"silent-room\"\nduration = \"4s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"room\"\nreceivers = 2\nprobes = 0\n")
        .expect("write");
    let out = dir.join("out");
    let run = rtcbench(&[
        "run",
        scenario.to_str().unwrap(),
        "--provider",
        provider.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let g = r.group("room").expect("group");
    for s in &g.sessions {
        let f = s.failure.as_ref().expect("failure recorded");
        assert_eq!(f.step, "connect");
        assert!(
            f.reason.contains("did not connect within 1s"),
            "{}",
            f.reason
        );
    }
    assert!(g.publisher_failures.iter().all(|f| f.step == "connect"));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_run_in_turn_one_that_cannot_start_is_recorded_and_the_comparison_rerenders() {
    let _heavy = common::heavy().await;
    let dir = temp_dir("compare");
    let toml = format!(
        "{}[[group]]\nname = \"call\"\nkind = \"call\"\npairs = 1\n",
        common::small_webrtc("compare", "3s")
    );
    let path = dir.join("scenario.toml");
    std::fs::write(&path, toml).expect("write");
    let no_token = dir.join("no-token.toml");
    std::fs::write(
        &no_token,
        "name = \"no-token\"\nkind = \"whip-whep\"\nwhip_url = \"http://127.0.0.1:9/{room}\"\n\
         whep_url = \"http://127.0.0.1:9/{room}\"\ntoken_env = \"RTCBENCH_TEST_UNSET_TOKEN\"\n",
    )
    .expect("write");
    let scenario = rtcbench::scenario::load(&path).expect("scenario");
    let out = dir.join("out");
    let options = rtcbench::runner::RunOptions {
        seed: Some(3),
        out: Some(out.clone()),
        providers: vec![
            "providers/embedded.toml".into(),
            no_token.clone(),
            "providers/embedded.toml".into(),
        ],
        ..Default::default()
    };
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let c = rtcbench::runner::providers::run_each(&scenario, &options, stop)
        .await
        .expect("comparison");
    let labels: Vec<&str> = c
        .runs
        .iter()
        .map(|a| a.dir.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(labels, ["embedded", "embedded-2"]);
    assert_eq!(c.missing.len(), 1);
    assert_eq!(c.missing[0].label, "no-token");
    assert!(c.missing[0].reason.contains("RTCBENCH_TEST_UNSET_TOKEN"));
    for a in &c.runs {
        assert_eq!(a.results.seed, 3);
        assert_eq!(a.results.failed_sessions(), 0);
    }
    let html = std::fs::read_to_string(out.join("comparison.html")).expect("html");
    assert!(
        html.contains("embedded-2") && html.contains("did not run: provider &quot;no-token&quot;")
    );
    std::fs::remove_file(out.join("comparison.html")).expect("remove");
    std::fs::remove_file(out.join("embedded/report.html")).expect("remove");
    let written =
        rtcbench::runner::rerender(&out, &[rtcbench::report::Format::Html]).expect("rerender");
    assert!(
        written.contains(&out.join("comparison.html")),
        "{written:?}"
    );
    assert!(out.join("embedded/report.html").is_file());
    let again = std::fs::read_to_string(out.join("comparison.html")).expect("html");
    assert!(again.contains("embedded-2") && again.contains("no-token"));
    std::fs::remove_dir_all(&dir).ok();
}
