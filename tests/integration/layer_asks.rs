//! Viewers asking for a simulcast layer: by WHEP's layer extension on the embedded SFU and by
//! VideoRoom substreams on Janus (`scripts/janus-local.sh up`, which CI runs; without it Janus is
//! skipped and says so). A host publishes three layers; the asking viewers start on the
//! smallest, ask for the top at 5 s and for the middle at 10 s. Each run must show those sizes
//! in that order, each switch timed from its ask, and PSNR falling with size.

use crate::common;
use rtcbench::base::WallClock;
use rtcbench::client::driver::bind;
use rtcbench::client::native::{NativePeer, Role};
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as ReceiverRole, VideoReceiver};
use rtcbench::media::simulcast::LayerConfig;
use rtcbench::provider::signal::whip;
use rtcbench::record::ReceiverSummary;
use rtcbench::runner::providers::run_each;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// When the viewers ask for the top layer, then the middle one (from the group's start).
const ASK_HIGH_S: f64 = 5.0;
const ASK_MID_S: f64 = 10.0;
/// From an ask to the first frame of the layer asked for: a key-frame request to the publisher
/// and its answer, on loopback.
const SWITCH_WITHIN_MS: f64 = 1500.0;

const SCENARIO: &str = r#"name = "layer-asks"
duration = "15s"
transport = "webrtc"
[video]
width = 640
height = 360
bitrate = "1Mbps"
simulcast = [
  { scale_down = 4, bitrate = "150kbps" },
  { scale_down = 2, bitrate = "400kbps" },
]
[[group]]
name = "askers"
receivers = 2
probes = 1
stagger = "200ms"
layer = "low"
layer_schedule = [{ at = "5s", layer = "high" }, { at = "10s", layer = "mid" }]
"#;

/// The sizes a viewer was shown, by height, in order, each with when it began.
fn heights(s: &ReceiverSummary) -> Vec<(f64, u32)> {
    let layers = s.layers.as_ref().expect("layers shown");
    layers.changes.iter().map(|c| (c.at_s, c.height)).collect()
}

fn check_viewer(provider: &str, s: &ReceiverSummary) {
    let layers = s.layers.as_ref().expect("layers shown");
    let shown = heights(s);
    eprintln!(
        "{provider} {} ({:?}): sizes {shown:?}, switch times {:?} ms, frames skipped {}, \
         by size {:?}",
        s.id,
        s.role,
        layers.switch_ms,
        layers.frames_skipped_at_switches,
        layers
            .resolutions
            .iter()
            .map(|r| (r.height, r.ms.round(), r.psnr_db))
            .collect::<Vec<_>>()
    );
    // Janus may start a new subscriber on a substream of its own until the ask made on joining
    // lands: at most one size before the smallest, and only for a moment.
    let shown = match shown.as_slice() {
        [first, rest @ ..] if rest.len() == 3 && first.1 != 90 => {
            assert!(rest[0].0 < 1.5, "{provider} {}: {shown:?}", s.id);
            rest.to_vec()
        }
        _ => shown,
    };
    let sequence: Vec<u32> = shown.iter().map(|&(_, h)| h).collect();
    assert_eq!(
        sequence,
        [90, 360, 180],
        "{provider} {}: low, high, mid",
        s.id
    );
    assert!(
        shown[1].0 >= ASK_HIGH_S && shown[2].0 >= ASK_MID_S,
        "{provider} {}: no switch before its ask: {shown:?}",
        s.id
    );
    assert_eq!(layers.switch_ms.len(), 2, "{provider} {}", s.id);
    for ms in &layers.switch_ms {
        assert!(
            *ms < SWITCH_WITHIN_MS,
            "{provider} {}: a switch took {ms:.0} ms",
            s.id
        );
    }
    if let Some(psnr) = layers
        .resolutions
        .iter()
        .map(|r| r.psnr_db)
        .collect::<Option<Vec<f64>>>()
    {
        assert!(
            psnr.windows(2).all(|w| w[0] > w[1]),
            "{provider} {}: PSNR falls with size, largest first: {psnr:?}",
            s.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_ask_for_layers_over_whep_and_janus_substreams_and_get_them_in_order() {
    let _heavy = common::heavy().await;
    let dir = common::temp_dir("layer-asks");
    let mut providers = vec![PathBuf::from("providers/embedded.toml")];
    if crate::janus_videoroom::janus_is_up().await {
        providers.push(PathBuf::from("providers/janus-local.toml"));
    }
    let (_tx, stop) = watch::channel(false);
    let c = run_each(
        &common::scenario_file(&dir, SCENARIO),
        &common::run_options(&dir, 21, providers.clone()),
        stop,
    )
    .await
    .expect("runs");
    assert!(
        c.missing.is_empty(),
        "{:?}",
        c.missing.iter().map(|m| &m.reason).collect::<Vec<_>>()
    );
    assert_eq!(c.runs.len(), providers.len());
    for run in &c.runs {
        let r = &run.results;
        let name = r.provider.clone().unwrap_or_default();
        let g = r.group("askers").expect("askers");
        assert_eq!(g.totals.failed_sessions, 0, "{name}: {:?}", g.sessions);
        assert!(g.notes.is_empty(), "{name}: {:?}", g.notes);
        assert_eq!(g.sessions.len(), 2);
        assert!(g.sessions.iter().any(|s| s
            .layers
            .as_ref()
            .is_some_and(|l| { l.resolutions.iter().all(|r| r.psnr_db.is_some()) })));
        for s in &g.sessions {
            check_viewer(&name, s);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whep_layer_url_is_linked_and_refuses_what_it_cannot_do() {
    str0m::crypto::from_feature_flags().install_process_default();
    let sfu = common::start_sfu().await;
    let http = reqwest::Client::new();
    let timeout = Duration::from_secs(3);
    // A one-layer publisher; the viewer need not connect for its session to exist.
    let clock = WallClock::start();
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let _publisher =
        common::whip_publisher(&sfu, "one", common::small_sender(3), clock, until).await;
    let receiver = Receiver::new(
        "viewer".into(),
        ReceiverRole::Light,
        clock.now(),
        VideoReceiver::new(clock.now(), None),
        AudioReceiver::new(None),
    );
    let socket = bind(std::net::Ipv4Addr::LOCALHOST.into())
        .await
        .expect("bind");
    let mut viewer = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        socket.local_addr().expect("address"),
        clock,
        std::time::Instant::now(),
    )
    .expect("peer");
    let offer = viewer.create_offer().expect("offer");
    let played = whip::offer(&http, &sfu.whep_url("one"), offer, None, timeout)
        .await
        .expect("WHEP");
    let url = played
        .layer_url
        .clone()
        .expect("the answer links a layer URL");
    assert!(url.ends_with("/layer"), "{url}");
    let refused = whip::ask_layer(&http, &played, Some("q"), timeout)
        .await
        .expect_err("one layer");
    assert_eq!(refused.status, Some(409), "{refused}");
    assert!(refused.reason.contains("has one layer"), "{refused}");

    let post = |url: String, body: &'static str| {
        let http = http.clone();
        async move {
            let r = http.post(url).body(body).send().await.expect("POST");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let (status, text) = post(url.clone(), "{\"encodingId\": ").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not the JSON object"), "{text}");
    let (status, text) = post(url.clone(), "{\"spatialLayerId\": 1}").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("encodingId"), "{text}");
    // A two-layer publisher: its layers are named, and a name it did not offer is refused.
    let mut two_layers = common::small_sender(4);
    two_layers.lower_layers = vec![LayerConfig {
        scale_down: 2,
        fps: 30,
        bitrate_bps: 100_000,
    }];
    let _simulcast = common::whip_publisher(&sfu, "two", two_layers, clock, until).await;
    let offer = viewer.create_offer().expect("offer");
    let played_two = whip::offer(&http, &sfu.whep_url("two"), offer, None, timeout)
        .await
        .expect("WHEP");
    let refused = whip::ask_layer(&http, &played_two, Some("x"), timeout)
        .await
        .expect_err("no such layer");
    assert_eq!(refused.status, Some(400), "{refused}");
    assert!(refused.reason.contains("its layers are h, f"), "{refused}");
    for rid in [Some("h"), Some("f"), None] {
        whip::ask_layer(&http, &played_two, rid, timeout)
            .await
            .unwrap_or_else(|e| panic!("asking for {rid:?}: {e}"));
    }
    let stranger = url.replace(&format!("/{}/layer", session_of(&url)), "/99999/layer");
    let (status, text) = post(stranger, "{}").await;
    assert_eq!(status, 404, "{text}");
}

/// The session id in `.../whep/ROOM/ID/layer`.
fn session_of(layer_url: &str) -> String {
    layer_url
        .trim_end_matches("/layer")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A scenario publishing simulcast, with `video` lines after `[video]`'s size and rate and
/// `group` lines after a room group's name.
fn simulcast_room(video: &str, group: &str) -> String {
    format!(
        "name = \"x\"\nduration = \"10s\"\ntransport = \"webrtc\"\n[video]\nwidth = 640\nheight = 360\nbitrate = \"1Mbps\"\n{video}\n[[group]]\nname = \"a\"\n{group}\n"
    )
}

#[test]
fn simulcast_layers_and_asks_for_them_are_checked() {
    let two = "simulcast = [{ scale_down = 2, bitrate = \"300kbps\" }]";
    crate::scenario_errors::check(
        &simulcast_room(
            "simulcast = [{ scale_down = 3, bitrate = \"100kbps\" }]",
            "receivers = 2",
        ),
        8,
        13,
        "video.simulcast",
        "scale_down 3 is not allowed",
    );
    crate::scenario_errors::check(
        &simulcast_room(
            "simulcast = [{ scale_down = 2, bitrate = \"2Mbps\" }]",
            "receivers = 2",
        ),
        8,
        13,
        "video.simulcast",
        "not below the top layer's",
    );
    crate::scenario_errors::check(
        &simulcast_room(two, "kind = \"call\"\npairs = 1\nlayer = \"low\""),
        13,
        9,
        "group[0].layer",
        "only a room's viewers",
    );
    crate::scenario_errors::check(
        &simulcast_room("", "receivers = 2\nlayer = \"high\""),
        12,
        9,
        "group[0].layer",
        "the publisher sends one layer",
    );
    crate::scenario_errors::check(
        &simulcast_room(
            two,
            "receivers = 2\nlayer_schedule = [{ at = \"2s\", layer = \"mid\" }]",
        ),
        12,
        18,
        "group[0].layer_schedule",
        "needs three layers",
    );
    crate::scenario_errors::check(
        &simulcast_room(
            two,
            "receivers = 2\nlayer_schedule = [{ at = \"5s\", layer = \"high\" }, { at = \"3s\", layer = \"low\" }]",
        ),
        12,
        57,
        "group[0].layer_schedule[1].at",
        "in time order",
    );
    crate::scenario_errors::check(
        &simulcast_room(
            two,
            "receivers = 2\nlayer_schedule = [{ at = \"12s\", layer = \"low\" }]",
        ),
        12,
        26,
        "group[0].layer_schedule[0].at",
        "after the run ends",
    );
    crate::scenario_errors::check(
        &simulcast_room(two, "receivers = 2\nlayer = \"best\""),
        12,
        9,
        "group[0].layer",
        "unknown variant `best`",
    );
}
