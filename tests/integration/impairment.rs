//! Calibration of the user-space impairment layer through real WebRTC sessions on the embedded
//! provider: a known one-way delay must show up in end-to-end latency, and a known random loss
//! must be what the layer realised and what the receivers report.

use crate::common;

use rtcbench::metrics::Metric;

const GROUPS: &str = r#"
[network.far]
delay = "100ms"
[network.loss10]
loss = "10%"
reorder = false
[network.loss30]
loss = "30%"
reorder = false

[[group]]
name = "clean"
receivers = 2
networks = [{ profile = "far", share = "50%" }]
[[group]]
name = "loss10"
receivers = 4
network = "loss10"
[[group]]
name = "loss30"
receivers = 4
network = "loss30"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_delay_and_loss_are_realised_and_reported() {
    delay_and_loss_are_realised_and_reported("full").await;
}

/// The same truths through the light viewer's own receive path: its NACKs and the server's
/// retransmissions repair as str0m's do, and what it reports is held to the same tolerances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_light_viewer_reports_added_delay_and_loss_as_the_full_one_does() {
    delay_and_loss_are_realised_and_reported("light").await;
}

async fn delay_and_loss_are_realised_and_reported(client: &str) {
    let _heavy = common::heavy().await;
    let dir = common::temp_dir(&format!("impairment-{client}"));
    let toml = format!(
        "viewer_client = \"{client}\"\n{}{GROUPS}",
        common::small_webrtc("impairment", "10s")
    );
    let r = common::run_in_process(&dir, &toml, 5, vec![]).await;
    let p50 = |g: &str| {
        r.group(g)
            .and_then(|g| g.metric(Metric::E2eLatencyMs))
            .map(|m| m.summary.p50)
            .unwrap_or_else(|| panic!("no e2e latency in {g}"))
    };
    // Half the room's viewers are on "far": reported as their own group, same publisher.
    for g in ["clean", "clean@far"] {
        assert_eq!(r.group(g).map(|g| g.sessions.len()), Some(1), "{g}");
    }
    let (clean, far) = (p50("clean"), p50("clean@far"));
    eprintln!("{client}: e2e p50: clean {clean:.2} ms, +100 ms delay {far:.2} ms");
    // Tolerance: ±3 ms (the issue's bar) around the injected 100 ms.
    assert!(
        (far - clean - 100.0).abs() <= 3.0,
        "clean {clean}, far {far}"
    );
    let realised_far = r.group("clean@far").unwrap().link.mean_delay_ms();
    // Never less than asked; a little more when the runtime wakes the client late (CI load).
    assert!(
        (100.0..103.0).contains(&realised_far),
        "layer delay {realised_far}"
    );
    for (g, want) in [("loss10", 10.0), ("loss30", 30.0)] {
        let group = r.group(g).unwrap();
        let realised = group.link.loss_pct();
        // With a network that does not reorder, every late packet is a retransmission: lost
        // before repair is what the layer dropped; what stays lost is far less (NACK/RTX).
        let reported = group.totals.packet_loss_before_repair_pct;
        let residual = group.totals.packet_loss_pct;
        eprintln!(
            "{client} {g}: realised {realised:.2} % of {} datagrams, reported {reported:.2} % before repair, {residual:.2} % after",
            group.link.sent
        );
        assert!(group.link.sent > 4000, "{g}: {} datagrams", group.link.sent);
        assert!((realised - want).abs() <= 1.5, "{g}: realised {realised}");
        assert!(
            (reported - realised).abs() <= 1.5,
            "{g}: reported {reported}, realised {realised}"
        );
        assert!(residual < reported, "{g}: repair did nothing");
        // At 30 % loss each way a DTLS flight and its answer both arrive 49 % of the time, so
        // a handshake can need several of the (doubling) retransmissions: one viewer of four
        // may still be connecting when this 10 s run ends. At 10 % all must join.
        let failed: Vec<_> = group.sessions.iter().filter(|s| !s.joined).collect();
        let allowed = if want >= 30.0 { 1 } else { 0 };
        assert!(
            failed.len() <= allowed,
            "{g} did not join: {:?}",
            failed
                .iter()
                .map(|s| (&s.id, &s.failure))
                .collect::<Vec<_>>()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_behind_a_1_mbps_cap_adapts_its_2_mbps_stream() {
    let _heavy = common::heavy().await;
    let dir = common::temp_dir("impairment-cap");
    let toml = r#"name = "cap"
duration = "20s"
transport = "webrtc"
[video]
width = 640
height = 360
bitrate = "2Mbps"
[network.cap]
rate = "1Mbps"
queue = "200ms"
[[group]]
name = "capped"
receivers = 1
publisher_network = "cap"
"#;
    let r = common::run_in_process(&dir, toml, 9, vec![]).await;
    let g = r.group("capped").unwrap();
    let kbps = g.metric(Metric::BitrateKbps).expect("bit rate per second");
    let loss = g.metric(Metric::PacketLossPct).expect("loss per second");
    let per_s: Vec<(f64, f64, f64)> = kbps
        .intervals
        .iter()
        .zip(&loss.intervals)
        .filter(|(k, _)| k.summary.count > 0)
        .map(|(k, l)| (k.start_s, k.summary.mean, l.summary.mean))
        .collect();
    eprintln!("second, received kbps, loss %: {per_s:.0?}");
    let up = g.publisher_link;
    eprintln!(
        "publisher's link: {} sent, {:.2} % dropped",
        up.sent,
        up.loss_pct()
    );
    // At or under the cap all along (video payload; the cap also carries audio and headers).
    assert!(per_s.iter().all(|&(_, k, _)| k <= 1000.0), "{per_s:?}");
    // Adapted within 10 s: from then on the queue no longer overflows.
    let settled: Vec<_> = per_s.iter().filter(|(t, _, _)| *t >= 10.0).collect();
    assert!(settled.len() >= 8);
    // A sender that kept sending 2 Mbps would lose about half; its bandwidth probes above the
    // cap still cost a few percent in some seconds (up to 7 % seen under CI load).
    let mean_loss = settled.iter().map(|&&(_, _, l)| l).sum::<f64>() / settled.len() as f64;
    assert!(
        mean_loss < 5.0,
        "mean loss {mean_loss} % after 10 s: {settled:?}"
    );
    assert!(settled.iter().all(|&&(_, _, l)| l < 15.0), "{settled:?}");
    assert!(
        settled.iter().all(|&&(_, k, _)| k > 300.0),
        "collapsed: {settled:?}"
    );
    assert!(
        up.sent > 1000 && up.dropped > 0,
        "the cap never bit: {up:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_or_blackhole_is_one_freeze_and_a_measured_recovery_and_schedules_switch() {
    let _heavy = common::heavy().await;
    let dir = common::temp_dir("impairment-outage");
    let toml = format!(
        "{}{}",
        common::small_webrtc("outage", "12s"),
        r#"
[network.blip]
outages = [{ start = "4s", end = "7s" }]
[network.lossy]
loss = "20%"
reorder = false
[network.flaky]
schedule = [{ at = "4s", profile = "lossy" }, { at = "8s", profile = "clean" }]
[[group]]
name = "flaky"
receivers = 2
network = "flaky"
[[group]]
name = "outage"
receivers = 2
network = "blip"
[[group]]
name = "dark"
receivers = 2
[[group]]
name = "bystander"
receivers = 1
[[fault]]
kind = "blackhole"
start = "4s"
end = "7s"
groups = ["dark"]
"#
    );
    let r = common::run_in_process(&dir, &toml, 3, vec![]).await;
    for name in ["outage", "dark"] {
        let g = r.group(name).unwrap();
        let longest = g.metric(Metric::FreezeDurationMs).unwrap().summary.max;
        for s in &g.sessions {
            eprintln!(
                "{}: recovery {:?} ms, longest freeze {longest:.0} ms, {} frames lost, {} drops",
                s.id, s.recovery_ms, s.frames_lost, s.reconnects.drops
            );
            // One fault, one recovery; 3 s of silence is not a lost connection (5 s is).
            assert_eq!(s.recovery_ms.len(), 1, "{}", s.id);
            assert_eq!((s.reconnects.drops, s.unrecovered), (0, 0), "{}", s.id);
            assert!(s.recovery_ms[0] < 1000.0, "{}: {:?}", s.id, s.recovery_ms);
            // 3 s at 30 fps are never shown, give or take what the recovery adds.
            let expected = 90.0 + s.recovery_ms[0] * 0.03;
            assert!(
                (s.frames_lost as f64 - expected).abs() <= 8.0,
                "{}: {} frames lost, {expected:.0} expected",
                s.id,
                s.frames_lost
            );
        }
        // The freeze is the outage plus the wait for the first frame after it, within two
        // frame intervals.
        let worst_recovery = g
            .sessions
            .iter()
            .map(|s| s.recovery_ms[0])
            .fold(0.0, f64::max);
        assert!(
            longest >= 3000.0 && longest <= 3000.0 + worst_recovery + 67.0,
            "{name}: longest freeze {longest} ms"
        );
        assert_eq!(g.totals.reconnects.drops, 0);
    }
    // A schedule: clean, 20 % loss from 4 s to 8 s, clean again; the layer counts each phase.
    let flaky = r.group("flaky").unwrap();
    let phases: Vec<(String, f64, u64)> = flaky
        .network_phases
        .iter()
        .map(|p| (p.profile.clone(), p.link.loss_pct(), p.link.sent))
        .collect();
    eprintln!("flaky phases (profile, realised loss %, datagrams): {phases:.2?}");
    assert_eq!(phases.len(), 3);
    assert!(phases[0].1 < 0.5 && phases[2].1 < 0.5, "{phases:?}");
    assert!((phases[1].1 - 20.0).abs() <= 2.0, "{phases:?}");
    assert!(phases.iter().all(|p| p.2 > 500), "{phases:?}");
    let loss = flaky.metric(Metric::PacketLossPct).unwrap();
    let before = loss.window_summary(5.0, 8.0).mean;
    let after = loss.window_summary(9.0, 12.0).mean;
    assert!(
        before > after,
        "viewers' loss {before} in the lossy phase, {after} after"
    );
    // The blackhole was for "dark" only.
    let bystander = r.group("bystander").unwrap();
    assert!(bystander.sessions[0].recovery_ms.is_empty());
    assert!(bystander.sessions[0].frames_lost < 5);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_provider_is_rejoined_once_its_signalling_answers() {
    let _heavy = common::heavy().await;
    let dir = common::temp_dir("impairment-restart");
    let toml = format!(
        "{}{}",
        common::small_webrtc("restart", "16s"),
        r#"
[reconnect]
after = "2s"
backoff = "300ms"
[[group]]
name = "room"
receivers = 2
[[fault]]
kind = "restart"
start = "5s"
end = "7s"
[[fault]]
kind = "signalling-error"
start = "7s"
end = "9s"
status = 500
"#
    );
    let r = common::run_in_process(&dir, &toml, 4, vec![]).await;
    let g = r.group("room").unwrap();
    for s in &g.sessions {
        eprintln!(
            "{}: drops {}, rejoins {}, failed attempts {}, recovery {:?} ms, {} frames lost",
            s.id,
            s.reconnects.drops,
            s.reconnects.rejoins,
            s.reconnects.rejoin_failures,
            s.recovery_ms,
            s.frames_lost
        );
        // Silent from 5 s, lost at 7 s; attempts fail on the 500s until 9 s, then one holds.
        assert_eq!(
            (s.reconnects.drops, s.reconnects.rejoins),
            (1, 1),
            "{}",
            s.id
        );
        assert!(s.reconnects.rejoin_failures >= 1, "{}", s.id);
        assert_eq!(s.recovery_ms.len(), 1, "{}", s.id);
        let recovery = s.recovery_ms[0];
        assert!((2000.0..4000.0).contains(&recovery), "{}: {recovery}", s.id);
        assert!(s.joined && s.failure.is_none(), "{}", s.id);
    }
    assert_eq!(g.totals.reconnect_success_pct, Some(100.0));
    let p = g.publisher_reconnects;
    assert_eq!((p.drops, p.rejoins), (1, 1), "publisher: {p:?}");
    assert!(g.publisher_failures.is_empty());
    // Media flowed again after the rejoin: frames rendered in the last seconds.
    let fps = g.metric(Metric::Fps).unwrap();
    let late: Vec<f64> = fps
        .intervals
        .iter()
        .filter(|i| i.start_s >= 12.0 && i.summary.count > 0)
        .map(|i| i.summary.mean)
        .collect();
    assert!(
        late.iter().all(|&f| f > 20.0),
        "fps after the rejoin: {late:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
