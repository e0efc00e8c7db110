//! Publish and subscribe through Janus VideoRoom with the native client, and a scenario run
//! against the `janus` provider kind (Janus from `scripts/janus-local.sh up`, which CI runs;
//! without it the tests say so and pass).

mod common;

use rtcbench::client::driver::{bind, run, PeerExit};
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::engine::WallClock;
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as ReceiverRole, VideoReceiver};
use rtcbench::media::sender::MediaSender;
use rtcbench::metrics::Metric;
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
    let pub_socket = bind(HOST).await.unwrap();
    let sender = MediaSender::new(common::small_sender(5), start).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_and_a_room_run_against_janus_with_every_join() {
    let janus = Janus::new(reqwest::Client::new(), JANUS, Duration::from_secs(2));
    if let Err(e) = janus.create_session().await {
        eprintln!("skipped: no Janus at {JANUS} ({e}); run scripts/janus-local.sh up");
        return;
    }
    let dir = common::temp_dir("janus-run");
    let toml = format!(
        "{}{}",
        common::small_webrtc("janus", "8s"),
        "[[group]]\nname = \"call\"\nkind = \"call\"\npairs = 1\n\
         [[group]]\nname = \"room\"\nreceivers = 2\nprobes = 1\n"
    );
    let provider = std::path::PathBuf::from("providers/janus-local.toml");
    let r = common::run_in_process(&dir, &toml, 8, vec![provider]).await;
    assert_eq!(r.provider.as_deref(), Some("janus-local"));
    for g in ["call", "room"] {
        let g = r.group(g).unwrap();
        let stat = |m: Metric| g.metric(m).map(|m| m.summary);
        eprintln!(
            "{}: connect p50 {:?} ms, e2e p95 {:?} ms, PSNR {:?} dB, freezes {}",
            g.name,
            stat(Metric::ConnectMs).map(|s| s.p50),
            stat(Metric::E2eLatencyMs).map(|s| s.p95),
            stat(Metric::PsnrDb).map(|s| s.mean),
            g.totals.freeze_w3c.count
        );
        assert_eq!(g.totals.failed_sessions, 0, "{}: {:?}", g.name, g.sessions);
        assert!(
            g.publisher_failures.is_empty(),
            "{:?}",
            g.publisher_failures
        );
        assert!(stat(Metric::E2eLatencyMs).is_some_and(|s| s.count > 100));
        assert!(stat(Metric::PsnrDb).is_some_and(|s| s.mean > 30.0));
    }
    std::fs::remove_dir_all(&dir).ok();
}
