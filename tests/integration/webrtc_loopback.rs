//! Real WebRTC (ICE, DTLS, SRTP, RTCP) between two native peers on 127.0.0.1.

use crate::common;

use rtcbench::base::WallClock;
use rtcbench::client::driver::{bind, run, PeerExit};
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, Role as ReceiverRole, VideoReceiver,
};
use rtcbench::media::sender::{MediaSender, SenderConfig};
use rtcbench::media::source::VideoSource;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn sender_config() -> SenderConfig {
    SenderConfig {
        seed: 21,
        width: 640,
        height: 360,
        fps: 30,
        video_bitrate_bps: 800_000,
        keyframe_interval_us: 3_000_000,
        audio_bitrate_bps: Some(32_000),
        video_ssrc: 1,
        audio_ssrc: 2,
        probe_score_every: 1,
        lower_layers: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_to_subscriber_over_real_webrtc() {
    let _heavy = common::heavy().await;
    str0m::crypto::from_feature_flags().install_process_default();
    let clock = WallClock::start();
    let now = Instant::now();
    let (pub_socket, sub_socket) = (
        bind(LOOPBACK).await.expect("bind"),
        bind(LOOPBACK).await.expect("bind"),
    );
    let start = clock.now();
    let sender = MediaSender::new(sender_config(), start).expect("sender");
    let probe = QualityProbe::new(VideoSource::new(21, 640, 360)).expect("probe");
    let receiver = Receiver::new(
        "sub".into(),
        ReceiverRole::Probe,
        start,
        VideoReceiver::new(start, Some(probe)),
        AudioReceiver::new(None),
    );
    let mut publisher = NativePeer::new(
        Role::Publish(Box::new(sender)),
        pub_socket.local_addr().unwrap(),
        clock,
        now,
    )
    .expect("peer");
    let mut subscriber = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        sub_socket.local_addr().unwrap(),
        clock,
        now,
    )
    .expect("peer");
    let offer = subscriber.create_offer().expect("offer");
    let answer = publisher.accept_offer(&offer).expect("answer");
    subscriber.accept_answer(&answer).expect("accept");

    let until = Instant::now() + Duration::from_secs(5);
    let (_stop_tx, stop) = watch::channel(false);
    let p = tokio::spawn(run(publisher, pub_socket, until, stop.clone()));
    let s = tokio::spawn(run(subscriber, sub_socket, until, stop));
    let (subscriber, exit) = s.await.expect("subscriber task");
    assert!(
        matches!(exit, PeerExit::Finished),
        "subscriber ended with {exit:?}"
    );
    let (publisher, _) = p.await.expect("publisher task");

    let summary = subscriber
        .receiver()
        .expect("receiver")
        .summary("p2p", clock.now());
    eprintln!(
        "p2p: connected in {:?}, first frame {:?} ms, frames {}, e2e p50 {:?} p95 {:?} ms, loss {:.2}%, PSNR {:?}, freezes {}",
        subscriber.connected_at.map(|t| t - now),
        summary.first_frame_ms,
        summary.frames_rendered,
        summary.e2e_latency_p50_ms,
        summary.e2e_latency_p95_ms,
        summary.packet_loss_pct,
        summary.psnr_db,
        summary.freeze_w3c.count
    );
    assert!(publisher.sender().expect("sender").stats.frames_sent > 100);
    assert!(
        summary.frames_rendered > 100,
        "{} frames rendered",
        summary.frames_rendered
    );
    assert_eq!(summary.packet_loss_pct, 0.0);
    assert!(summary.e2e_latency_p95_ms.expect("latency") < 50.0);
    assert!(summary.psnr_db.expect("psnr") > 30.0);
    assert_eq!(summary.freeze_w3c.count, 0);
    assert!(summary.audio_latency_p50_ms.is_some(), "audio arrived");
}

#[tokio::test]
async fn a_peer_that_cannot_connect_fails_at_its_limit_not_at_the_end_of_the_run() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let clock = WallClock::start();
    let now = Instant::now();
    let (pub_socket, sub_socket) = (
        bind(LOOPBACK).await.expect("bind"),
        bind(LOOPBACK).await.expect("bind"),
    );
    let sender = MediaSender::new(sender_config(), clock.now()).expect("sender");
    let receiver = Receiver::new(
        "sub".into(),
        ReceiverRole::Light,
        clock.now(),
        VideoReceiver::new(clock.now(), None),
        AudioReceiver::new(None),
    );
    // The publisher answers but is never driven, and its socket is closed: nothing will connect.
    let mut publisher = NativePeer::new(
        Role::Publish(Box::new(sender)),
        pub_socket.local_addr().unwrap(),
        clock,
        now,
    )
    .unwrap();
    drop(pub_socket);
    let mut subscriber = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        sub_socket.local_addr().unwrap(),
        clock,
        now,
    )
    .unwrap();
    let answer = publisher
        .accept_offer(&subscriber.create_offer().unwrap())
        .unwrap();
    subscriber.accept_answer(&answer).unwrap();
    subscriber.set_connect_timeout(Instant::now(), Duration::from_millis(800));
    let began = Instant::now();
    let (_stop_tx, stop) = watch::channel(false);
    let (peer, exit) = run(
        subscriber,
        sub_socket,
        began + Duration::from_secs(20),
        stop,
    )
    .await;
    let waited = began.elapsed();
    assert!(peer.connected_at.is_none());
    match exit {
        PeerExit::Failed(e) => assert!(e.to_string().contains("did not connect within"), "{e}"),
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(3),
        "failed after {waited:?}"
    );
}
