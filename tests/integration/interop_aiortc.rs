//! Interop with an independent WebRTC stack (aiortc, from PyPI, in a virtual environment):
//! our WHIP/WHEP client publishes to and plays from an aiortc endpoint, and an aiortc publisher
//! is played through our embedded provider by our native client.
//!
//! The environment is made on first use (`python3 -m venv` + `pip install`, as `.ci/run` does);
//! set RTCBENCH_AIORTC_PYTHON to use another interpreter that has aiortc. Without Python the
//! tests print why and pass; with Python, a setup that fails is a test failure.

use crate::common;

use common::Running;
use rtcbench::metrics::Metric;
use rtcbench::results::RunResults;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// The interpreter with aiortc, or `None` (with the reason printed) when there is no Python.
fn aiortc_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON.get_or_init(setup_python).clone()
}

fn has_aiortc(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import aiortc, aiohttp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn setup_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RTCBENCH_AIORTC_PYTHON") {
        let p = PathBuf::from(p);
        assert!(has_aiortc(&p), "{} cannot import aiortc", p.display());
        return Some(p);
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: no python3 on PATH, so no aiortc to test interop against");
        return None;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aiortc-venv");
    let python = venv.join("bin/python");
    if has_aiortc(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 runs");
    assert!(
        made.status.success(),
        "python3 -m venv failed (on Debian: apt-get install python3-venv): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "-r"])
        .arg(Path::new(INTEROP_DIR).join("requirements.txt"))
        .output()
        .expect("pip runs");
    assert!(
        pip.status.success(),
        "pip install aiortc failed: {}",
        String::from_utf8_lossy(&pip.stderr)
    );
    assert!(has_aiortc(&python), "aiortc installed but not importable");
    Some(python)
}

/// Starts `command` and waits for its first line of output (its address, or a ready word).
fn start(mut command: Command, what: &str) -> (Running, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} said nothing within 60 s"));
    assert!(!line.is_empty(), "{what} exited before it was ready");
    (running, line.trim().to_string())
}

fn rtcbench(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_rtcbench"))
        .args(args)
        .output()
        .expect("rtcbench runs");
    assert!(
        out.status.success(),
        "rtcbench {args:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_provider(dir: &Path, base: &str) -> PathBuf {
    common::whip_whep_provider(dir, "under-test", base, "")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn our_client_publishes_to_and_plays_from_an_aiortc_endpoint() {
    let _heavy = common::heavy_blocking();
    let Some(python) = aiortc_python() else {
        return;
    };
    let mut endpoint = Command::new(&python);
    endpoint.arg(Path::new(INTEROP_DIR).join("aiortc_endpoint.py"));
    let (_endpoint, base) = start(endpoint, "the aiortc endpoint");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let dir = common::temp_dir("aiortc-publish");
    let provider = write_provider(&dir, &base);
    let scenario = dir.join("room.toml");
    std::fs::write(
        &scenario,
        r#"name = "to-aiortc"
duration = "6s"
transport = "webrtc"
[video]
width = 320
height = 180
bitrate = "300kbps"
[[group]]
name = "room"
room = "interop"
receivers = 2
probes = 1
"#,
    )
    .expect("write scenario");
    let out = dir.join("out");
    rtcbench(&[
        "run",
        path_str(&scenario),
        "--provider",
        path_str(&provider),
        "--out",
        path_str(&out),
    ]);
    let decoded = http_get_json(&format!("{base}/stats"));
    let aiortc_video_frames = decoded["interop"]["video"].as_u64().unwrap_or(0);
    let aiortc_audio_frames = decoded["interop"]["audio"].as_u64().unwrap_or(0);

    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let g = r.group("room").expect("group");
    let probe = &g.sessions[0];
    eprintln!(
        "rtcbench -> aiortc -> rtcbench: we sent {} frames, aiortc decoded {aiortc_video_frames} \
         video and {aiortc_audio_frames} audio frames; probe fps {:.1}, e2e p50 {:?} p95 {:?} ms, \
         PSNR {:?} dB, marker read {:?}%, audio latency {:?}",
        g.sender.frames_sent,
        probe.fps,
        probe.e2e_latency_p50_ms,
        probe.e2e_latency_p95_ms,
        probe.psnr_db,
        probe.marker_read_pct,
        probe.audio_latency_p50_ms,
    );
    assert_eq!(g.totals.join_success_pct, 100.0, "{:?}", g.sessions);
    assert_eq!(g.totals.packet_loss_pct, 0.0);
    // aiortc, not us, decoded our stream: the publishing half interoperates.
    assert!(aiortc_video_frames * 10 >= g.sender.frames_sent * 8);
    assert!(aiortc_audio_frames > 100);
    // What aiortc encoded again is what we play: the pixel marker and the picture survive.
    assert!(probe.marker_read_pct.is_some_and(|p| p >= 95.0));
    assert!(probe.psnr_db.is_some_and(|db| db > 30.0));
    assert!(probe.fps > 20.0);
    // Decode and encode again in Python add latency, but the marker still measures it.
    assert!(probe.e2e_latency_p95_ms.is_some_and(|ms| ms < 250.0));
    // aiortc restarts RTP time for its own audio: no made-up audio latency.
    assert_eq!(probe.audio_latency_p50_ms, None);
    assert!(g.metric(Metric::E2eLatencyMs).is_some());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_aiortc_publisher_is_played_through_the_embedded_provider() {
    let _heavy = common::heavy_blocking();
    let Some(python) = aiortc_python() else {
        return;
    };
    let mut server = Command::new(env!("CARGO_BIN_EXE_rtcbench"));
    server.args(["serve-reference", "--listen", "127.0.0.1:0"]);
    let (_server, banner) = start(server, "rtcbench serve-reference");
    let whip = banner
        .split_whitespace()
        .nth(3)
        .expect("WHIP URL in the banner")
        .to_string();
    let base = whip.trim_end_matches("/whip/{room}").to_string();

    let dir = common::temp_dir("aiortc-play");
    let provider = write_provider(&dir, &base);
    let scenario = dir.join("viewers.toml");
    std::fs::write(
        &scenario,
        r#"name = "from-aiortc"
duration = "5s"
transport = "webrtc"
[video]
width = 320
height = 180
[[group]]
name = "viewers"
publisher = "external"
room = "aiortc-live"
receivers = 3
probes = 1
"#,
    )
    .expect("write scenario");
    let clip = dir.join("clip.y4m");
    rtcbench(&[
        "export-clip",
        path_str(&scenario),
        "--group",
        "viewers",
        "--out",
        path_str(&clip),
        "--length",
        "10s",
    ]);
    let mut publisher = Command::new(&python);
    publisher
        .arg(Path::new(INTEROP_DIR).join("aiortc_publish.py"))
        .args(["--whip", &whip.replace("{room}", "aiortc-live")])
        .args(["--clip", path_str(&clip), "--seconds", "9"]);
    let (_publisher, said) = start(publisher, "the aiortc publisher");
    assert_eq!(said, "publishing");

    let out = dir.join("out");
    rtcbench(&[
        "run",
        path_str(&scenario),
        "--provider",
        path_str(&provider),
        "--out",
        path_str(&out),
    ]);
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let g = r.group("viewers").expect("group");
    let probe = &g.sessions[0];
    eprintln!(
        "aiortc -> embedded SFU -> rtcbench: join {}%, loss {}%, probe fps {:.1}, connect {:?} ms, \
         PSNR {:?} dB, marker read {:?}%, freezes {}",
        g.totals.join_success_pct,
        g.totals.packet_loss_pct,
        probe.fps,
        probe.connect_ms,
        probe.psnr_db,
        probe.marker_read_pct,
        g.totals.freeze_w3c.count
    );
    assert_eq!(g.sessions.len(), 3);
    assert_eq!(g.totals.join_success_pct, 100.0, "{:?}", g.sessions);
    assert_eq!(g.totals.packet_loss_pct, 0.0);
    for s in &g.sessions {
        assert!(s.fps > 20.0, "{} at {:.1} fps", s.id, s.fps);
    }
    // Frame numbers in aiortc's picture name the clip frames, so the probe scores the picture.
    assert!(probe.marker_read_pct.is_some_and(|p| p >= 95.0));
    assert!(probe.psnr_db.is_some_and(|db| db > 30.0));
    // aiortc sends no capture time, and the clip cannot carry one: latency is not reported.
    assert!(g.metric(Metric::E2eLatencyMs).is_none());
    std::fs::remove_dir_all(&dir).ok();
}

fn http_get_json(url: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let body = reqwest::get(url)
            .await
            .expect("GET stats")
            .text()
            .await
            .expect("stats body");
        serde_json::from_str(&body).expect("stats JSON")
    })
}
