//! The CDN players calibrated over real sockets: the embedded edge on 127.0.0.1 behind a TCP
//! relay that injects a known truth (a delay on every request, a hold on the stream), and the
//! players reporting it through `client::live_http`. The sans-IO calibrations with exact
//! figures are in `media/live/player/hls/tests.rs` and `flv.rs`.

use crate::common;
use rtcbench::base::{Micros, WallClock};
use rtcbench::client::live_http::{run_flv, run_hls, Ticks};
use rtcbench::media::live::player::flv::{FlvConfig, FlvPlayer};
use rtcbench::media::live::player::hls::{HlsConfig, HlsPlayer};
use rtcbench::media::live::player::LiveStats;
use rtcbench::media::sender::SenderConfig;
use rtcbench::metrics::{Metric, Sample};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn config() -> SenderConfig {
    common::live_source(11, 400_000)
}

/// What the relay does to one connection.
#[derive(Clone, Copy)]
enum Shape {
    /// Every chunk the client sends (each request) waits this long before it goes on.
    DelayRequests(Duration),
    /// Nothing reaches the client between `from` and `from + hold` (after the connection
    /// opened); what came meanwhile follows at once.
    HoldResponse { from: Duration, hold: Duration },
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    hold: Option<(Instant, Instant)>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tokio::time::sleep(delay).await;
        if let Some((start, end)) = hold {
            let now = Instant::now();
            if now >= start && now < end {
                tokio::time::sleep_until(end.into()).await;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// A relay on 127.0.0.1 to `upstream` shaping each connection as `shape` says.
async fn relay(upstream: std::net::SocketAddr, shape: Shape) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = TcpStream::connect(upstream).await else {
                continue;
            };
            let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
            let (client_read, client_write) = inbound.into_split();
            let (server_read, server_write) = outbound.into_split();
            let opened = Instant::now();
            let (request_delay, hold) = match shape {
                Shape::DelayRequests(d) => (d, None),
                Shape::HoldResponse { from, hold } => {
                    (Duration::ZERO, Some((opened + from, opened + from + hold)))
                }
            };
            tokio::spawn(pipe(client_read, server_write, request_delay, None));
            tokio::spawn(pipe(server_read, client_write, Duration::ZERO, hold));
        }
    });
    addr
}

/// Latency samples (µs on the run clock, ms) a player reported as it went.
type Latencies = Arc<Mutex<Vec<(Micros, f64)>>>;

fn recording(latencies: &Latencies) -> Ticks<impl FnMut(&mut LiveStats, Micros)> {
    let latencies = latencies.clone();
    Ticks::new(move |stats: &mut LiveStats, now| {
        let samples: Vec<Sample> = stats.drain_samples(now).collect();
        let mut l = latencies.lock().unwrap();
        l.extend(
            samples
                .iter()
                .filter(|s| s.metric == Metric::E2eLatencyMs)
                .map(|s| (s.at, s.value)),
        );
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "no samples");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_on_every_request_moves_hls_startup_by_two_round_trips() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = rtcbench::sfu::server::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("sfu");
    let clock = WallClock::start();
    let until = Instant::now() + Duration::from_secs(20);
    let _publishing = common::whip_publisher(&sfu, "cal", config(), clock, until).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let delay = Duration::from_millis(300);
    let direct = relay(sfu.http_addr, Shape::DelayRequests(Duration::ZERO)).await;
    let delayed = relay(sfu.http_addr, Shape::DelayRequests(delay)).await;
    let http = reqwest::Client::new();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut startups = Vec::new();
    // Alternate the two paths so the edge's segment timing is the same for both on average.
    for round in 0..6 {
        let via = if round % 2 == 0 { direct } else { delayed };
        let url = sfu
            .hls_url("cal")
            .replace(&sfu.http_addr.to_string(), &via.to_string());
        let tap = clock.now();
        let player = HlsPlayer::new(&url, HlsConfig::default(), tap);
        let span = (tap + 2_500_000, stop.clone());
        let played = run_hls(
            player,
            http.clone(),
            clock,
            span,
            Ticks::new(|_: &mut LiveStats, _| {}),
        )
        .await;
        let startup = played.stats.startup_us().expect("started") as f64 / 1000.0;
        eprintln!(
            "round {round} ({}): startup {startup:.1} ms",
            if round % 2 == 0 { "direct" } else { "delayed" }
        );
        startups.push((round % 2 == 1, startup));
    }
    let of = |delayed: bool| {
        median(
            startups
                .iter()
                .filter(|(d, _)| *d == delayed)
                .map(|(_, s)| *s)
                .collect(),
        )
    };
    let added = of(true) - of(false);
    // A new connection's request, the playlist's and the first segment's: at 1 s of start
    // buffer and 1 s segments, two requests stand before the picture (the connection itself
    // is not delayed by this relay).
    let expected = 2.0 * delay.as_secs_f64() * 1000.0;
    assert!(
        (added - expected).abs() <= 40.0,
        "startup moved by {added:.1} ms, expected {expected:.0} ms ± 40"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_flv_stream_stalls_once_for_the_hold_less_what_was_buffered() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = rtcbench::sfu::server::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("sfu");
    let clock = WallClock::start();
    let until = Instant::now() + Duration::from_secs(20);
    let _publishing = common::whip_publisher(&sfu, "hold", config(), clock, until).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (from, hold) = (Duration::from_secs(5), Duration::from_secs(2));
    let via = relay(sfu.http_addr, Shape::HoldResponse { from, hold }).await;
    let url = sfu
        .flv_url("hold")
        .replace(&sfu.http_addr.to_string(), &via.to_string());
    let tap = clock.now();
    let player = FlvPlayer::new(&url, FlvConfig::default(), tap);
    let latencies = Latencies::default();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let span = (tap + 12_000_000, stop);
    let played = run_flv(
        player,
        reqwest::Client::new(),
        clock,
        span,
        recording(&latencies),
    )
    .await;
    let stats = &played.stats;
    let hold_start = tap + from.as_micros() as u64;
    let hold_end = hold_start + hold.as_micros() as u64;
    let l = latencies.lock().unwrap().clone();
    let before = median(
        l.iter()
            .filter(|(at, _)| *at < hold_start)
            .map(|(_, v)| *v)
            .collect(),
    );
    let after = median(
        l.iter()
            .filter(|(at, _)| *at > hold_end + 1_000_000)
            .map(|(_, v)| *v)
            .collect(),
    );
    let stall_ms = stats.playback.stall_time_us as f64 / 1000.0;
    eprintln!(
        "stalls {}, stall {stall_ms:.0} ms, latency before {before:.0} ms, after {after:.0} ms, errors {:?}",
        stats.playback.stalls, stats.errors
    );
    assert_eq!(stats.playback.stalls, 1);
    // The player had its latency's worth of media in hand (less the path, a few ms here):
    // it runs dry that much after the hold began and stalls for the rest of it.
    let expected = hold.as_secs_f64() * 1000.0 - before;
    assert!(
        (stall_ms - expected).abs() <= 150.0,
        "stall {stall_ms:.0} ms, expected {expected:.0} ± 150"
    );
    // A player that does not catch up shows the stall as added latency.
    assert!(
        ((after - before) - stall_ms).abs() <= 80.0,
        "latency rose {:.0} ms",
        after - before
    );
}
