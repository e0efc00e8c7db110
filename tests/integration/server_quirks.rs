//! Faults real SFUs showed in rtcbench's measurements, reproduced by the embedded SFU behaving as
//! those servers do (`sfu::quirks`), each run through the `whip-whep` provider as a remote
//! server would be: loss repair without an RTX stream, a viewer that dials before its publisher,
//! a silent audio track, audio RTP time rewritten on the way, and an RSA DTLS certificate.

use crate::common;

use rtcbench::results::RunResults;
use rtcbench::sfu::quirks::Quirks;
use rtcbench::sfu::server::{ReferenceServer, ServerOptions};

async fn quirky_sfu(quirks: Quirks) -> ReferenceServer {
    rtcbench::client::init_crypto();
    let options = ServerOptions {
        quirks,
        ..Default::default()
    };
    rtcbench::sfu::server::start_with(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .expect("start the reference SFU")
}

async fn run_against(
    tag: &str,
    quirks: Quirks,
    scenario_tail: &str,
    seed: u64,
) -> (RunResults, std::path::PathBuf) {
    let sfu = quirky_sfu(quirks).await;
    let base = format!("http://{}", sfu.http_addr);
    common::run_whip_whep(tag, &base, "", scenario_tail, seed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_are_repaired_when_the_server_answers_without_rtx() {
    let _heavy = common::heavy().await;
    let quirks = Quirks {
        retransmit_without_rtx: true,
        ..Default::default()
    };
    let tail = r#"
[network.loss5]
loss = "5%"
reorder = false

[[group]]
name = "room"
receivers = 3
network = "loss5"
"#;
    let (r, dir) = run_against("quirk-no-rtx", quirks, tail, 11).await;
    let g = r.group("room").expect("the room's group");
    let before = g.totals.packet_loss_before_repair_pct;
    let after = g.totals.packet_loss_pct;
    eprintln!("no RTX declared: {before:.2} % lost before repair, {after:.2} % after");
    assert!(
        g.sessions.iter().all(|s| s.joined),
        "{:?}",
        g.sessions.iter().map(|s| &s.failure).collect::<Vec<_>>()
    );
    // 5 % injected; with NACKs answered on the main SSRC most of it comes back (the embedded
    // SFU with RTX leaves about 1.4 %). Without NACKs, after equals before.
    assert!((3.5..6.5).contains(&before), "before repair {before}");
    assert!(
        after < before / 2.0,
        "repair did nothing: {after} of {before}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_and_viewers_connect_to_a_server_with_an_rsa_certificate() {
    let _heavy = common::heavy().await;
    let quirks = Quirks {
        rsa_certificate: true,
        ..Default::default()
    };
    let tail = r#"
[[group]]
name = "room"
receivers = 2
"#;
    let (r, dir) = run_against("quirk-rsa", quirks, tail, 13).await;
    let g = r.group("room").expect("the room's group");
    // str0m's own DTLS failed here: "received fatal alert: description=40" (or 71).
    assert!(
        g.sessions.iter().all(|s| s.joined),
        "{:?}",
        g.sessions.iter().map(|s| &s.failure).collect::<Vec<_>>()
    );
    assert_eq!(g.totals.join_success_pct, 100.0);
    assert!(
        g.sessions.iter().all(|s| s.frames_rendered > 100),
        "frames {:?}",
        g.sessions
            .iter()
            .map(|s| s.frames_rendered)
            .collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negotiated_track_that_carries_nothing_fails_the_session() {
    let _heavy = common::heavy().await;
    let quirks = Quirks {
        drop_audio: true,
        ..Default::default()
    };
    let tail = r#"
[[group]]
name = "room"
receivers = 2

[[gate]]
metric = "silent_track_sessions"
below = 1
"#;
    let (r, dir) = run_against("quirk-no-audio", quirks, tail, 12).await;
    let g = r.group("room").expect("the room's group");
    for s in &g.sessions {
        assert_eq!(s.silent_tracks, vec!["audio".to_string()], "{}", s.id);
        assert!(!s.joined, "{} joined with a silent track", s.id);
        let failure = s.failure.as_ref().expect("a failure");
        assert_eq!(failure.step, "media", "{failure:?}");
        assert!(failure.reason.contains("audio track"), "{failure:?}");
        // Video still played: the failure is the audio's alone.
        assert!(
            s.frames_rendered > 100,
            "{}: {} frames",
            s.id,
            s.frames_rendered
        );
    }
    assert_eq!(g.totals.silent_track_sessions, 2);
    assert_eq!(g.totals.join_success_pct, 0.0);
    assert_eq!(r.broken_gates(), 1, "{:?}", r.gates);
    let csv = std::fs::read_to_string(dir.join("out").join("sessions.csv")).unwrap_or_default();
    assert!(
        csv.lines().next().unwrap_or("").ends_with(",silent_tracks"),
        "{csv}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_planned_with_their_publisher_dial_once_it_is_published() {
    let _heavy = common::heavy().await;
    // A server slow to take its publisher (400 ms) and refusing viewers until then: a viewer
    // that dialled at its planned instant would be refused and its connect time would hold
    // the provider's publish time.
    let quirks = Quirks {
        no_viewers_before_publisher: true,
        publish_delay_ms: Some(400),
        ..Default::default()
    };
    // Every viewer's planned instant is the publisher's (0 s), the race real servers lost.
    let tail = r#"
[[group]]
name = "room"
receivers = 4
"#;
    for seed in [21, 22] {
        let sfu = quirky_sfu(quirks).await;
        let base = format!("http://{}", sfu.http_addr);
        let (r, dir) = common::run_whip_whep("quirk-publisher-first", &base, "", tail, seed).await;
        let g = r.group("room").expect("the room's group");
        assert!(
            g.publisher_failures.is_empty(),
            "{:?}",
            g.publisher_failures
        );
        assert_eq!(
            sfu.refused_viewers(),
            0,
            "a viewer dialled before its publisher"
        );
        for s in &g.sessions {
            assert!(s.joined, "{}: {:?}", s.id, s.failure);
            assert_eq!(s.planned_join_s, Some(0.0), "{}", s.id);
            // Counted from the publication: dial → first frame on loopback, not the 400 ms the
            // server took to publish, nor the 3 s timeout.
            let connect = s.connect_ms.expect("connect time");
            assert!(connect < 300.0, "{}: connect {connect} ms", s.id);
        }
        drop(sfu);
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// A WHEP front that answers 404 to the first `refusals` offers, then passes them to `upstream`.
async fn refusing_front(upstream: String, refusals: usize) -> String {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let seen = Arc::new(AtomicUsize::new(0));
    let whep =
        move |State(seen): State<Arc<AtomicUsize>>, Path(room): Path<String>, body: String| {
            let upstream = upstream.clone();
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) < refusals {
                    return (StatusCode::NOT_FOUND, "no stream is available").into_response();
                }
                common::forward(&reqwest::Client::new(), &upstream, "whep", &room, body).await
            }
        };
    let app = axum::Router::new()
        .route("/whep/{room}", axum::routing::post(whep))
        .with_state(seen);
    format!("http://{}", common::serve(app).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whep_refusal_before_publication_is_asked_again_within_the_step_timeout() {
    let _heavy = common::heavy().await;
    let sfu = quirky_sfu(Quirks::default()).await;
    let base = format!("http://{}", sfu.http_addr);
    let dir = common::temp_dir("whep-retry");
    let tail = "[[group]]\nname = \"room\"\nreceivers = 1\n";
    let toml = format!("{}{tail}", common::small_webrtc("whep-retry", "6s"));
    // Three refusals: asked again after 0.1, 0.2 and 0.4 s, well inside a 3 s step timeout.
    let front = refusing_front(base.clone(), 3).await;
    let provider = common::publish_and_play_provider(
        &dir,
        "retrying",
        (&base, &front),
        "step_timeout = \"3s\"\n",
    );
    let r = common::run_in_process(&dir, &toml, 31, vec![provider]).await;
    let s = &r.group("room").expect("group").sessions[0];
    assert!(s.joined, "{:?}", s.failure);
    let connect = s.connect_ms.expect("connect time");
    assert!(
        connect >= 700.0,
        "the retries' 0.7 s of waiting is in connect: {connect}"
    );
    // Refused for good: the failure names the status and how long it was asked.
    let front = refusing_front(base.clone(), usize::MAX).await;
    let provider = common::publish_and_play_provider(
        &dir,
        "refusing",
        (&base, &front),
        "step_timeout = \"2s\"\n",
    );
    let r = common::run_in_process(&dir, &toml, 32, vec![provider]).await;
    let s = &r.group("room").expect("group").sessions[0];
    let f = s.failure.as_ref().expect("a failure");
    assert_eq!(f.step, "status", "{f:?}");
    assert!(f.reason.contains("HTTP 404"), "{f:?}");
    assert!(f.reason.contains("times over"), "{f:?}");
    drop(sfu);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_latency_is_not_measured_when_the_server_rewrites_audio_time() {
    let _heavy = common::heavy().await;
    let tail = "[[group]]\nname = \"room\"\nreceivers = 2\n";
    let audio_p50 = |r: &RunResults| {
        r.group("room")
            .and_then(|g| g.metric(rtcbench::metrics::Metric::AudioLatencyMs))
            .map(|m| m.summary.p50)
    };
    // Untouched, the capture time on every audio packet gives the loopback latency.
    let (r, dir) = run_against("audio-time-kept", Quirks::default(), tail, 41).await;
    let kept = audio_p50(&r).expect("audio latency through an SFU that keeps it");
    eprintln!("audio latency p50 through the embedded SFU: {kept:.1} ms");
    assert!(kept < 50.0, "{kept}");
    std::fs::remove_dir_all(&dir).ok();
    // Shifted by -100 ms and the extension stripped (as Pion did): an RTP-time mapping read
    // 102.4 ms here; with nothing to measure from, the figure is absent, not plausible.
    let quirks = Quirks {
        audio_rtp_shift_ms: Some(-100),
        ..Default::default()
    };
    let (r, dir) = run_against("audio-time-shifted", quirks, tail, 42).await;
    let g = r.group("room").expect("group");
    assert!(g.sessions.iter().all(|s| s.joined), "{:?}", g.sessions);
    assert_eq!(audio_p50(&r), None);
    assert!(g.sessions.iter().all(|s| s.audio_latency_p50_ms.is_none()));
    assert!(
        g.sessions.iter().all(|s| s.silent_tracks.is_empty()),
        "audio still arrived"
    );
    std::fs::remove_dir_all(&dir).ok();
}
