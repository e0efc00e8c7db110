//! A capacity search finds the knee: against a reference SFU that caps rooms at 10 viewers, the
//! audience climbs 4, 8, 12, 16; the step to 12 is the first whose joins fail, the gate on join
//! success names it, and rtcbench, lightly loaded, says the limit is the provider's.

use crate::common;

use rtcbench::results::RunResults;
use rtcbench::sfu::server::{self, ServerOptions};
use std::net::SocketAddr;
use std::process::Command;

const SEARCH: &str = r#"name = "knee"
duration = "20s"
transport = "webrtc"
[video]
width = 320
height = 180
bitrate = "300kbps"
[[group]]
name = "audience"
room = "capped"
probes = 1
[capacity]
group = "audience"
start = 4
step = 4
max = 16
rise = "1s"
hold = "3s"
[[gate]]
metric = "join_success_pct"
above = 99
[[gate]]
metric = "e2e_latency_ms"
stat = "p95"
below = 200
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_step_past_the_room_cap_is_the_knee_and_the_provider_is_named() {
    let _heavy = common::heavy().await;
    rtcbench::client::init_crypto();
    let options = ServerOptions {
        max_viewers_per_room: Some(10),
        ..ServerOptions::default()
    };
    let sfu = server::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .unwrap();
    let dir = common::temp_dir("capacity");
    std::fs::write(dir.join("search.toml"), SEARCH).unwrap();
    let base = format!("http://{}", sfu.http_addr);
    common::whip_whep_provider(&dir, "capped", &base, "");
    let out = dir.join("out");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtcbench"));
    command
        .arg("run")
        .arg(dir.join("search.toml"))
        .arg("--provider")
        .arg(dir.join("capped.toml"))
        .arg("--out")
        .arg(&out);
    let run = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("rtcbench runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}");
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let c = r.capacity.expect("capacity result");
    let levels: Vec<u32> = c.steps.iter().map(|s| s.level).collect();
    assert_eq!(levels, vec![4, 8, 12, 16]);
    assert_eq!(c.last_held, Some(8));
    assert_eq!(c.first_broken, Some(12));
    assert!(
        c.broken_by
            .iter()
            .any(|b| b.starts_with("join_success_pct > 99")),
        "{:?}",
        c.broken_by
    );
    // Two of the four joins of the step to 12 were refused: 50 % joined.
    let step12 = &c.steps[2];
    assert_eq!(step12.gates[0].observed, Some(50.0));
    assert_eq!(c.limit, "provider");
    assert!(!step12.generator_saturated);
    assert!(stdout.contains("broke at 12"), "{stdout}");
    // Failed joins past the knee are the search's finding, not a failed run.
    assert_eq!(run.status.code(), Some(0));
    // The search is judged step by step, not by whole-run gates.
    assert!(r.gates.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}
