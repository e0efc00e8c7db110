//! A third-party CDN origin: nginx with Debian's RTMP module (`scripts/nginx-rtmp-local.sh up`,
//! which CI runs; without it the test says so and passes unless RTCBENCH_REQUIRE_NGINX is set).
//! rtcbench's host pushes RTMP to it and HLS viewers play what nginx packaged. Known truth: an
//! HLS player that starts three segments behind the live edge (hls.js's liveSyncDurationCount)
//! is between three and four segments behind the host, so live latency follows nginx's
//! `hls_fragment`: 3-4 s at 1 s segments, 6-8 s at 2 s.

use crate::common;
use rtcbench::results::RunResults;

const NGINX_RTMP: &str = "127.0.0.1:19351";

fn nginx_is_up() -> bool {
    let up = std::net::TcpStream::connect(NGINX_RTMP).is_ok();
    if !up {
        assert!(
            std::env::var_os("RTCBENCH_REQUIRE_NGINX").is_none(),
            "no nginx-rtmp at {NGINX_RTMP} and RTCBENCH_REQUIRE_NGINX is set"
        );
        eprintln!("skipped: no nginx-rtmp at {NGINX_RTMP}; run scripts/nginx-rtmp-local.sh up");
    }
    up
}

/// The host pushes from the start; the measured viewers tap play 12 s in, when nginx's
/// playlist is full, half a second apart so they sample where in a segment they land.
const SCENARIO: &str = r#"name = "nginx-hls-latency"
duration = "22s"
transport = "webrtc"
[video]
width = 320
height = 180
fps = 25
bitrate = "400kbps"
keyframe_interval = "1s"
[[group]]
name = "host"
publisher = "rtmp"
room = "calibration"
receivers = 1
audience = [{ protocol = "hls", share = "100%" }]
[[group]]
name = "viewers"
publisher = "external"
room = "calibration"
start = "12s"
receivers = 4
stagger = "500ms"
audience = [{ protocol = "hls", share = "100%" }]
"#;

#[test]
fn live_latency_through_nginx_rtmp_hls_follows_its_segment_length() {
    if !nginx_is_up() {
        return;
    }
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("nginx-rtmp");
    let scenario = dir.join("nginx.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let mut medians = Vec::new();
    for segment_s in [1.0, 2.0] {
        let provider = format!("providers/nginx-rtmp-{segment_s}s.toml");
        let out = dir.join(format!("out-{segment_s}"));
        let run = common::bin()
            .args(["run", scenario.to_str().unwrap(), "--provider", &provider])
            .args(["--out", out.to_str().unwrap()])
            .output()
            .expect("runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let r = RunResults::read(&out.join("run.json")).expect("run.json");
        let viewers = r.group("viewers~hls").expect("the measured viewers");
        let mut latencies = Vec::new();
        for s in &viewers.sessions {
            let cdn = s.cdn.as_ref().expect("a cdn block");
            assert!(s.joined, "{}: {:?}", s.id, cdn.errors);
            assert_eq!(cdn.http_errors, 0, "{}: {:?}", s.id, cdn.errors);
            assert_eq!(cdn.stalls, 0, "{}", s.id);
            let latency_s = cdn.live_latency_p50_ms.expect("live latency") / 1000.0;
            eprintln!(
                "{segment_s} s segments, {}: live latency {latency_s:.2} s",
                s.id
            );
            // 100 ms under for the marker's and nginx's timestamps; 300 ms over for nginx
            // writing the segment and the playlist after the key frame that closes it.
            assert!(
                (3.0 * segment_s - 0.1..=4.0 * segment_s + 0.3).contains(&latency_s),
                "{}: {latency_s:.2} s with {segment_s} s segments",
                s.id
            );
            latencies.push(latency_s);
        }
        latencies.sort_by(f64::total_cmp);
        medians.push(latencies[latencies.len() / 2]);
    }
    // Three segments of one more second each.
    let added = medians[1] - medians[0];
    assert!((2.0..=4.5).contains(&added), "latency added {added:.2} s");
}
