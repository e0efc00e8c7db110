//! Medooze (medooze-media-server from npm, behind the WHIP/WHEP front in scripts/medooze/front.js):
//! the third independently written SFU. The faults it showed in rtcbench, each against it: its
//! default RSA-2048 DTLS certificate, WHEP refused (404) until the room is published, no audio
//! forwarded, and audio time it rewrites per subscriber; then embedded, Janus and Medooze in
//! one comparison. Without `scripts/medooze-local.sh install` the tests say so and pass, unless
//! RTCBENCH_REQUIRE_MEDOOZE is set (CI sets it).

use crate::common;

use rtcbench::metrics::Metric;
use rtcbench::results::RunResults;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const ADDON: &str =
    "scripts/medooze/node_modules/medooze-media-server/build/Release/medooze-media-server.node";

/// A front of our own on a port of its own, stopped when dropped.
struct Front {
    _child: tokio::process::Child,
    base: String,
}

fn medooze_is_installed() -> bool {
    if Path::new(ADDON).is_file() {
        return true;
    }
    let why = format!("no Medooze at {ADDON}: run scripts/medooze-local.sh install");
    assert!(
        std::env::var_os("RTCBENCH_REQUIRE_MEDOOZE").is_none(),
        "{why}"
    );
    eprintln!("skipped: {why}");
    false
}

/// Starts a front with `env` (its test switches); none when Medooze is not installed.
async fn front(env: &[(&str, &str)]) -> Option<Front> {
    if !medooze_is_installed() {
        return None;
    }
    let mut child = tokio::process::Command::new("node")
        .arg("scripts/medooze/front.js")
        .env("MEDOOZE_PORT", "0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().expect("the front's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the front starts within 20 s")
        .expect("its stdout reads")
        .expect("a first line");
    // "medooze front: WHIP http://127.0.0.1:PORT/whip/{room} ..."
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .and_then(|url| url.strip_suffix("/whip/{room}"))
        .unwrap_or_else(|| panic!("the front's first line: {first}"))
        .to_string();
    Some(Front {
        _child: child,
        base,
    })
}

async fn run_through(front: &Front, tag: &str, tail: &str, seed: u64) -> (RunResults, PathBuf) {
    common::run_whip_whep(tag, &front.base, "step_timeout = \"10s\"\n", tail, seed).await
}

/// No failed viewer or publisher in the room of `r` (`label` names the run in the message).
fn assert_no_failures(r: &RunResults, label: &str) {
    let g = r.group("room").expect("the room");
    let viewers = g.sessions.iter().filter_map(|s| s.failure.as_ref());
    let viewers = viewers.map(|f| format!("{}: {}", f.step, f.reason));
    let publishers = g.publisher_failures.iter().map(|f| format!("{f:?}"));
    let failures: Vec<String> = viewers.chain(publishers).collect();
    assert!(failures.is_empty(), "{label}: {failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_through_medooze_joins_with_its_rsa_certificate_and_its_404_before_publication() {
    let _heavy = common::heavy().await;
    let Some(medooze) = front(&[]).await else {
        return;
    };
    // Every viewer planned at the publisher's instant (0 s): the front answers 404 to a WHEP
    // that reaches it first. Medooze's DTLS certificate is RSA-2048: str0m's own DTLS failed
    // every session here with "received fatal alert: description=40".
    let tail = "[[group]]\nname = \"room\"\nreceivers = 3\nprobes = 1\n";
    let (r, dir) = run_through(&medooze, "medooze-room", tail, 51).await;
    let g = r.group("room").expect("the room");
    assert_no_failures(&r, "medooze");
    assert_eq!(g.totals.join_success_pct, 100.0);
    for s in &g.sessions {
        assert_eq!(s.planned_join_s, Some(0.0), "{}", s.id);
        // Counted from the publication: Medooze forwards from a key frame, which it asks the
        // publisher for at most every 500 ms; not the 10 s step timeout.
        let connect = s.connect_ms.expect("connect time");
        assert!(connect < 3_000.0, "{}: connect {connect} ms", s.id);
    }
    let e2e = g.metric(Metric::E2eLatencyMs).expect("e2e latency").summary;
    let psnr = g.metric(Metric::PsnrDb).expect("PSNR").summary;
    eprintln!(
        "medooze: e2e p50 {:.1} ms, PSNR {:.1} dB, first frame p90 {:?} ms",
        e2e.p50,
        psnr.mean,
        g.metric(Metric::FirstFrameMs).map(|m| m.summary.p90)
    );
    assert!(e2e.count > 100 && e2e.p50 < 100.0, "{e2e:?}");
    assert!(psnr.mean > 30.0, "{psnr:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medooze_forwarding_no_audio_fails_the_sessions_on_a_silent_track() {
    let _heavy = common::heavy().await;
    let Some(medooze) = front(&[("MEDOOZE_NO_AUDIO", "1")]).await else {
        return;
    };
    let tail = "[[group]]\nname = \"room\"\nreceivers = 2\n";
    let (r, dir) = run_through(&medooze, "medooze-no-audio", tail, 52).await;
    let g = r.group("room").expect("the room");
    for s in &g.sessions {
        assert_eq!(
            s.silent_tracks,
            vec!["audio".to_string()],
            "{}: {:?}",
            s.id,
            s.failure
        );
        assert!(!s.joined, "{} joined with a silent track", s.id);
        assert!(s.frames_rendered > 100, "{}: video played on", s.id);
    }
    assert_eq!(g.totals.silent_track_sessions, 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_latency_through_medooze_is_the_path_or_not_measured_never_the_join_delay() {
    let _heavy = common::heavy().await;
    let Some(medooze) = front(&[]).await else {
        return;
    };
    // Medooze restarts each subscriber's RTP time when it attaches; mapped with the
    // publisher's clock this read 704 / 1,425 ms at a 700 ms stagger, each viewer's join delay.
    let tail = "[[group]]\nname = \"room\"\nreceivers = 3\nstagger = \"700ms\"\n";
    let (r, dir) = run_through(&medooze, "medooze-audio-time", tail, 53).await;
    let g = r.group("room").expect("the room");
    assert_no_failures(&r, "medooze");
    let latencies: Vec<Option<f64>> = g.sessions.iter().map(|s| s.audio_latency_p50_ms).collect();
    eprintln!("medooze: audio latency p50 per viewer {latencies:?} ms");
    for (s, latency) in g.sessions.iter().zip(&latencies) {
        if let Some(ms) = latency {
            assert!(
                *ms < 100.0,
                "{}: audio latency {ms} ms is the join delay",
                s.id
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Whether `url` answers with a body containing `mark` (this network answers any address
/// it does not route with an empty 404, so "answers at all" proves nothing).
async fn answers(url: &str, mark: &str) -> bool {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    match http.get(url).send().await {
        Ok(reply) => reply.text().await.is_ok_and(|body| body.contains(mark)),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_janus_and_medooze_compare_in_one_report() {
    let _heavy = common::heavy().await;
    if !medooze_is_installed() {
        return;
    }
    // The servers scripts/janus-local.sh and scripts/medooze-local.sh start (CI starts both).
    let up = [
        (
            "Janus",
            "http://10.99.0.2:8088/janus/info",
            "server_info",
            "scripts/janus-local.sh up",
        ),
        (
            "Medooze",
            "http://127.0.0.1:8089/",
            "medooze front",
            "scripts/medooze-local.sh up",
        ),
    ];
    for (name, url, mark, how) in up {
        if !answers(url, mark).await {
            let why = format!("no {name} at {url}: run {how}");
            assert!(
                std::env::var_os("RTCBENCH_REQUIRE_MEDOOZE").is_none(),
                "{why}"
            );
            eprintln!("skipped: {why}");
            return;
        }
    }
    let dir = common::temp_dir("three-sfus");
    let toml = format!(
        "{}[[group]]\nname = \"room\"\nreceivers = 3\nprobes = 1\n",
        common::small_webrtc("three-sfus", "12s")
    );
    let names = ["embedded", "janus-local", "medooze-local"];
    let providers = names
        .iter()
        .map(|n| PathBuf::from(format!("providers/{n}.toml")));
    let scenario = common::scenario_file(&dir, &toml);
    let options = common::run_options(&dir, 54, providers.collect());
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let c = rtcbench::runner::providers::run_each(&scenario, &options, stop)
        .await
        .expect("the comparison");
    assert!(
        c.missing.is_empty(),
        "{:?}",
        c.missing.iter().map(|m| &m.reason).collect::<Vec<_>>()
    );
    for (run, name) in c.runs.iter().zip(names) {
        let r = &run.results;
        assert_eq!(r.provider.as_deref(), Some(name));
        let g = r.group("room").expect("the room");
        let stat = |m: Metric| g.metric(m).map(|m| m.summary);
        eprintln!(
            "{name}: joins {:.0} %, e2e p50/p95 {:?}/{:?} ms, first frame p50/p90 {:?}/{:?} ms, PSNR {:?} dB",
            g.totals.join_success_pct,
            stat(Metric::E2eLatencyMs).map(|s| s.p50),
            stat(Metric::E2eLatencyMs).map(|s| s.p95),
            stat(Metric::FirstFrameMs).map(|s| s.p50),
            stat(Metric::FirstFrameMs).map(|s| s.p90),
            stat(Metric::PsnrDb).map(|s| s.mean),
        );
        assert_no_failures(r, name);
        assert!(stat(Metric::E2eLatencyMs).is_some_and(|s| s.count > 100 && s.p50 < 100.0));
        assert!(
            stat(Metric::PsnrDb).is_some_and(|s| s.mean > 30.0),
            "{name}"
        );
    }
    let html = std::fs::read_to_string(c.dir.join("comparison.html")).expect("comparison.html");
    for needle in ["Providers side by side", "Ranking", "Head to head"]
        .iter()
        .chain(&names)
    {
        assert!(html.contains(needle), "comparison.html lacks {needle}");
    }
    let md = std::fs::read_to_string(c.dir.join("comparison.md")).expect("comparison.md");
    eprintln!("{md}");
    std::fs::remove_dir_all(&dir).ok();
}
