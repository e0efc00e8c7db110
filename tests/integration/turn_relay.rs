//! ICE servers handed out in WHIP/WHEP Link headers are used: with a real TURN server (coturn)
//! on 127.0.0.1, a relay-only run carries all media through TURN allocations, a STUN server is
//! queried, and a TURN server that refuses our credentials shows up as a failed join with a note.
//! `.ci/run` installs coturn; without `turnserver` on PATH the test says so and passes.

use crate::common;

use common::Running;
use rtcbench::results::{GroupResult, RunResults};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const USER: &str = "bench";
const SECRET: &str = "relay-secret";

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn turnserver(port: u16) -> Option<Running> {
    let child = Command::new("turnserver")
        .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp"])
        .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
        .arg(format!("--listening-port={port}"))
        .args(["--lt-cred-mech", "--realm=rtcbench"])
        .arg(format!("--user={USER}:{SECRET}"))
        // The SFU is on loopback too; coturn refuses loopback peers unless told.
        .arg("--allow-loopback-peers")
        .arg("--log-file=stdout")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(c) => Some(Running(c)),
        Err(e) => {
            eprintln!("skipped: cannot start turnserver (apt-get install coturn): {e}");
            None
        }
    }
}

/// A reference SFU in its own process that hands out `ice_servers`; returns its base URL.
fn reference_sfu(ice_servers: &[String], credential: &str) -> (Running, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtcbench"));
    command.args(["serve-reference", "--listen", "127.0.0.1:0"]);
    for s in ice_servers {
        command.args(["--ice-server", s]);
    }
    let mut child = command
        .args([
            "--ice-username",
            USER,
            "--ice-credential-env",
            "TEST_TURN_SECRET",
        ])
        .env("TEST_TURN_SECRET", credential)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve-reference starts");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    let whip = banner
        .split_whitespace()
        .nth(3)
        .expect("WHIP URL")
        .to_string();
    (
        Running(child),
        whip.trim_end_matches("/whip/{room}").to_string(),
    )
}

const ROOM: &str = r#"name = "ice-servers"
duration = "4s"
transport = "webrtc"
[video]
width = 320
height = 180
bitrate = "300kbps"
[[group]]
name = "room"
receivers = 2
probes = 1
"#;

/// Runs the room against `base` with `policy`; returns the group and the exit code.
fn run_room(dir: &Path, name: &str, base: &str, policy: &str) -> (GroupResult, Option<i32>) {
    let provider = common::whip_whep_provider(
        dir,
        name,
        base,
        &format!("ice_transport_policy = \"{policy}\"\nstep_timeout = \"4s\"\n"),
    );
    let scenario = dir.join("room.toml");
    std::fs::write(&scenario, ROOM).unwrap();
    let out = dir.join(format!("out-{name}"));
    let run = Command::new(env!("CARGO_BIN_EXE_rtcbench"))
        .args(["run", scenario.to_str().unwrap(), "--provider"])
        .arg(&provider)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("rtcbench runs");
    let results = RunResults::read(&out.join("run.json")).unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let group = results.group("room").expect("group").clone();
    eprintln!(
        "{name}: exit {:?}, join {}%, e2e p95 {:?} ms, notes {:?}",
        run.status.code(),
        group.totals.join_success_pct,
        group.sessions[0].e2e_latency_p95_ms,
        group.notes
    );
    (group, run.status.code())
}

#[test]
fn link_header_ice_servers_are_used_stun_and_turn() {
    let _heavy = common::heavy_blocking();
    let port = free_udp_port();
    let Some(_turn) = turnserver(port) else {
        return;
    };
    std::thread::sleep(Duration::from_millis(300));
    let turn_url = format!("turn:127.0.0.1:{port}?transport=udp");
    let stun_url = format!("stun:127.0.0.1:{port}");
    let dir = common::temp_dir("turn-relay");

    // Relay only: our peers offer no host candidate, so every packet goes through coturn.
    let (_good, good_base) = reference_sfu(&[turn_url.clone(), stun_url.clone()], SECRET);
    let (relayed, code) = run_room(&dir, "relay-only", &good_base, "relay");
    assert_eq!(code, Some(0));
    assert_eq!(relayed.totals.join_success_pct, 100.0);
    assert_eq!(relayed.totals.packet_loss_pct, 0.0);
    let probe = &relayed.sessions[0];
    assert!(probe.psnr_db.is_some_and(|db| db > 30.0));
    assert!(probe.e2e_latency_p95_ms.is_some_and(|ms| ms < 50.0));
    let trickled =
        format!("turn:127.0.0.1:{port}?transport=udp: relayed candidate gathered and trickled");
    assert_eq!(
        relayed.notes.get(&trickled),
        Some(&3),
        "host and two viewers"
    );

    // All candidates: the STUN server is asked too; on loopback it sees our host address.
    let (all, code) = run_room(&dir, "all", &good_base, "all");
    assert_eq!(code, Some(0));
    assert_eq!(all.totals.join_success_pct, 100.0);
    let same =
        format!("stun:127.0.0.1:{port}: gave no new candidate (same address as one we have)");
    assert_eq!(all.notes.get(&same), Some(&3), "{:?}", all.notes);
    assert_eq!(all.notes.get(&trickled), Some(&3));

    // A TURN server that refuses our credential: relay-only sessions cannot connect.
    let (_bad, bad_base) = reference_sfu(&[turn_url], "wrong-secret");
    let (refused, code) = run_room(&dir, "refused", &bad_base, "relay");
    assert_eq!(code, Some(3), "sessions failed");
    assert_eq!(refused.totals.join_success_pct, 0.0);
    assert!(refused
        .sessions
        .iter()
        .all(|s| s.failure.as_ref().is_some_and(|f| f.step == "connect")));
    assert!(
        refused
            .notes
            .keys()
            .any(|n| n.contains("turn:127.0.0.1")
                && (n.contains("allocation") || n.contains("refused"))),
        "{:?}",
        refused.notes
    );
    std::fs::remove_dir_all(&dir).ok();
}
