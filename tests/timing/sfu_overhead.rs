//! The embedded SFU is the calibration floor: in one run, side by side, a call through it must
//! not be more than 2 ms (p95) slower end to end than the same media sent peer to peer.
//! The viewers are light: latency is taken when a frame's last packet arrives, which is all the
//! SFU can change. Decoding on both routes would only add CPU contention on two cores; with it,
//! identical routes differed by up to 2.4 ms at p95, without it by 0.3 ms.

use crate::common;

use rtcbench::base::Micros;
use rtcbench::base::WallClock;
use rtcbench::client::driver::{bind, run};
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as ReceiverRole, VideoReceiver};
use rtcbench::media::sender::{MediaSender, SenderConfig};
use rtcbench::provider::signal::whip as whip_whep;
use rtcbench::sfu::server;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TIMEOUT: Duration = Duration::from_secs(3);
const SEED: u64 = 77;
const ALLOWED_P95_OVERHEAD_MS: f64 = 2.0;

fn sender_config() -> SenderConfig {
    SenderConfig {
        seed: SEED,
        width: 640,
        height: 360,
        fps: 30,
        video_bitrate_bps: 500_000,
        keyframe_interval_us: 2_000_000,
        audio_bitrate_bps: Some(32_000),
        video_ssrc: 1,
        audio_ssrc: 2,
        probe_score_every: 1,
        lower_layers: Vec::new(),
    }
}

async fn peer(role: Role, clock: WallClock) -> (NativePeer, UdpSocket) {
    let socket = bind(LOOPBACK).await.expect("bind");
    let peer =
        NativePeer::new(role, socket.local_addr().unwrap(), clock, Instant::now()).expect("peer");
    (peer, socket)
}

/// Identical publishers (same seed, same start) so that frame n is the same picture, captured
/// at the same instant, on both routes.
async fn publisher(start: Micros, clock: WallClock) -> (NativePeer, UdpSocket) {
    let sender = MediaSender::new(sender_config(), start).expect("sender");
    peer(Role::Publish(Box::new(sender)), clock).await
}

async fn viewer(name: &str, start: Micros, clock: WallClock) -> (NativePeer, UdpSocket) {
    let receiver = Receiver::new(
        name.into(),
        ReceiverRole::Light,
        start,
        VideoReceiver::new(start, None),
        AudioReceiver::new(None),
    );
    peer(Role::Subscribe(Box::new(receiver)), clock).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sfu_adds_at_most_2_ms_p95_over_peer_to_peer() {
    let _heavy = common::heavy().await;
    str0m::crypto::from_feature_flags().install_process_default();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let http = reqwest::Client::new();
    let clock = WallClock::start();
    let start = clock.now();

    let (mut direct_pub, direct_pub_socket) = publisher(start, clock).await;
    let (mut direct_sub, direct_sub_socket) = viewer("p2p", start, clock).await;
    let offer = direct_sub.create_offer().unwrap();
    let answer = direct_pub.accept_offer(&offer).unwrap();
    direct_sub.accept_answer(&answer).unwrap();

    let (mut sfu_pub, sfu_pub_socket) = publisher(start, clock).await;
    let offer = sfu_pub.create_offer().unwrap();
    let published = whip_whep::offer(&http, &sfu.whip_url("floor"), offer, None, TIMEOUT)
        .await
        .expect("WHIP");
    sfu_pub.accept_answer(&published.answer).unwrap();
    let (mut sfu_sub, sfu_sub_socket) = viewer("sfu", start, clock).await;
    let offer = sfu_sub.create_offer().unwrap();
    let played = whip_whep::offer(&http, &sfu.whep_url("floor"), offer, None, TIMEOUT)
        .await
        .expect("WHEP");
    sfu_sub.accept_answer(&played.answer).unwrap();

    let until = Instant::now() + Duration::from_secs(8);
    let (_stop_tx, stop) = watch::channel(false);
    let tasks = [
        tokio::spawn(run(direct_pub, direct_pub_socket, until, stop.clone())),
        tokio::spawn(run(direct_sub, direct_sub_socket, until, stop.clone())),
        tokio::spawn(run(sfu_pub, sfu_pub_socket, until, stop.clone())),
        tokio::spawn(run(sfu_sub, sfu_sub_socket, until, stop)),
    ];
    let mut peers = Vec::new();
    for t in tasks {
        peers.push(t.await.expect("peer task").0);
    }
    let summary = |i: usize| peers[i].receiver().unwrap().summary("floor", clock.now());
    let (p2p, via_sfu) = (summary(1), summary(3));
    let p95 = |s: &rtcbench::media::receiver::ReceiverSummary| s.e2e_latency_p95_ms.unwrap();
    let p50 = |s: &rtcbench::media::receiver::ReceiverSummary| s.e2e_latency_p50_ms.unwrap();
    eprintln!(
        "same run, 640x360 500 kbps: p2p e2e p50 {:.2} p95 {:.2} ms ({} frames); via SFU p50 {:.2} \
         p95 {:.2} ms ({} frames); SFU adds p50 {:+.2} p95 {:+.2} ms",
        p50(&p2p),
        p95(&p2p),
        p2p.frames_rendered,
        p50(&via_sfu),
        p95(&via_sfu),
        via_sfu.frames_rendered,
        p50(&via_sfu) - p50(&p2p),
        p95(&via_sfu) - p95(&p2p),
    );
    for s in [&p2p, &via_sfu] {
        assert!(
            s.frames_rendered > 200,
            "{}: {} frames",
            s.id,
            s.frames_rendered
        );
        assert_eq!(s.packet_loss_pct, 0.0, "{}", s.id);
    }
    assert!(
        p95(&via_sfu) - p95(&p2p) <= ALLOWED_P95_OVERHEAD_MS,
        "the SFU adds {:.2} ms at p95",
        p95(&via_sfu) - p95(&p2p)
    );
}
