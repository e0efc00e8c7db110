//! Open model, no coordinated omission: a provider that stalls joins for 2 s during a ramp.
//! Joins keep starting on schedule, so every viewer planned during the stall waits for it and
//! its connect time (from the planned instant) shows it. A closed-loop client, which starts a
//! join only when the last one finished, sees the same stall as a single slow join.

use crate::common;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rtcbench::base::WallClock;
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as ReceiverRole, VideoReceiver};
use rtcbench::results::RunResults;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STALL: Duration = Duration::from_secs(2);
/// The stall starts with this WHEP request.
const STALL_AT_REQUEST: usize = 5;
const SLOW_MS: f64 = 500.0;

/// A WHIP/WHEP front for the reference SFU that holds every WHEP request for 2 s once the
/// fifth has come in, as a signalling tier that hiccups under a join burst would.
#[derive(Clone)]
struct Stalling {
    upstream: String,
    http: reqwest::Client,
    requests: Arc<AtomicUsize>,
    stalled_until: Arc<Mutex<Option<Instant>>>,
}

impl Stalling {
    fn reset(&self) {
        self.requests.store(0, Ordering::SeqCst);
        *self.stalled_until.lock().unwrap() = None;
    }
}

async fn whip(State(s): State<Stalling>, Path(room): Path<String>, body: String) -> Response {
    common::forward(&s.http, &s.upstream, "whip", &room, body).await
}

async fn whep(
    State(s): State<Stalling>,
    Path(room): Path<String>,
    _headers: HeaderMap,
    body: String,
) -> Response {
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let until = {
        let mut stalled = s.stalled_until.lock().unwrap();
        if n == STALL_AT_REQUEST {
            *stalled = Some(Instant::now() + STALL);
        }
        *stalled
    };
    if let Some(until) = until {
        tokio::time::sleep_until(until.into()).await;
    }
    common::forward(&s.http, &s.upstream, "whep", &room, body).await
}

async fn start_stalling_front(upstream: String) -> (String, Stalling) {
    let state = Stalling {
        upstream,
        http: reqwest::Client::new(),
        requests: Arc::default(),
        stalled_until: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/whip/{room}", axum::routing::post(whip))
        .route("/whep/{room}", axum::routing::post(whep))
        .with_state(state.clone());
    let addr = common::serve(app).await;
    (format!("http://{addr}"), state)
}

const RAMP: &str = r#"name = "stalled-ramp"
duration = "7s"
transport = "webrtc"
[video]
width = 320
height = 180
bitrate = "300kbps"
[[group]]
name = "audience"
room = "ramp"
probes = 0
[[group.stages]]
ramp = "4s"
to = 20
"#;

/// Joins a closed-loop client would make in `window`: one at a time, each after the last.
async fn closed_loop_join_times(front: &str, window: Duration) -> Vec<f64> {
    let http = reqwest::Client::new();
    let clock = WallClock::start();
    let began = Instant::now();
    let mut took = Vec::new();
    while began.elapsed() < window {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let receiver = Receiver::new(
            "closed".into(),
            ReceiverRole::Light,
            clock.now(),
            VideoReceiver::new(clock.now(), None),
            AudioReceiver::new(None),
        );
        let mut peer = NativePeer::new(
            Role::Subscribe(Box::new(receiver)),
            socket.local_addr().unwrap(),
            clock,
            Instant::now(),
        )
        .unwrap();
        let offer = peer.create_offer().unwrap();
        let start = Instant::now();
        let r = rtcbench::provider::signal::whip::offer(
            &http,
            &format!("{front}/whep/ramp"),
            offer,
            None,
            Duration::from_secs(5),
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        took.push(start.elapsed().as_secs_f64() * 1000.0);
        // The same pace as the ramp when nothing stalls: 5 joins a second.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_stall_shows_in_every_join_planned_during_it() {
    let _heavy = common::heavy().await;
    let sfu = common::start_sfu().await;
    let (front, stalling) = start_stalling_front(format!("http://{}", sfu.http_addr)).await;
    let dir = common::temp_dir("open-model");
    let scenario = dir.join("ramp.toml");
    std::fs::write(&scenario, RAMP).unwrap();
    let provider = common::whip_whep_provider(&dir, "stalling", &front, "");
    let out = dir.join("out");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtcbench"));
    command
        .args(["run", scenario.to_str().unwrap(), "--provider"])
        .arg(&provider)
        .arg("--out")
        .arg(&out);
    // The SFU and the stalling front run on this runtime while rtcbench runs apart.
    let run = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("rtcbench runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r = RunResults::read(&out.join("run.json")).unwrap();
    let g = r.group("audience").unwrap();
    let mut open: Vec<f64> = g.sessions.iter().filter_map(|s| s.connect_ms).collect();
    open.sort_by(f64::total_cmp);
    let open_slow = open.iter().filter(|&&ms| ms > SLOW_MS).count();

    stalling.reset();
    let closed = closed_loop_join_times(&front, Duration::from_secs(4)).await;
    let closed_slow = closed.iter().filter(|&&ms| ms > SLOW_MS).count();
    eprintln!(
        "open model: {} joins, {open_slow} over {SLOW_MS} ms, slowest {:.0} ms; closed loop: {} joins, \
         {closed_slow} over {SLOW_MS} ms, slowest {:.0} ms",
        open.len(),
        open.last().unwrap(),
        closed.len(),
        closed.iter().copied().fold(0.0, f64::max)
    );
    assert_eq!(g.totals.join_success_pct, 100.0);
    // Viewers planned from the 5th join (≈1 s) to the end of the stall (≈3 s) all waited, the
    // first for nearly the whole 2 s; the eight planned in its first 1.5 s waited over 500 ms.
    assert!(open_slow >= 6, "{open:?}");
    assert!(*open.last().unwrap() > 1800.0, "{open:?}");
    // The closed loop waited once, then carried on as if nothing had happened.
    assert_eq!(closed_slow, 1, "{closed:?}");
    std::fs::remove_dir_all(&dir).ok();
}
