//! The embedded provider's CDN edge: a WHIP publisher on 127.0.0.1, watched at once by HLS,
//! LL-HLS and HTTP-FLV players running over real HTTP, and its segments checked by ffprobe.

use crate::common;

use rtcbench::base::WallClock;
use rtcbench::client::live_http::{run_flv, run_hls, Ticks};
use rtcbench::media::live::player::flv::{FlvConfig, FlvPlayer};
use rtcbench::media::live::player::hls::{HlsConfig, HlsPlayer};
use rtcbench::media::live::player::LiveStats;
use rtcbench::sfu::server;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn describe(name: &str, s: &LiveStats) -> String {
    let ms = |us: Option<u64>| {
        us.map(|u| format!("{:.0}", u as f64 / 1000.0))
            .unwrap_or("-".into())
    };
    format!(
        "{name}: startup {} ms, first frame {} ms, stalls {} ({} ms), latency p50 {:.0} ms (min {:.0}, max {:.0}), frames {}, errors {:?}",
        ms(s.startup_us()),
        ms(s.first_frame_us()),
        s.playback.stalls,
        s.playback.stall_time_us / 1000,
        s.latency_us.value_at_quantile(0.5) as f64 / 1000.0,
        s.latency_us.min() as f64 / 1000.0,
        s.latency_us.max() as f64 / 1000.0,
        s.playback.rendered_frames,
        s.errors
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ll_hls_and_http_flv_viewers_watch_a_whip_publisher_through_the_embedded_edge() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let http = reqwest::Client::new();
    let clock = WallClock::start();
    let config = common::live_source(5, 500_000);
    let until_publishing = Instant::now() + Duration::from_secs(16);
    let publishing = common::whip_publisher(&sfu, "sale", config, clock, until_publishing).await;
    let (_stop_tx, stop) = watch::channel(false);
    // Four segments in the window before anyone taps play.
    tokio::time::sleep(Duration::from_millis(4_500)).await;

    let tap = clock.now();
    let until = tap + 10_000_000;
    let hls = HlsPlayer::new(&sfu.hls_url("sale"), HlsConfig::default(), tap);
    let ll = HlsPlayer::new(
        &sfu.ll_hls_url("sale"),
        HlsConfig {
            low_latency: true,
            ..HlsConfig::default()
        },
        tap,
    );
    let flv = FlvPlayer::new(&sfu.flv_url("sale"), FlvConfig::default(), tap);
    let span = || (until, stop.clone());
    let ticks = || Ticks::new(|_: &mut LiveStats, _| {});
    let hls = tokio::spawn(run_hls(hls, http.clone(), clock, span(), ticks()));
    let ll = tokio::spawn(run_hls(ll, http.clone(), clock, span(), ticks()));
    let flv = tokio::spawn(run_flv(flv, http.clone(), clock, span(), ticks()));
    let (hls, ll, flv) = (hls.await.unwrap(), ll.await.unwrap(), flv.await.unwrap());

    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    let playlist = get(sfu.hls_url("sale")).await;
    let last = String::from_utf8_lossy(&playlist)
        .lines()
        .rfind(|l| l.ends_with(".ts"))
        .expect("a segment listed")
        .to_string();
    let segment = get(sfu.hls_url("sale").replace("index.m3u8", &last)).await;
    let _ = publishing.await;

    for (name, stats) in [
        ("HLS", &hls.stats),
        ("LL-HLS", &ll.stats),
        ("HTTP-FLV", &flv.stats),
    ] {
        eprintln!("{}", describe(name, stats));
        assert!(stats.startup_us().expect("started") < 2_000_000, "{name}");
        assert_eq!(stats.playback.stalls, 0, "{name}");
        assert_eq!(stats.http_errors, 0, "{name}");
        assert!(stats.playback.rendered_frames > 150, "{name}");
        assert!(
            stats.latency_us.len() > 150,
            "{name}: latency from the SEI marker"
        );
    }
    let p50 = |s: &LiveStats| s.latency_us.value_at_quantile(0.5);
    // HLS starts three 1 s segments back; LL-HLS at the latest key frame; FLV at the GOP cache.
    assert!(
        (2_500_000..5_000_000).contains(&p50(&hls.stats)),
        "HLS {}",
        p50(&hls.stats)
    );
    assert!(p50(&ll.stats) < p50(&hls.stats));
    assert!(p50(&flv.stats) < 2_000_000);
    assert!(ll.stats.part_us.len() > 30, "LL-HLS fetched parts");
    ffprobe_counts_frames(&segment, 25);
}

/// ffprobe, an independent demuxer and decoder, reads the segment as 25 frames of H.264.
fn ffprobe_counts_frames(segment: &[u8], frames: u64) {
    if !common::tool_or_required("ffprobe", "RTCBENCH_REQUIRE_FFMPEG") {
        return;
    }
    let dir = common::temp_dir("cdn-edge");
    let path = dir.join("segment.ts");
    std::fs::write(&path, segment).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "ffprobe: {} {}",
        text.trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    // It lists the stream under the program and again on its own: the same line twice.
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "ffprobe read nothing");
    assert!(
        lines.iter().all(|l| *l == format!("h264,{frames}")),
        "{text}"
    );
}

/// `rtcbench run` with a room whose audience is split over WHEP, HTTP-FLV, HLS and LL-HLS: each
/// protocol is its own group, every CDN viewer plays with its startup and live latency measured,
/// and the report has the CDN audience table.
#[test]
fn a_run_reports_each_cdn_protocol_as_its_own_group_with_its_playback() {
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("cdn-run");
    let scenario = dir.join("cdn.toml");
    std::fs::write(
        &scenario,
        r#"name = "cdn"
duration = "14s"
transport = "webrtc"
[video]
width = 320
height = 180
fps = 25
bitrate = "300kbps"
keyframe_interval = "1s"
[[group]]
name = "room"
receivers = 12
stagger = "250ms"
start = "0s"
audience = [
  { protocol = "http-flv", share = "30%" },
  { protocol = "hls", share = "30%" },
  { protocol = "ll-hls", share = "30%" },
]
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let run = common::run_to(&scenario, &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r = rtcbench::results::RunResults::read(&out.join("run.json")).expect("run.json");
    let median_latency = |group: &str| {
        let g = r.group(group).unwrap_or_else(|| panic!("group {group}"));
        assert!(!g.sessions.is_empty(), "{group} has viewers");
        let mut latencies = Vec::new();
        for s in &g.sessions {
            let cdn = s.cdn.as_ref().expect("a cdn block");
            assert!(s.joined, "{}: {:?}", s.id, cdn.errors);
            assert!(cdn.startup_ms.is_some(), "{}", s.id);
            assert_eq!(cdn.http_errors, 0, "{}: {:?}", s.id, cdn.errors);
            latencies.push(cdn.live_latency_p50_ms.expect("live latency"));
        }
        latencies.sort_by(f64::total_cmp);
        latencies[latencies.len() / 2]
    };
    let (flv, hls, ll) = (
        median_latency("room~http-flv"),
        median_latency("room~hls"),
        median_latency("room~ll-hls"),
    );
    eprintln!("live latency medians: HTTP-FLV {flv:.0} ms, LL-HLS {ll:.0} ms, HLS {hls:.0} ms");
    assert!(flv < ll && ll < hls, "FLV {flv} < LL-HLS {ll} < HLS {hls}");
    assert!(r
        .group("room")
        .unwrap()
        .sessions
        .iter()
        .all(|s| s.cdn.is_none()));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## CDN audience"));
}

/// Probes decode what the CDN serves and score it against the source. Repackaging is
/// lossless, so HTTP-FLV and HLS carry the same encoded pictures: the same PSNR within 0.5 dB,
/// the encoder's own (above 30 dB at 400 kbps for 320x180), every pixel marker read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_probes_score_the_same_pictures_on_http_flv_and_hls() {
    use rtcbench::media::receiver::{AudioReceiver, QualityProbe, Receiver, Role, VideoReceiver};
    use rtcbench::media::source::VideoSource;
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let clock = WallClock::start();
    let config = common::live_source(9, 400_000);
    let until_publishing = Instant::now() + Duration::from_secs(12);
    let reference = || VideoSource::new(config.seed, config.width, config.height);
    let _publishing =
        common::whip_publisher(&sfu, "probe", config.clone(), clock, until_publishing).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_stop_tx, stop) = watch::channel(false);
    let tap = clock.now();
    let span = || (tap + 6_000_000, stop.clone());
    let ticks = || Ticks::new(|_: &mut LiveStats, _| {});
    let http = reqwest::Client::new();
    let mut flv = FlvPlayer::new(&sfu.flv_url("probe"), FlvConfig::default(), tap);
    flv.probe = Some(QualityProbe::new(reference()).expect("decoder"));
    let mut hls = HlsPlayer::new(&sfu.hls_url("probe"), HlsConfig::default(), tap);
    hls.probe = Some(QualityProbe::new(reference()).expect("decoder"));
    let flv = tokio::spawn(run_flv(flv, http.clone(), clock, span(), ticks()));
    let hls = tokio::spawn(run_hls(hls, http, clock, span(), ticks()));
    let (flv, hls) = (flv.await.unwrap(), hls.await.unwrap());
    let scored = |probe: Option<QualityProbe>| {
        let receiver = Receiver::new(
            "probe".into(),
            Role::Probe,
            tap,
            VideoReceiver::new(tap, probe),
            AudioReceiver::new(None),
        );
        let s = receiver.summary("g", tap);
        (
            s.psnr_db.expect("scored"),
            s.marker_read_pct.expect("read"),
            s.video_decode_errors,
        )
    };
    let (flv_psnr, flv_read, flv_errors) = scored(flv.probe);
    let (hls_psnr, hls_read, hls_errors) = scored(hls.probe);
    eprintln!("HTTP-FLV PSNR {flv_psnr:.2} dB ({flv_read:.0} % markers), HLS {hls_psnr:.2} dB ({hls_read:.0} %)");
    assert!(flv_psnr > 30.0 && hls_psnr > 30.0);
    assert!((flv_psnr - hls_psnr).abs() < 0.5);
    assert!(flv_read > 99.0 && hls_read > 99.0);
    assert_eq!((flv_errors, hls_errors), (0, 0));
}

/// A real player beside the virtual one: hls.js in headless Chromium plays the same HLS stream
/// as rtcbench's HLS player, and the video element's stalls and pixel-marker latency agree with
/// the virtual player's within one segment (hls.js seeks into a segment three target
/// durations from the live edge; ours starts at a segment's first frame).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_in_chromium_agrees_with_the_virtual_hls_player_on_the_same_stream() {
    let chromium =
        std::env::var("RTCBENCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = std::path::Path::new(&chromium).exists()
        && std::path::Path::new("sidecar/browser/node_modules/hls.js").is_dir()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ready {
        eprintln!("skipped: needs node, chromium and npm ci --prefix sidecar/browser");
        return;
    }
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let clock = WallClock::start();
    let config = common::live_source(13, 400_000);
    let until_publishing = Instant::now() + Duration::from_secs(26);
    let _publishing = common::whip_publisher(&sfu, "xcheck", config, clock, until_publishing).await;
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let url = sfu.hls_url("xcheck");
    let browser = tokio::process::Command::new("node")
        .args(["sidecar/browser/hls-check.js", &url, "14"])
        .kill_on_drop(true)
        .output();
    let tap = clock.now();
    let (_stop_tx, stop) = watch::channel(false);
    let player = HlsPlayer::new(&url, HlsConfig::default(), tap);
    let ticks = Ticks::new(|_: &mut LiveStats, _| {});
    let ours = run_hls(
        player,
        reqwest::Client::new(),
        clock,
        (tap + 14_000_000, stop),
        ticks,
    );
    let (browser, ours) = tokio::join!(browser, ours);
    let browser = browser.expect("node runs");
    assert!(
        browser.status.success(),
        "{}",
        String::from_utf8_lossy(&browser.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&browser.stdout).expect("one JSON report");
    let mut latencies: Vec<f64> = report["latencies_ms"]
        .as_array()
        .expect("latencies")
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert!(latencies.len() > 200, "hls.js showed frames: {report}");
    latencies.sort_by(f64::total_cmp);
    let theirs_ms = latencies[latencies.len() / 2];
    let ours_ms = ours.stats.latency_us.value_at_quantile(0.5) as f64 / 1000.0;
    let their_stalls = report["stalls"].as_u64().expect("stalls");
    eprintln!(
        "live latency p50: hls.js {theirs_ms:.0} ms (its own estimate {:?} s), rtcbench {ours_ms:.0} ms; stalls {their_stalls} and {}; startup {:?} ms and {:?} us",
        report["hls_latency_s"],
        ours.stats.playback.stalls,
        report["startup_ms"],
        ours.stats.startup_us()
    );
    assert!(
        report["errors"].as_array().is_some_and(|e| e.is_empty()),
        "{report}"
    );
    assert_eq!((their_stalls, ours.stats.playback.stalls), (0, 0));
    assert!(
        (theirs_ms - ours_ms).abs() <= 1_000.0,
        "hls.js {theirs_ms:.0} ms against rtcbench {ours_ms:.0} ms"
    );
}

/// A directory served over HTTP on 127.0.0.1 (what ffmpeg's HLS muxer writes).
async fn serve_dir(dir: std::path::PathBuf) -> SocketAddr {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    let app = axum::Router::new()
        .route(
            "/{file}",
            axum::routing::get(
                |State(dir): State<std::path::PathBuf>, Path(file): Path<String>| async move {
                    match tokio::fs::read(dir.join(file.replace('/', ""))).await {
                        Ok(bytes) => (StatusCode::OK, bytes),
                        Err(_) => (StatusCode::NOT_FOUND, Vec::new()),
                    }
                },
            ),
        )
        .with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// ffmpeg as a second, independent packager: it pulls the embedded edge's HTTP-FLV and
/// writes HLS of its own, in MPEG-TS and in fMP4 (CMAF, with an EXT-X-MAP init segment), and
/// rtcbench's HLS player plays both with the SEI marker's latency intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_repackages_the_edge_as_ts_and_fmp4_hls_and_the_player_plays_both() {
    if !common::tool_or_required("ffmpeg", "RTCBENCH_REQUIRE_FFMPEG") {
        return;
    }
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let clock = WallClock::start();
    let config = common::live_source(17, 400_000);
    let until_publishing = Instant::now() + Duration::from_secs(24);
    let _publishing = common::whip_publisher(&sfu, "ff", config, clock, until_publishing).await;
    let dir = common::temp_dir("ffmpeg-hls");
    let mut packagers = Vec::new();
    for kind in ["mpegts", "fmp4"] {
        let out = dir.join(kind);
        std::fs::create_dir_all(&out).unwrap();
        let packager = tokio::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-i",
                &sfu.flv_url("ff"),
            ])
            .args([
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                "1",
                "-hls_list_size",
                "6",
            ])
            .args(["-hls_flags", "delete_segments", "-hls_segment_type", kind])
            .arg(out.join("index.m3u8"))
            .kill_on_drop(true)
            .spawn()
            .expect("ffmpeg starts");
        packagers.push((kind, packager, serve_dir(out).await));
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (_stop_tx, stop) = watch::channel(false);
    let http = reqwest::Client::new();
    let tap = clock.now();
    let mut players = Vec::new();
    for (kind, _, addr) in &packagers {
        let player = HlsPlayer::new(
            &format!("http://{addr}/index.m3u8"),
            HlsConfig::default(),
            tap,
        );
        let span = (tap + 8_000_000, stop.clone());
        let ticks = Ticks::new(|_: &mut LiveStats, _| {});
        players.push((
            *kind,
            tokio::spawn(run_hls(player, http.clone(), clock, span, ticks)),
        ));
    }
    for (kind, played) in players {
        let stats = played.await.unwrap().stats;
        eprintln!("{}", describe(kind, &stats));
        assert!(stats.startup_us().is_some(), "{kind}: {:?}", stats.errors);
        assert!(stats.playback.rendered_frames > 150, "{kind}");
        assert_eq!(stats.playback.stalls, 0, "{kind}");
        assert!(
            stats.latency_us.len() > 150,
            "{kind}: the marker survives ffmpeg's packaging"
        );
        let p50 = stats.latency_us.value_at_quantile(0.5);
        // Three 1 s segments behind ffmpeg's live edge, itself behind the FLV edge.
        assert!((2_500_000..7_000_000).contains(&p50), "{kind}: {p50} us");
    }
}
