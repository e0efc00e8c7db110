//! WHIP publish and WHEP playback through the embedded reference SFU on 127.0.0.1, and the
//! signalling failures every provider can produce.

use crate::common;

use rtcbench::base::WallClock;
use rtcbench::client::driver::{bind, run, PeerExit};
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, Role as ReceiverRole, VideoReceiver,
};
use rtcbench::media::sender::{MediaSender, SenderConfig};
use rtcbench::media::source::VideoSource;
use rtcbench::provider::signal::whip as whip_whep;
use rtcbench::provider::Step;
use rtcbench::sfu::server;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TIMEOUT: Duration = Duration::from_secs(3);

fn sender_config(seed: u64) -> SenderConfig {
    SenderConfig {
        seed,
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
async fn whip_publish_and_whep_playback_through_the_embedded_sfu() {
    let _heavy = common::heavy().await;
    str0m::crypto::from_feature_flags().install_process_default();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let http = reqwest::Client::new();
    let clock = WallClock::start();
    let now = Instant::now();
    let start = clock.now();

    let pub_socket = bind(LOOPBACK).await.expect("bind");
    let sender = MediaSender::new(sender_config(31), start).expect("sender");
    let mut publisher = NativePeer::new(
        Role::Publish(Box::new(sender)),
        pub_socket.local_addr().unwrap(),
        clock,
        now,
    )
    .unwrap();
    let offer = publisher.create_offer().unwrap();
    let published = whip_whep::offer(&http, &sfu.whip_url("room1"), offer, None, TIMEOUT)
        .await
        .expect("WHIP");
    publisher
        .accept_answer(&published.answer)
        .expect("WHIP answer");
    assert!(published
        .url
        .as_deref()
        .is_some_and(|u| u.contains("/whip/room1/")));

    let sub_socket = bind(LOOPBACK).await.expect("bind");
    let probe = QualityProbe::new(VideoSource::new(31, 640, 360)).unwrap();
    let receiver = Receiver::new(
        "viewer".into(),
        ReceiverRole::Probe,
        start,
        VideoReceiver::new(start, Some(probe)),
        AudioReceiver::new(None),
    );
    let mut subscriber = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        sub_socket.local_addr().unwrap(),
        clock,
        now,
    )
    .unwrap();
    let offer = subscriber.create_offer().unwrap();
    let played = whip_whep::offer(&http, &sfu.whep_url("room1"), offer, None, TIMEOUT)
        .await
        .expect("WHEP");
    subscriber
        .accept_answer(&played.answer)
        .expect("WHEP answer");

    let until = Instant::now() + Duration::from_secs(5);
    let (_stop_tx, stop) = watch::channel(false);
    let p = tokio::spawn(run(publisher, pub_socket, until, stop.clone()));
    let s = tokio::spawn(run(subscriber, sub_socket, until, stop));
    let (subscriber, exit) = s.await.unwrap();
    assert!(matches!(exit, PeerExit::Finished), "{exit:?}");
    let _ = p.await.unwrap();
    let s = subscriber.receiver().unwrap().summary("sfu", clock.now());
    eprintln!(
        "via SFU: first frame {:?} ms, frames {}, e2e p50 {:?} p95 {:?} ms, loss {:.2}%, PSNR {:?}, freezes {}",
        s.first_frame_ms, s.frames_rendered, s.e2e_latency_p50_ms, s.e2e_latency_p95_ms, s.packet_loss_pct, s.psnr_db, s.freeze_w3c.count
    );
    assert!(s.frames_rendered > 100, "{} frames", s.frames_rendered);
    assert_eq!(s.packet_loss_pct, 0.0);
    assert!(s.e2e_latency_p95_ms.unwrap() < 50.0);
    assert!(s.psnr_db.unwrap() > 30.0);
    assert_eq!(s.freeze_w3c.count, 0);

    whip_whep::leave(&http, played.url.as_deref().unwrap(), None, TIMEOUT)
        .await
        .expect("DELETE");
    let again = whip_whep::leave(&http, played.url.as_deref().unwrap(), None, TIMEOUT).await;
    assert_eq!(again.expect_err("already gone").step, Step::Leave);
}

/// A one-route HTTP server answering every POST with `status` and `body`.
async fn fake_endpoint(status: u16, body: &'static str) -> String {
    use axum::http::StatusCode;
    let listener = tokio::net::TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let code = StatusCode::from_u16(status).unwrap();
    let app = axum::Router::new().route(
        "/whip",
        axum::routing::post(move || async move { (code, body) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/whip")
}

async fn an_offer() -> String {
    let socket = bind(LOOPBACK).await.unwrap();
    let sender = MediaSender::new(sender_config(1), 0).unwrap();
    NativePeer::new(
        Role::Publish(Box::new(sender)),
        socket.local_addr().unwrap(),
        WallClock::start(),
        Instant::now(),
    )
    .unwrap()
    .create_offer()
    .unwrap()
}

#[tokio::test]
async fn a_500_is_a_status_failure_with_the_servers_words() {
    let url = fake_endpoint(500, "database on fire").await;
    let e = whip_whep::offer(
        &reqwest::Client::new(),
        &url,
        an_offer().await,
        None,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(e.step, Step::Status);
    assert!(
        e.reason.contains("500") && e.reason.contains("database on fire"),
        "{e}"
    );
}

#[tokio::test]
async fn a_silent_endpoint_times_out_instead_of_hanging() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            held.push(c);
        }
    });
    let began = Instant::now();
    let e = whip_whep::offer(
        &reqwest::Client::new(),
        &format!("http://{addr}/whip"),
        an_offer().await,
        None,
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert_eq!(e.step, Step::Offer);
    assert!(
        e.reason.contains("timeout") || e.reason.contains("timed out"),
        "{e}"
    );
    assert!(began.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_refused_connection_and_a_malformed_answer_are_named() {
    let closed = tokio::net::TcpListener::bind((LOOPBACK, 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let e = whip_whep::offer(
        &reqwest::Client::new(),
        &format!("http://{closed}/whip"),
        an_offer().await,
        None,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(e.step, Step::Offer);

    let url = fake_endpoint(201, "this is not SDP").await;
    let e = whip_whep::offer(
        &reqwest::Client::new(),
        &url,
        an_offer().await,
        None,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(e.step, Step::Answer);

    // An answer that parses as SDP far enough to pass the first check but is broken inside.
    let url = fake_endpoint(201, "v=0\r\nthis line is wrong\r\n").await;
    let resource = whip_whep::offer(
        &reqwest::Client::new(),
        &url,
        an_offer().await,
        None,
        TIMEOUT,
    )
    .await
    .unwrap();
    let socket = bind(LOOPBACK).await.unwrap();
    let sender = MediaSender::new(sender_config(1), 0).unwrap();
    let mut peer = NativePeer::new(
        Role::Publish(Box::new(sender)),
        socket.local_addr().unwrap(),
        WallClock::start(),
        Instant::now(),
    )
    .unwrap();
    peer.create_offer().unwrap();
    assert!(
        peer.accept_answer(&resource.answer).is_err(),
        "a malformed SDP answer must be refused"
    );
}

#[tokio::test]
async fn scheduled_signalling_faults_answer_as_asked_and_end_on_time() {
    let _heavy = common::heavy().await;
    use rtcbench::sfu::faults::{ServerFault, ServerFaultKind};
    str0m::crypto::from_feature_flags().install_process_default();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let now = Instant::now();
    let at = |ms: u64| now + Duration::from_millis(ms);
    sfu.faults().set(vec![
        ServerFault {
            kind: ServerFaultKind::SignallingError(500),
            from: now,
            to: at(300),
        },
        ServerFault {
            kind: ServerFaultKind::SignallingTimeout,
            from: at(300),
            to: at(900),
        },
    ]);
    let http = reqwest::Client::new();
    let e = whip_whep::offer(&http, &sfu.whip_url("f"), an_offer().await, None, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::Status);
    assert!(e.reason.contains("500"), "{e}");
    tokio::time::sleep_until(at(350).into()).await;
    // Held until the window ends: a client with a shorter step timeout gives up first.
    let e = whip_whep::offer(
        &http,
        &sfu.whep_url("f"),
        an_offer().await,
        None,
        Duration::from_millis(200),
    )
    .await
    .unwrap_err();
    assert_eq!(e.step, Step::Offer, "{e}");
    let held = whip_whep::offer(&http, &sfu.whep_url("f"), an_offer().await, None, TIMEOUT)
        .await
        .unwrap_err();
    assert!(held.reason.contains("504"), "{held}");
    assert!(Instant::now() >= at(900));
    // After the windows the server answers again.
    let ok = whip_whep::offer(&http, &sfu.whep_url("f"), an_offer().await, None, TIMEOUT).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}

/// A viewer's SRTP starts at rollover count 0 with its first packet: a viewer who joins after
/// the publisher's sequence numbers wrapped must still decrypt audio and video. Seed 65535 starts
/// audio at sequence 65523 and video at 65529, so both wrap within 300 ms, long before the viewer
/// joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_who_joins_after_the_sequence_numbers_wrapped_gets_audio_and_video() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let sfu = server::start(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("sfu");
    let http = reqwest::Client::new();
    let clock = WallClock::start();
    let until = Instant::now() + Duration::from_secs(5);
    let p = common::whip_publisher(&sfu, "wrap", sender_config(65_535), clock, until).await;
    let (_stop_tx, stop) = watch::channel(false);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let sub_socket = bind(LOOPBACK).await.expect("bind");
    let joined = clock.now();
    let receiver = Receiver::new(
        "late".into(),
        ReceiverRole::Light,
        joined,
        VideoReceiver::new(joined, None),
        AudioReceiver::new(None),
    );
    let mut subscriber = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        sub_socket.local_addr().unwrap(),
        clock,
        Instant::now(),
    )
    .unwrap();
    let offer = subscriber.create_offer().unwrap();
    let played = whip_whep::offer(&http, &sfu.whep_url("wrap"), offer, None, TIMEOUT)
        .await
        .expect("WHEP");
    subscriber.accept_answer(&played.answer).unwrap();
    let (subscriber, exit) = run(subscriber, sub_socket, until, stop).await;
    assert!(matches!(exit, PeerExit::Finished), "{exit:?}");
    let (publisher, _) = p.await.unwrap();
    let sent = &publisher.sender().unwrap().stats;
    assert!(
        sent.audio_packets > 150,
        "{} audio packets sent",
        sent.audio_packets
    );
    let receiver = subscriber.receiver().unwrap();
    let audio_packets = receiver.audio.stats.received();
    let s = receiver.summary("late", clock.now());
    eprintln!(
        "late viewer: frames {}, audio packets {audio_packets}, audio latency p50 {:?} ms",
        s.frames_rendered, s.audio_latency_p50_ms
    );
    assert!(s.frames_rendered > 60, "{} frames", s.frames_rendered);
    assert!(audio_packets > 100, "{audio_packets} audio packets arrived");
}
