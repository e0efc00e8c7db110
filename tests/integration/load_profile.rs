//! Load profiles become planned join and leave instants: exact, and the same for the same seed.

use rtcbench::plan;
use rtcbench::scenario;

const BIG_SALE: &str = r#"name = "profile"
duration = "90s"
transport = "webrtc"
[[group]]
name = "audience"
probe_share = "2%"
[[group.stages]]
ramp = "20s"
to = 200
[[group.stages]]
step = "2s"
to = 500
[[group.stages]]
hold = "30s"
[[group.stages]]
pulse = "5s"
to = 700
[[group.stages]]
hold = "10s"
[[group.stages]]
pulse = "5s"
to = 700
"#;

const MS: u64 = 1000;
const S: u64 = 1_000_000;

fn expected_joins() -> Vec<u64> {
    let mut joins = Vec::new();
    // Ramp 0 → 200 over 20 s: one join every 100 ms.
    joins.extend((1..=200).map(|k| k * 100 * MS));
    // Step 200 → 500 within 2 s, from 20 s.
    joins.extend((1..=300u64).map(|k| 20 * S + k * 2 * S / 300));
    // Pulses to 700 at 52 s and 67 s: 200 extra viewers over the 1 s rise.
    for start in [52 * S, 67 * S] {
        joins.extend((1..=200u64).map(|k| start + k * S / 200));
    }
    joins
}

#[test]
fn ramp_step_hold_and_pulses_join_on_the_intended_instants() {
    let s = scenario::parse(BIG_SALE, "profile.toml").expect("valid");
    let p = plan::build(&s, 5, None);
    let g = &p.groups[0];
    let joins: Vec<u64> = g.receivers.iter().map(|r| r.join_us).collect();
    let want = expected_joins();
    assert_eq!(joins.len(), want.len());
    let worst = joins
        .iter()
        .zip(&want)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    eprintln!("{} planned joins, worst error {worst} µs", joins.len());
    assert!(worst <= MS, "worst error {worst} µs");
    // The pulse viewers leave over the last second of each pulse, the newest first.
    let leaves: Vec<u64> = g.receivers.iter().filter_map(|r| r.leave_us).collect();
    assert_eq!(leaves.len(), 400);
    assert!(leaves
        .iter()
        .all(|&l| (56 * S..=57 * S).contains(&l) || (71 * S..=72 * S).contains(&l)));
    let at = |t: u64| {
        plan::profile::concurrency_at(
            &g.receivers
                .iter()
                .map(|r| plan::profile::Session {
                    join_us: r.join_us,
                    leave_us: r.leave_us,
                })
                .collect::<Vec<_>>(),
            t,
        )
    };
    assert_eq!(
        (at(10 * S), at(22 * S), at(54 * S), at(60 * S), at(69 * S)),
        (100, 500, 700, 500, 700)
    );
    // 2 % of sessions are probes, spread through the run.
    let probes = g
        .receivers
        .iter()
        .filter(|r| r.role == rtcbench::media::receiver::Role::Probe)
        .count();
    assert_eq!(probes, 18);
}

#[test]
fn the_same_seed_gives_the_same_plan_and_churn_depends_on_it() {
    let churned = BIG_SALE.replace(
        "probe_share = \"2%\"",
        "probe_share = \"2%\"\nchurn_per_min = \"20%\"",
    );
    let s = scenario::parse(&churned, "churn.toml").expect("valid");
    let instants = |seed| {
        plan::build(&s, seed, None).groups[0]
            .receivers
            .iter()
            .map(|r| (r.join_us, r.leave_us))
            .collect::<Vec<_>>()
    };
    assert_eq!(instants(5), instants(5));
    assert_ne!(instants(5), instants(6));
    assert!(instants(5).len() > 900, "churn adds rejoins");
}

#[test]
fn stage_mistakes_are_named() {
    let bad = |from: &str, to: &str| {
        let src = BIG_SALE.replacen(from, to, 1);
        scenario::parse(&src, "bad.toml")
            .expect_err("rejected")
            .to_string()
    };
    let e = bad(
        "step = \"2s\"\nto = 500",
        "step = \"2s\"\nhold = \"1s\"\nto = 500",
    );
    assert!(
        e.contains("stages[1].ramp") && e.contains("exactly one of"),
        "{e}"
    );
    let e = bad("step = \"2s\"\nto = 500", "step = \"2s\"\nrate = 5.0");
    assert!(
        e.contains("stages[1].rate") && e.contains("all stages"),
        "{e}"
    );
    let e = bad("name = \"audience\"", "name = \"audience\"\nreceivers = 3");
    assert!(
        e.contains("receivers") && e.contains("stages set the audience"),
        "{e}"
    );
    let e = bad("transport = \"webrtc\"", "transport = \"simulated\"");
    assert!(e.contains("stages") && e.contains("webrtc"), "{e}");
}
