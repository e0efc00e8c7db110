//! Known truths injected through the simulated link; the harness must report them.

use crate::common;
use crate::common::*;
use rtcbench::metrics::Metric;

const SMALL_VIDEO: &str = r#"
[video]
width = 320
height = 180
fps = 30
bitrate = "1Mbps"
"#;

#[test]
fn injected_one_way_delay_adds_to_e2e_latency_within_2ms() {
    let _heavy = common::heavy_blocking();
    let toml = format!(
        r#"name = "delay"
duration = "6s"
{SMALL_VIDEO}
[network.d50]
delay = "50ms"
[network.d150]
delay = "150ms"
[[group]]
name = "base"
receivers = 2
probes = 1
[[group]]
name = "d50"
receivers = 2
probes = 1
network = "d50"
[[group]]
name = "d150"
receivers = 2
probes = 1
network = "d150"
"#
    );
    let groups = simulate(&toml);
    let base = quantile(group(&groups, "base"), Metric::E2eLatencyMs, 0.5);
    for (name, injected) in [("d50", 50.0), ("d150", 150.0)] {
        let p50 = quantile(group(&groups, name), Metric::E2eLatencyMs, 0.5);
        let added = p50 - base;
        eprintln!("delay {name}: e2e p50 {p50:.3} ms, baseline {base:.3} ms, added {added:.3} ms (injected {injected})");
        assert!(
            (added - injected).abs() <= 2.0,
            "{name}: p50 {p50} ms − baseline {base} ms = {added}, want {injected} ± 2"
        );
        // Audio goes the same way and must agree.
        let audio = quantile(group(&groups, name), Metric::AudioLatencyMs, 0.5)
            - quantile(group(&groups, "base"), Metric::AudioLatencyMs, 0.5);
        assert!(
            (audio - injected).abs() <= 2.0,
            "{name}: audio latency added {audio} ms"
        );
    }
}

#[test]
fn random_loss_is_reported_within_one_point() {
    let _heavy = common::heavy_blocking();
    let toml = format!(
        r#"name = "loss"
duration = "40s"
{SMALL_VIDEO}
[network.l5]
loss = "5%"
[network.l20]
loss = "20%"
[[group]]
name = "l5"
receivers = 2
probes = 0
network = "l5"
[[group]]
name = "l20"
receivers = 2
probes = 0
network = "l20"
"#
    );
    let groups = simulate(&toml);
    for (name, truth) in [("l5", 5.0), ("l20", 20.0)] {
        let g = group(&groups, name);
        for s in &g.sessions {
            assert!(
                s.packets_expected >= 5_000,
                "{}: only {} packets",
                s.id,
                s.packets_expected
            );
            assert!(
                (s.packet_loss_pct - truth).abs() <= 1.0,
                "{}: reported {:.2}% for {truth}% injected",
                s.id,
                s.packet_loss_pct
            );
        }
        // What the receivers count must match what the link dropped, not just the setting.
        let lost: u64 = g.sessions.iter().map(|s| s.packets_lost).sum();
        let expected: u64 = g.sessions.iter().map(|s| s.packets_expected).sum();
        let reported = lost as f64 * 100.0 / expected as f64;
        assert!(
            (reported - g.link.loss_pct()).abs() < 0.2,
            "{name}: reported {reported:.2}% vs realised {:.2}%",
            g.link.loss_pct()
        );
        eprintln!(
            "loss {name}: reported {reported:.3}% over {expected} packets, link realised {:.3}%",
            g.link.loss_pct()
        );
        let interval_mean = mean(g, Metric::PacketLossPct);
        assert!(
            (interval_mean - truth).abs() <= 1.0,
            "{name}: per-second loss averages {interval_mean:.2}%"
        );
    }
}

#[test]
fn jitter_is_zero_on_a_steady_link_and_as_rfc3550_predicts_with_uniform_jitter() {
    let _heavy = common::heavy_blocking();
    let toml = format!(
        r#"name = "jitter"
duration = "60s"
{SMALL_VIDEO}
[network.steady]
delay = "40ms"
[network.j20]
delay = "40ms"
jitter = "20ms"
[[group]]
name = "steady"
receivers = 1
probes = 0
network = "steady"
[[group]]
name = "j20"
receivers = 1
probes = 0
network = "j20"
"#
    );
    let groups = simulate(&toml);
    let steady = group(&groups, "steady");
    assert!(
        quantile(steady, Metric::JitterMs, 1.0) < 1.0,
        "video jitter on a steady link"
    );
    assert!(
        quantile(steady, Metric::AudioJitterMs, 1.0) < 1.0,
        "audio jitter on a steady link"
    );
    // RFC 3550 J estimates E|D|. With independent uniform ±20 ms transit, E|D| = 2·20/3 = 13.3 ms
    // for packets taken in send order, and 14.0 ms in arrival order at 20 ms spacing (packets
    // reorder); the mean of the per-second estimates must land within ±10 % of 13.3 ms.
    let audio = mean(group(&groups, "j20"), Metric::AudioJitterMs);
    eprintln!(
        "jitter: steady video max {:.4} ms, audio max {:.4} ms; ±20 ms uniform → audio mean {audio:.3} ms",
        quantile(steady, Metric::JitterMs, 1.0),
        quantile(steady, Metric::AudioJitterMs, 1.0)
    );
    assert!(
        (12.0..=14.7).contains(&audio),
        "audio jitter {audio:.2} ms with ±20 ms uniform jitter"
    );
}
