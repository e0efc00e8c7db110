//! RTMP publishing: rtcbench's host pushes RTMP to the embedded edge and is watched over WebRTC,
//! HTTP-FLV and HLS at once; and a push whose connection is cut comes back as an encoder's does.

use crate::common;
use rtcbench::record::ReceiverSummary;
use rtcbench::results::RunResults;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

const SCENARIO_HEAD: &str = r#"name = "rtmp"
duration = "14s"
transport = "webrtc"
[video]
width = 320
height = 180
fps = 25
bitrate = "400kbps"
keyframe_interval = "1s"
"#;

fn joined_with_latency(s: &ReceiverSummary) -> f64 {
    assert!(s.joined, "{}: {:?} {:?}", s.id, s.failure, s.cdn);
    match &s.cdn {
        Some(cdn) => cdn.live_latency_p50_ms.expect("live latency"),
        None => s
            .e2e_latency_p50_ms
            .expect("e2e latency from the SEI marker"),
    }
}

#[test]
fn an_rtmp_host_is_watched_over_webrtc_http_flv_and_hls_at_once() {
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("rtmp-run");
    let scenario = dir.join("rtmp.toml");
    let groups = r#"
[[group]]
name = "room"
publisher = "rtmp"
receivers = 8
stagger = "200ms"
audience = [
  { protocol = "http-flv", share = "25%" },
  { protocol = "hls", share = "25%" },
]
"#;
    std::fs::write(&scenario, format!("{SCENARIO_HEAD}{groups}")).unwrap();
    let out = dir.join("out");
    let run = common::run_to(&scenario, &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    for (group, range_ms) in [
        ("room", 0.0..1_500.0),
        ("room~http-flv", 0.0..2_500.0),
        // A viewer who joins with one or two segments out starts nearer the live edge.
        ("room~hls", 800.0..6_000.0),
    ] {
        let g = r.group(group).unwrap_or_else(|| panic!("group {group}"));
        assert!(!g.sessions.is_empty(), "{group} has viewers");
        for s in &g.sessions {
            let latency = joined_with_latency(s);
            eprintln!("{group} {}: latency p50 {latency:.0} ms", s.id);
            assert!(range_ms.contains(&latency), "{group} {}: {latency}", s.id);
            // Video only: a WebRTC viewer of an RTMP host expects no audio track.
            assert!(
                s.silent_tracks.is_empty(),
                "{}: {:?}",
                s.id,
                s.silent_tracks
            );
        }
    }
    let room = r.group("room").unwrap();
    assert_eq!(room.publisher_reconnects.drops, 0);
    assert!(room.sessions.iter().all(|s| s.frames_rendered > 150));
}

/// A TCP relay to `upstream` that cuts its first connection `cut_after` in; the rest pass.
async fn cutting_relay(upstream: String, cut_after: Duration) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let cut = first.then_some(cut_after);
            first = false;
            tokio::spawn(async move {
                let relay = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                match cut {
                    Some(after) => {
                        let _ = tokio::time::timeout(after, relay).await;
                    }
                    None => {
                        let _ = relay.await;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_cut_rtmp_push_reconnects_and_its_viewers_play_on() {
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("rtmp-cut");
    let mut child = common::bin()
        .args(["serve-reference", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve-reference starts");
    let stdout = child.stdout.take().expect("stdout");
    let _server = common::Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let whip = lines.next().expect("banner").expect("banner");
    let edge = lines.next().expect("edge banner").expect("edge banner");
    let word = |line: &str, n: usize| {
        line.split_whitespace()
            .nth(n)
            .expect("a URL in the banner")
            .trim_end_matches(',')
            .to_string()
    };
    let (whip_url, rtmp_url, flv_url) = (word(&whip, 3), word(&edge, 4), word(&edge, 6));
    let ingest = rtmp_url
        .trim_start_matches("rtmp://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = runtime.block_on(cutting_relay(ingest, Duration::from_secs(6)));
    let provider = dir.join("cut.toml");
    std::fs::write(
        &provider,
        format!(
            "name = \"cut\"\nkind = \"whip-whep\"\nwhip_url = \"{whip_url}\"\n\
             whep_url = \"{}\"\nhttp_flv_url = \"{flv_url}\"\n\
             rtmp_push_url = \"rtmp://{relay}/live/{{room}}\"\n",
            whip_url.replace("/whip/", "/whep/")
        ),
    )
    .unwrap();
    let scenario = dir.join("cut-run.toml");
    let groups = r#"
[reconnect]
backoff = "300ms"
[[group]]
name = "room"
publisher = "rtmp"
receivers = 3
audience = [{ protocol = "http-flv", share = "100%" }]
"#;
    std::fs::write(&scenario, format!("{SCENARIO_HEAD}{groups}")).unwrap();
    let out = dir.join("out");
    let started = Instant::now();
    let run = common::bin()
        .args(["run", scenario.to_str().unwrap(), "--provider"])
        .arg(&provider)
        .args(["--out", out.to_str().unwrap()])
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let host = r.group("room").expect("the host's group");
    assert_eq!(
        host.publisher_reconnects.drops, 1,
        "{:?}",
        host.publisher_reconnects
    );
    assert_eq!(host.publisher_reconnects.rejoins, 1);
    let viewers = r.group("room~http-flv").expect("the FLV audience");
    for s in &viewers.sessions {
        let cdn = s.cdn.as_ref().expect("a cdn block");
        eprintln!(
            "{}: stalls {} ({:.0} ms), latency p50 {:?} ms, errors {:?}",
            s.id, cdn.stalls, cdn.stall_ms, cdn.live_latency_p50_ms, cdn.errors
        );
        assert!(s.joined);
        assert!(cdn.stalls >= 1, "{}: the cut shows as a stall", s.id);
        // The cut costs the reconnect's backoff and a new GOP, not the rest of the run.
        assert!(cdn.stall_ms < 4_000.0, "{}: {}", s.id, cdn.stall_ms);
        assert!(cdn.watched_s > 8.0, "{}: watched {}", s.id, cdn.watched_s);
    }
}

/// An independent RTMP client (ffmpeg with libx264) pushes to the embedded edge, and the
/// players play it; its stream carries no SEI marker, so live latency is not measured rather
/// than guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushes_rtmp_to_the_embedded_edge_and_latency_without_a_marker_is_not_measured() {
    use rtcbench::base::WallClock;
    use rtcbench::client::live_http::{run_flv, run_hls, Ticks};
    use rtcbench::media::live::player::flv::{FlvConfig, FlvPlayer};
    use rtcbench::media::live::player::hls::{HlsConfig, HlsPlayer};
    use rtcbench::media::live::player::LiveStats;
    if !common::tool_or_required("ffmpeg", "RTCBENCH_REQUIRE_FFMPEG") {
        return;
    }
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = rtcbench::sfu::server::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("sfu");
    let ffmpeg = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi"])
        .args(["-i", "testsrc2=size=320x180:rate=25", "-t", "14"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", "25", "-pix_fmt", "yuv420p", "-f", "flv"])
        .arg(sfu.rtmp_url("ff"))
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg starts");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let clock = WallClock::start();
    let (tap, http) = (clock.now(), reqwest::Client::new());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let span = || (tap + 7_000_000, stop.clone());
    let ticks = || Ticks::new(|_: &mut LiveStats, _| {});
    let flv = FlvPlayer::new(&sfu.flv_url("ff"), FlvConfig::default(), tap);
    let hls = HlsPlayer::new(&sfu.hls_url("ff"), HlsConfig::default(), tap);
    let flv = tokio::spawn(run_flv(flv, http.clone(), clock, span(), ticks()));
    let hls = tokio::spawn(run_hls(hls, http, clock, span(), ticks()));
    let (flv, hls) = (flv.await.unwrap().stats, hls.await.unwrap().stats);
    drop(ffmpeg);
    for (name, s) in [("HTTP-FLV", &flv), ("HLS", &hls)] {
        eprintln!(
            "{name}: startup {:?} us, frames {}, stalls {}, errors {:?}",
            s.startup_us(),
            s.playback.rendered_frames,
            s.playback.stalls,
            s.errors
        );
        assert!(s.startup_us().is_some(), "{name} started");
        assert!(s.playback.rendered_frames > 100, "{name}");
        assert_eq!(s.http_errors, 0, "{name}");
        assert!(s.latency_us.is_empty(), "{name}: no marker, no latency");
    }
}
