use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rtcbench::engine::driver::run_simulated;
use rtcbench::engine::{GroupOutcome, Room};
use rtcbench::metrics::Metric;
use rtcbench::plan;
use rtcbench::scenario;
use tokio::sync::{Mutex, MutexGuard};

/// Real-time tests measure latency and frame timing on a 2-core machine; two at once would
/// measure each other, and a CPU-bound test beside one would starve it.
static HEAVY: Mutex<()> = Mutex::const_new(());

/// Waits until no other heavy test runs; hold the guard for the whole test.
pub async fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().await
}

/// `heavy` for tests that are not async.
pub fn heavy_blocking() -> MutexGuard<'static, ()> {
    HEAVY.blocking_lock()
}

/// Runs every group of a scenario in simulated time; `prepare` may script the room first.
pub fn simulate_with(
    toml: &str,
    seed: u64,
    prepare: impl Fn(&str, &mut Room),
) -> Vec<GroupOutcome> {
    let s = scenario::parse(toml, "test.toml").unwrap_or_else(|e| panic!("test scenario: {e}"));
    let plan = plan::build(&s, seed, None);
    plan.groups
        .iter()
        .map(|g| {
            let mut room = Room::new(g, 0, plan.interval_us).expect("room");
            prepare(&g.name, &mut room);
            run_simulated(&mut room).expect("simulated run");
            room.finish(u64::MAX)
        })
        .collect()
}

pub fn simulate(toml: &str) -> Vec<GroupOutcome> {
    simulate_with(toml, 7, |_, _| {})
}

pub fn group<'a>(groups: &'a [GroupOutcome], name: &str) -> &'a GroupOutcome {
    groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

pub fn quantile(g: &GroupOutcome, m: Metric, q: f64) -> f64 {
    let h = &g
        .series
        .get(&m)
        .unwrap_or_else(|| panic!("{} not recorded", m.name()))
        .total
        .0;
    h.value_at_quantile(q) as f64 / m.scale()
}

pub fn mean(g: &GroupOutcome, m: Metric) -> f64 {
    let h = &g
        .series
        .get(&m)
        .unwrap_or_else(|| panic!("{} not recorded", m.name()))
        .total
        .0;
    h.mean() / m.scale()
}

/// A fresh folder for one test's files, unique to this process.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rtcbench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A child process killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes a `whip-whep` provider file for the server at `base` (`http://host:port`), with any
/// `extra` lines, and returns its path.
pub fn whip_whep_provider(
    dir: &std::path::Path,
    name: &str,
    base: &str,
    extra: &str,
) -> std::path::PathBuf {
    publish_and_play_provider(dir, name, (base, base), extra)
}

/// As [`whip_whep_provider`], publishing to `whip_base` and playing from `whep_base`.
pub fn publish_and_play_provider(
    dir: &std::path::Path,
    name: &str,
    (whip_base, whep_base): (&str, &str),
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nkind = \"whip-whep\"\nwhip_url = \"{whip_base}/whip/{{room}}\"\n\
             whep_url = \"{whep_base}/whep/{{room}}\"\n{extra}"
        ),
    )
    .expect("write provider file");
    path
}

/// Forwards a WHIP/WHEP offer to `upstream` and its answer back, as a signalling tier in front
/// of an SFU would (the resource Location made absolute so DELETE reaches the SFU).
pub async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    kind: &str,
    room: &str,
    offer: String,
) -> Response {
    let answer = http
        .post(format!("{upstream}/{kind}/{room}"))
        .header(header::CONTENT_TYPE, "application/sdp")
        .body(offer)
        .send()
        .await;
    let Ok(r) = answer else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let location = r
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| format!("{upstream}{l}"));
    let body = r.text().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/sdp".parse().unwrap());
    if let Some(l) = location {
        response
            .headers_mut()
            .insert(header::LOCATION, l.parse().unwrap());
    }
    response
}

/// The head of a small WebRTC scenario (320x180 at 300 kbps), for tests to add groups to.
pub fn small_webrtc(name: &str, duration: &str) -> String {
    format!(
        "name = \"{name}\"\nduration = \"{duration}\"\ntransport = \"webrtc\"\n\
         [video]\nwidth = 320\nheight = 180\nbitrate = \"300kbps\"\n"
    )
}

/// `toml` written to `dir/scenario.toml` and loaded as a run reads it.
pub fn scenario_file(dir: &std::path::Path, toml: &str) -> rtcbench::scenario::Scenario {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, toml).expect("write scenario");
    rtcbench::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A run's options: `seed`, the report under `dir/out`, `providers` in turn.
pub fn run_options(
    dir: &std::path::Path,
    seed: u64,
    providers: Vec<std::path::PathBuf>,
) -> rtcbench::runner::RunOptions {
    rtcbench::runner::RunOptions {
        seed: Some(seed),
        duration_us: None,
        out: Some(dir.join("out")),
        providers,
        progress: false,
        // Tests run several times into one folder; a user's earlier run is refused instead.
        force: true,
        ..Default::default()
    }
}

/// Runs a scenario in this process (writing its report under `dir`) and returns its results.
pub async fn run_in_process(
    dir: &std::path::Path,
    toml: &str,
    seed: u64,
    providers: Vec<std::path::PathBuf>,
) -> rtcbench::results::RunResults {
    let scenario = scenario_file(dir, toml);
    let (_tx, stop) = tokio::sync::watch::channel(false);
    rtcbench::runner::run(&scenario, &run_options(dir, seed, providers), stop)
        .await
        .expect("run")
        .results
}

/// A 10 s WebRTC scenario ending in `tail`, run through the WHIP/WHEP server at `base`
/// (`extra`: more provider-file lines); its results and the folder they are in.
pub async fn run_whip_whep(
    tag: &str,
    base: &str,
    extra: &str,
    tail: &str,
    seed: u64,
) -> (rtcbench::results::RunResults, std::path::PathBuf) {
    let dir = temp_dir(tag);
    let provider = whip_whep_provider(&dir, tag, base, extra);
    let toml = format!("{}{tail}", small_webrtc(tag, "10s"));
    (run_in_process(&dir, &toml, seed, vec![provider]).await, dir)
}

/// Serves `app` on an ephemeral loopback port for the rest of the test; returns its address.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    addr
}

/// The reference SFU on an ephemeral loopback port (with the crypto provider installed).
pub async fn start_sfu() -> rtcbench::sfu::server::ReferenceServer {
    rtcbench::client::init_crypto();
    rtcbench::sfu::server::start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("start the reference SFU")
}

/// A small stream (320x180, 300 kbps, key frame every 2 s, with audio) seeded `seed`.
pub fn small_sender(seed: u64) -> rtcbench::media::sender::SenderConfig {
    rtcbench::media::sender::SenderConfig {
        seed,
        width: 320,
        height: 180,
        fps: 30,
        video_bitrate_bps: 300_000,
        keyframe_interval_us: 2_000_000,
        audio_bitrate_bps: Some(32_000),
        video_ssrc: 1,
        audio_ssrc: 2,
        probe_score_every: 1,
        lower_layers: Vec::new(),
    }
}

/// The stream the CDN tests publish: 320x180 at 25 fps, a key frame every second (segments
/// and parts are cut at them), video only (the edge repackages video).
pub fn live_source(seed: u64, video_bitrate_bps: u32) -> rtcbench::media::sender::SenderConfig {
    rtcbench::media::sender::SenderConfig {
        seed,
        width: 320,
        height: 180,
        fps: 25,
        video_bitrate_bps,
        keyframe_interval_us: 1_000_000,
        audio_bitrate_bps: None,
        video_ssrc: 1,
        audio_ssrc: 2,
        probe_score_every: 1,
        lower_layers: Vec::new(),
    }
}

/// Renders a report to `png` in headless Chromium (sidecar/browser/render-check.js) and
/// returns (charts, tables) seen on the page; panics naming any console error, page error or
/// network fetch. `None`, with the reason printed, where node, chromium or the sidecar's
/// modules are missing (CI installs them).
pub fn render_report(html: &std::path::Path, png: &std::path::Path) -> Option<(u64, u64)> {
    let chromium =
        std::env::var("RTCBENCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success())
        || !std::path::Path::new(&chromium).exists()
        || !std::path::Path::new("sidecar/browser/node_modules/playwright-core").is_dir()
    {
        let why = format!("node, {chromium} or sidecar/browser/node_modules missing");
        // CI installs them (.ci/run): there the check must run.
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot render in CI: {why}"
        );
        eprintln!("skipped rendering: {why}");
        return None;
    }
    if let Some(parent) = png.parent() {
        std::fs::create_dir_all(parent).expect("artefact folder");
    }
    let out = std::process::Command::new("node")
        .arg("sidecar/browser/render-check.js")
        .arg(html)
        .arg(png)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} did not render cleanly: {}{}",
        html.display(),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("render-check JSON");
    let png_bytes = std::fs::read(png).expect("the PNG");
    assert!(png_bytes.starts_with(b"\x89PNG") && png_bytes.len() > 50_000);
    Some((
        seen["svgs"].as_u64().unwrap_or(0),
        seen["tables"].as_u64().unwrap_or(0),
    ))
}

/// The rtcbench binary cargo built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_rtcbench"))
}

/// The child's exit status within `limit`; killed and None past it.
pub fn wait_for(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    None
}

/// `rtcbench run SCENARIO --out OUT`.
pub fn run_to(scenario: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    bin()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .expect("runs")
}

/// Whether `tool` is on PATH. Without it a test says so and passes, unless `required_by` is set
/// (CI sets it): then the missing tool fails the test.
pub fn tool_or_required(tool: &str, required_by: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("-version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os(required_by).is_none(),
            "{tool} is not installed and {required_by} is set"
        );
        eprintln!("{tool} is not installed: skipped (set {required_by} to require it)");
    }
    found
}

/// A publisher of `config` sending into `room` of our SFU over WHIP until `until`: its task.
pub async fn whip_publisher(
    sfu: &rtcbench::sfu::server::ReferenceServer,
    room: &str,
    config: rtcbench::media::sender::SenderConfig,
    clock: rtcbench::base::WallClock,
    until: std::time::Instant,
) -> tokio::task::JoinHandle<(
    rtcbench::client::NativePeer,
    rtcbench::client::driver::PeerExit,
)> {
    use rtcbench::client::native::{NativePeer, Role};
    let socket = rtcbench::client::driver::bind(std::net::Ipv4Addr::LOCALHOST.into())
        .await
        .expect("bind");
    let sender = rtcbench::media::sender::MediaSender::new(config, clock.now()).expect("sender");
    let mut publisher = NativePeer::new(
        Role::Publish(Box::new(sender)),
        socket.local_addr().unwrap(),
        clock,
        std::time::Instant::now(),
    )
    .expect("peer");
    let offer = publisher.create_offer().expect("offer");
    let http = reqwest::Client::new();
    let timeout = std::time::Duration::from_secs(3);
    let published =
        rtcbench::provider::signal::whip::offer(&http, &sfu.whip_url(room), offer, None, timeout)
            .await
            .expect("WHIP");
    publisher.accept_answer(&published.answer).expect("answer");
    // Nobody stops it early: the sender half of the channel lives in the task.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let ran = rtcbench::client::driver::run(publisher, socket, until, stop).await;
        drop(stop_tx);
        ran
    })
}
