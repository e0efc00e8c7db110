//! Whole runs over real WebRTC through providers.

mod common;

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
    std::fs::write(&provider, "name = \"x\"\nkind = \"whip-whep\"\nwhip_url = \"http://h/whip\"\nwhep_url = \"http://h/whep/{room}\"\n").expect("write");
    let e = rtcbench::provider::load(&provider)
        .expect_err("no {room}")
        .to_string();
    assert!(
        e.contains("p.toml") && e.contains("whip_url") && e.contains("{room}"),
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
fn every_shipped_provider_file_validates() {
    for entry in std::fs::read_dir("providers").expect("providers folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            rtcbench::provider::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn a_provider_whose_media_never_answers_fails_each_session_at_connect() {
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
                AudioReceiver::new(None, None),
            );
            let mut peer = NativePeer::new(
                Role::Subscribe(Box::new(receiver)),
                silent,
                rtcbench::engine::WallClock::start(),
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
