//! The reference SFU split into media workers: viewers of one room land on different workers,
//! each gets the publisher's packets relayed from the publisher's worker, a viewer's key-frame
//! request crosses workers (the stream's own key frames are 20 s apart, so a viewer that waited
//! for one would show nothing), and the room's cap holds across workers.

use crate::common;

use rtcbench::results::RunResults;
use rtcbench::sfu::server::{self, ServerOptions};
use std::net::SocketAddr;

const SCENARIO: &str = r#"name = "workers"
duration = "9s"
transport = "webrtc"
[video]
width = 320
height = 180
bitrate = "300kbps"
keyframe_interval = "20s"
[[group]]
name = "audience"
room = "spread"
receivers = 7
probes = 1
stagger = "700ms"
"#;

const WORKERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_every_worker_see_the_publisher_and_the_room_cap_holds_across_workers() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let options = ServerOptions {
        max_viewers_per_room: Some(6),
        workers: WORKERS,
        ..ServerOptions::default()
    };
    let sfu = server::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .unwrap();
    assert_eq!(sfu.media_addrs.len(), WORKERS);
    let dir = common::temp_dir("sfu-workers");
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let provider = common::whip_whep_provider(
        &dir,
        "three-workers",
        &format!("http://{}", sfu.http_addr),
        "",
    );
    let out = dir.join("out");
    let mut command = common::bin();
    command
        .arg("run")
        .arg(&scenario)
        .arg("--provider")
        .arg(&provider)
        .arg("--out")
        .arg(&out);
    let run = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("rtcbench runs");
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let sessions = &r.groups[0].sessions;
    assert_eq!(sessions.len(), 7);
    let (joined, refused): (Vec<_>, Vec<_>) = sessions.iter().partition(|s| s.joined);
    assert_eq!(joined.len(), 6, "the room takes 6 viewers over all workers");
    let reason = &refused[0].failure.as_ref().expect("why refused").reason;
    assert!(reason.contains("full"), "{reason}");
    for s in &joined {
        let connect = s.connect_ms.expect("connect time");
        eprintln!(
            "{}: connect {connect:.0} ms, {} frames, loss {:.2} %",
            s.id, s.frames_rendered, s.packet_loss_pct
        );
        // Joins go to the workers in turn, 700 ms apart: a viewer whose key-frame request stayed
        // on its own worker would wait for the next join on the publisher's worker (1.4 s), or
        // for the stream's next key frame (20 s).
        assert!(connect < 600.0, "{}: first frame after {connect} ms", s.id);
        assert!(
            s.frames_rendered >= 90,
            "{}: {} frames",
            s.id,
            s.frames_rendered
        );
        assert!(
            s.packet_loss_pct < 1.0,
            "{}: loss {}",
            s.id,
            s.packet_loss_pct
        );
    }
    // The track-seconds the SFU counts (its cost's denominator) are what the viewers watched:
    // two tracks each from first frame to leaving, within the 100 ms the count is taken at.
    let watched: f64 = joined
        .iter()
        .map(|s| {
            let from = s.planned_join_s.unwrap() + s.connect_ms.unwrap() / 1e3;
            2.0 * (s.left_s.unwrap() - from)
        })
        .sum();
    let snapshot = sfu.cost_snapshot(0.0);
    let counted: f64 = snapshot.workers.iter().map(|s| s.track_s).sum();
    eprintln!("track-seconds: counted {counted:.1}, watched {watched:.1}");
    assert!(
        (counted - watched).abs() <= 0.1 * watched,
        "counted {counted:.1} track-s, viewers watched {watched:.1}"
    );
    for (index, worker) in snapshot.workers.iter().enumerate() {
        assert!(
            worker.forwarded > 500,
            "worker {index} forwarded {}",
            worker.forwarded
        );
        assert_eq!(worker.relay_dropped, 0);
    }
    std::fs::remove_dir_all(&dir).ok();
}
