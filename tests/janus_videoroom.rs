//! Publish and subscribe through Janus VideoRoom with the native client (Janus from
//! `scripts/janus-local.sh up`; without it the test says so and passes).

use rtcbench::client::driver::{bind, run, PeerExit};
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::engine::WallClock;
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as ReceiverRole, VideoReceiver};
use rtcbench::media::sender::{MediaSender, SenderConfig};
use rtcbench::provider::janus::Janus;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const JANUS: &str = "http://10.99.0.2:8088/janus";
const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_through_janus_videoroom() {
    str0m::crypto::from_feature_flags().install_process_default();
    let http = reqwest::Client::new();
    let janus = Janus::new(http, JANUS, Duration::from_secs(5));
    let session = match janus.create_session().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: no Janus at {JANUS} ({e}); run scripts/janus-local.sh up");
            return;
        }
    };
    let clock = WallClock::start();
    let start = clock.now();
    let room = 1235;
    let pub_handle = session.attach().await.unwrap();
    session.ensure_room(pub_handle, room).await.unwrap();
    let config = SenderConfig {
        seed: 5,
        width: 320,
        height: 180,
        fps: 30,
        video_bitrate_bps: 300_000,
        keyframe_interval_us: 2_000_000,
        audio_bitrate_bps: Some(32_000),
        video_ssrc: 1,
        audio_ssrc: 2,
    };
    let pub_socket = bind(HOST).await.unwrap();
    let sender = MediaSender::new(config, start).unwrap();
    let mut publisher = NativePeer::new(
        Role::Publish(Box::new(sender)),
        pub_socket.local_addr().unwrap(),
        clock,
        Instant::now(),
    )
    .unwrap();
    let offer = publisher.create_offer().unwrap();
    let began = Instant::now();
    let (feed, answer) = session.publish(pub_handle, room, &offer).await.unwrap();
    eprintln!("published as feed {feed} in {:?}", began.elapsed());
    publisher.accept_answer(&answer).unwrap();
    let until = Instant::now() + Duration::from_secs(6);
    let (_stop_tx, stop) = watch::channel(false);
    let p = tokio::spawn(run(publisher, pub_socket, until, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sub_handle = session.attach().await.unwrap();
    let feeds = session.publishers(sub_handle, room).await.unwrap();
    assert!(feeds.contains(&feed), "{feeds:?}");
    let janus_offer = session.subscribe(sub_handle, room, feed).await.unwrap();
    let sub_socket = bind(HOST).await.unwrap();
    let receiver = Receiver::new(
        "viewer".into(),
        ReceiverRole::Light,
        clock.now(),
        VideoReceiver::new(clock.now(), None),
        AudioReceiver::new(None, None),
    );
    let mut subscriber = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        sub_socket.local_addr().unwrap(),
        clock,
        Instant::now(),
    )
    .unwrap();
    let answer = subscriber.accept_offer(&janus_offer).unwrap();
    session.start(sub_handle, room, &answer).await.unwrap();
    let (subscriber, exit) = run(subscriber, sub_socket, until, stop).await;
    let _ = p.await;
    let s = subscriber.receiver().unwrap().summary("janus", clock.now());
    eprintln!(
        "exit {exit:?}: first frame {:?} ms, {} frames, e2e p50 {:?} ms, loss {:.2} %",
        s.first_frame_ms, s.frames_rendered, s.e2e_latency_p50_ms, s.packet_loss_pct
    );
    assert!(matches!(exit, PeerExit::Finished), "{exit:?}");
    assert!(s.frames_rendered > 60, "{} frames", s.frames_rendered);
    let _ = session.destroy().await;
}
