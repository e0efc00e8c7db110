//! The layer against known truths: delay, jitter, loss, caps and outages realised as asked.

use super::*;

const TO: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

/// Pushes `count` numbered datagrams of `size` bytes every `every`, polling as it goes;
/// returns (number, delay) of each datagram out, in the order they came out.
fn run(
    spec: ImpairSpec,
    count: u64,
    every: Duration,
    size: usize,
) -> (Vec<(u64, Duration)>, Direction) {
    let t0 = Instant::now();
    let mut d = Direction::new(spec, 7, t0);
    let mut out = Vec::new();
    let take = |d: &mut Direction, now: Instant, out: &mut Vec<(u64, Duration)>| {
        while let Some((_, bytes)) = d.poll(now) {
            let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            out.push((n, now - (t0 + every * n as u32)));
        }
    };
    for n in 0..count {
        let now = t0 + every * n as u32;
        let mut bytes = n.to_le_bytes().to_vec();
        bytes.resize(size.max(8), 0);
        d.push(now, TO, bytes);
        take(&mut d, now, &mut out);
        // Event-driven until the next push: every datagram is taken the instant it is due.
        let next = now + every;
        while let Some(due) = d.next_due().filter(|due| *due < next) {
            take(&mut d, due.max(now), &mut out);
        }
    }
    // Drain in 1 ms steps.
    let mut now = t0 + every * count as u32;
    while let Some(due) = d.next_due() {
        now = now.max(due);
        take(&mut d, now, &mut out);
        now += Duration::from_micros(100);
    }
    (out, d)
}

#[test]
fn gilbert_elliott_gives_its_mean_loss_and_burst_length() {
    for (loss, burst) in [(0.05, 2.0), (0.2, 4.0), (0.3, 8.0)] {
        let spec = ImpairSpec {
            loss,
            burst: Some(burst),
            ..ImpairSpec::default()
        };
        let (out, d) = run(spec, 100_000, Duration::from_micros(100), 8);
        let delivered: Vec<u64> = out.iter().map(|(n, _)| *n).collect();
        let realised = 1.0 - delivered.len() as f64 / 100_000.0;
        // Lost runs: gaps between consecutive delivered numbers.
        let bursts: Vec<u64> = delivered
            .windows(2)
            .map(|w| w[1] - w[0] - 1)
            .filter(|&g| g > 0)
            .collect();
        let mean_burst = bursts.iter().sum::<u64>() as f64 / bursts.len() as f64;
        assert!(
            (realised / loss - 1.0).abs() < 0.10,
            "loss {realised} for {loss}"
        );
        assert!(
            (mean_burst / burst - 1.0).abs() < 0.10,
            "burst {mean_burst} for {burst}"
        );
        let r = d.realised();
        assert!((r.loss_pct() / 100.0 - realised).abs() < 1e-9);
    }
}

#[test]
fn jitter_keeps_order_unless_reordering_is_asked_for() {
    let base = ImpairSpec {
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(20),
        ..ImpairSpec::default()
    };
    let (ordered, _) = run(base.clone(), 5_000, Duration::from_millis(2), 100);
    assert_eq!(ordered.len(), 5_000);
    assert!(ordered.windows(2).all(|w| w[0].0 < w[1].0), "overtook");
    let (lo, hi) = (Duration::from_millis(30), Duration::from_micros(70_200));
    assert!(ordered.iter().all(|(_, d)| *d >= lo && *d <= hi));
    let (mixed, d) = run(
        ImpairSpec {
            reorder: true,
            ..base
        },
        5_000,
        Duration::from_millis(2),
        100,
    );
    let overtaken = mixed.windows(2).filter(|w| w[1].0 < w[0].0).count();
    assert!(overtaken > 500, "{overtaken} reorderings");
    assert!(mixed.iter().all(|(_, d)| *d >= lo && *d <= hi));
    // Uniform ± 20 ms around 50 ms: the mean is 50 ms within half a millisecond.
    let mean = d.realised().mean_delay_ms();
    assert!((mean - 50.0).abs() < 0.5, "{mean}");
}

#[test]
fn a_rate_cap_holds_the_rate_and_drops_past_its_queue() {
    // 2 Mbps offered (1250 B every 5 ms) into a 1 Mbps cap with a 25 kB queue, for 4 s.
    let spec = ImpairSpec {
        rate_bps: Some(1_000_000),
        queue_bytes: 25_000,
        ..ImpairSpec::default()
    };
    let (out, d) = run(spec, 800, Duration::from_millis(5), 1250);
    let last = out
        .iter()
        .map(|(n, delay)| Duration::from_millis(5) * *n as u32 + *delay)
        .max()
        .unwrap();
    let bits = out.len() as f64 * 1250.0 * 8.0;
    let rate = bits / last.as_secs_f64();
    assert!(rate <= 1_000_000.0 * 1.01 && rate > 950_000.0, "{rate} bps");
    let r = d.realised();
    assert!(
        (45.0..55.0).contains(&r.loss_pct()),
        "{} % dropped",
        r.loss_pct()
    );
    // The queue adds at most its own depth of delay: 25 kB at 1 Mbps is 200 ms.
    assert!(out.iter().all(|(_, d)| *d <= Duration::from_millis(211)));
}

#[test]
fn an_outage_drops_everything_inside_its_window_only() {
    let spec = ImpairSpec {
        outages: vec![(Duration::from_secs(1), Duration::from_secs(2))],
        ..ImpairSpec::default()
    };
    let (out, d) = run(spec, 300, Duration::from_millis(10), 8);
    let got: Vec<u64> = out.iter().map(|(n, _)| *n).collect();
    assert_eq!(got, (0..100).chain(200..300).collect::<Vec<_>>());
    assert_eq!(d.realised().dropped, 100);
}

#[test]
fn duplicates_come_out_but_count_once() {
    let spec = ImpairSpec {
        duplicate: 0.2,
        ..ImpairSpec::default()
    };
    let (out, d) = run(spec, 10_000, Duration::from_millis(1), 8);
    let copies = out.len() as f64 / 10_000.0 - 1.0;
    assert!((copies - 0.2).abs() < 0.02, "{copies} copies per datagram");
    let r = d.realised();
    assert_eq!((r.sent, r.delivered, r.dropped), (10_000, 10_000, 0));
}

#[test]
fn a_schedule_changes_the_impairment_at_its_instants() {
    let lossy = ImpairSpec {
        loss: 0.3,
        delay: Duration::from_millis(40),
        ..ImpairSpec::default()
    };
    let spec = ImpairSpec {
        delay: Duration::from_millis(10),
        phases: vec![
            (Duration::from_secs(2), lossy),
            (Duration::from_secs(4), ImpairSpec::default()),
        ],
        ..ImpairSpec::default()
    };
    let (out, d) = run(spec, 6_000, Duration::from_millis(1), 8);
    let lost_in = |from: u64, to: u64| {
        let got = out.iter().filter(|(n, _)| (from..to).contains(n)).count();
        1.0 - got as f64 / (to - from) as f64
    };
    assert_eq!(lost_in(0, 2_000), 0.0);
    assert!((lost_in(2_000, 4_000) - 0.3).abs() < 0.03);
    assert_eq!(lost_in(4_000, 6_000), 0.0);
    let phases = d.realised_phases();
    assert_eq!(phases.len(), 3);
    assert_eq!(
        phases.iter().map(|p| p.sent).collect::<Vec<_>>(),
        [2_000; 3]
    );
    let delays: Vec<f64> = phases.iter().map(|p| p.mean_delay_ms()).collect();
    assert!(
        (delays[0] - 10.0).abs() < 0.2 && (delays[1] - 40.0).abs() < 0.2,
        "{delays:?}"
    );
    // The first datagrams after the change wait behind the last 40 ms ones (one queue).
    assert!(delays[2] < 1.0, "{delays:?}");
    assert!((phases[1].loss_pct() - 30.0).abs() < 3.0);
}

#[test]
fn random_loss_is_what_was_asked() {
    for loss in [0.1, 0.3] {
        let spec = ImpairSpec {
            loss,
            ..ImpairSpec::default()
        };
        let (out, d) = run(spec, 100_000, Duration::from_micros(100), 8);
        let realised = 1.0 - out.len() as f64 / 100_000.0;
        eprintln!("asked {loss}, realised {realised}");
        assert!((realised - loss).abs() < 0.005, "{realised} for {loss}");
        assert!((d.realised().loss_pct() / 100.0 - realised).abs() < 1e-9);
    }
}
