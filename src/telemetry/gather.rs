//! A reading of the live run as families: sessions against the plan, the groups' histograms,
//! HTTP side-load, the generator's own state, and the gates as judged so far.

use super::model::{Family, Kind, Labels, Series, Value};
use crate::base::cpu::generator_cpu_s;
use crate::engine::live::{Counts, Live};
use crate::metrics::Metric;
use crate::plan::Plan;
use crate::results::self_cost::saturation_reasons;
use hdrhistogram::Histogram;

fn with(base: &Labels, more: &[(&str, &str)]) -> Labels {
    let mut l = base.clone();
    l.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    l
}

/// Sessions up and planned, joins, failures by step, drops and rejoins.
pub fn sessions(live: &Live, plan: &Plan, run: &Labels) -> Vec<Family> {
    let mut up = Family::new("sessions_up", Kind::Gauge, None, "Viewer sessions up now.");
    let mut joins = Family::new(
        "joins",
        Kind::Counter,
        None,
        "Viewer sessions that came up (signalled), each once however often it rejoined.",
    );
    let mut withdrawn = Family::new(
        "joins_withdrawn",
        Kind::Counter,
        None,
        "Sessions that came up but ended without joining (no frame shown, a silent track); joined = joins - withdrawn.",
    );
    let mut failures = Family::new(
        "join_failures",
        Kind::Counter,
        None,
        "Viewer sessions that ended without joining, by the step that failed.",
    );
    let mut drops = Family::new(
        "drops",
        Kind::Counter,
        None,
        "Connections lost after joining.",
    );
    let mut rejoins = Family::new(
        "rejoins",
        Kind::Counter,
        None,
        "Lost connections a rejoin brought back.",
    );
    let mut rejoin_failures = Family::new(
        "rejoin_failures",
        Kind::Counter,
        None,
        "Rejoin attempts that failed.",
    );
    for ((group, role), c) in live.counts() {
        let l = with(run, &[("group", &group), ("role", role.name())]);
        let Counts { reconnects: r, .. } = &c;
        up.push(l.clone(), c.sessions_up as f64);
        joins.push(l.clone(), c.joins as f64);
        withdrawn.push(l.clone(), c.withdrawn as f64);
        drops.push(l.clone(), r.drops as f64);
        rejoins.push(l.clone(), r.rejoins as f64);
        rejoin_failures.push(l.clone(), r.rejoin_failures as f64);
        for (step, n) in &c.failures {
            failures.push(with(&l, &[("step", step)]), *n as f64);
        }
    }
    let mut publish_failures = Family::new(
        "publish_failures",
        Kind::Counter,
        None,
        "Publishers (hosts, call sides) that failed, by the step that failed.",
    );
    for ((group, step), n) in live.publish_failures() {
        publish_failures.push(with(run, &[("group", &group), ("step", &step)]), n as f64);
    }
    let planned = planned_sessions(live, plan, run);
    vec![
        up,
        planned,
        joins,
        withdrawn,
        failures,
        drops,
        rejoins,
        rejoin_failures,
        publish_failures,
    ]
}

/// Viewer sessions the plan has up at this instant of the run (this shard's share).
fn planned_sessions(live: &Live, plan: &Plan, run: &Labels) -> Family {
    let mut f = Family::new(
        "sessions_planned",
        Kind::Gauge,
        None,
        "Viewer sessions the plan has up at this instant (this shard's share).",
    );
    // Before the run starts, nothing is planned to be up.
    let now = live.elapsed().map(|d| d.as_micros() as u64);
    for g in &plan.groups {
        let end = g.end_us.saturating_sub(g.start_us);
        let n = g
            .receivers
            .iter()
            .filter(|r| !r.elsewhere)
            .filter(|r| {
                let from = g.start_us + r.join_us;
                let to = g.start_us + r.leave_us.unwrap_or(end);
                now.is_some_and(|now| from <= now && now < to)
            })
            .count();
        f.push(with(run, &[("group", &g.name)]), n as f64);
    }
    f
}

/// How a metric is exported: its name, base unit, the factor from its recorded value (after
/// the metric's own scale) to that unit, and bucket bounds in that unit.
struct Shape {
    base: &'static str,
    unit: Option<&'static str>,
    factor: f64,
    bounds: &'static [f64],
    help: &'static str,
}

const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
    10.0, 30.0,
];

fn shape(metric: Metric) -> Shape {
    let ms = |base, help| Shape {
        base,
        unit: Some("seconds"),
        factor: 1e-3,
        bounds: SECONDS,
        help,
    };
    match metric {
        Metric::ConnectMs => ms(
            "connect",
            "Connect time: planned dial to first frame shown.",
        ),
        Metric::FirstFrameMs => ms(
            "first_frame",
            "Time from signalling to the first frame shown.",
        ),
        Metric::E2eLatencyMs => ms(
            "e2e_latency",
            "End-to-end video latency, capture to frame complete.",
        ),
        Metric::AudioLatencyMs => ms("audio_latency", "End-to-end audio latency."),
        Metric::JitterMs => ms("jitter", "RFC 3550 interarrival jitter, video."),
        Metric::AudioJitterMs => ms("audio_jitter", "RFC 3550 interarrival jitter, audio."),
        Metric::FreezeDurationMs => ms(
            "freeze_duration",
            "Freezes (the count) and how long each lasted.",
        ),
        Metric::ScheduleSlipMs => ms(
            "schedule_slip",
            "How late planned joins started (the generator's own lateness).",
        ),
        Metric::SwitchMs => ms(
            "switch",
            "Layer or network change to the first frame of the new size.",
        ),
        Metric::RecoveryMs => ms("recovery", "Fault end to the first frame shown again."),
        Metric::HttpLatencyMs => ms(
            "http_request_duration",
            "HTTP side-load response time, by load and request.",
        ),
        Metric::PacketLossPct => Shape {
            base: "packet_loss",
            unit: Some("ratio"),
            factor: 0.01,
            bounds: &[0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
            help: "Packet loss per session-interval.",
        },
        Metric::Fps => Shape {
            base: "frame_rate",
            unit: Some("hertz"),
            factor: 1.0,
            bounds: &[
                1.0, 5.0, 10.0, 15.0, 20.0, 24.0, 25.0, 28.0, 30.0, 50.0, 60.0,
            ],
            help: "Frames shown per second, per session-interval.",
        },
        Metric::BitrateKbps => Shape {
            base: "bitrate",
            unit: Some("bits_per_second"),
            factor: 1000.0,
            bounds: &[5e4, 1e5, 2e5, 3e5, 5e5, 8e5, 1e6, 1.5e6, 2e6, 3e6, 5e6, 1e7],
            help: "Received bitrate per session-interval.",
        },
        Metric::PsnrDb => Shape {
            base: "psnr",
            unit: Some("decibels"),
            factor: 1.0,
            bounds: &[
                20.0, 25.0, 28.0, 30.0, 32.0, 34.0, 36.0, 38.0, 40.0, 45.0, 50.0,
            ],
            help: "Probes' PSNR of each frame against the source.",
        },
        Metric::Ssim => Shape {
            base: "ssim",
            unit: Some("ratio"),
            factor: 1.0,
            bounds: &[0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99],
            help: "Probes' SSIM of each frame against the source.",
        },
    }
}

/// `h` (values recorded at `metric`'s scale) as a histogram in the exported unit. The count is
/// exact; each value counts in the first bucket at or above it, read at the histogram's
/// precision (3 significant digits), as is the sum.
fn histogram_value(h: &Histogram<u64>, metric: Metric, s: &Shape) -> Value {
    let to_unit = |v: u64| v as f64 / metric.scale() * s.factor;
    let mut own = vec![0u64; s.bounds.len()];
    for v in h.iter_recorded() {
        let x = to_unit(h.highest_equivalent(v.value_iterated_to()));
        if let Some(i) = s.bounds.iter().position(|&b| x <= b) {
            own[i] += v.count_at_value();
        }
    }
    let mut below = 0;
    let buckets = s
        .bounds
        .iter()
        .zip(own)
        .map(|(&b, n)| {
            below += n;
            (b, below)
        })
        .collect();
    Value::Histogram {
        sum: h.mean() * h.len() as f64 / metric.scale() * s.factor,
        count: h.len(),
        buckets,
    }
}

/// Each group's histograms of what it measured so far. Every metric's family is declared,
/// with or without series, so what a query may name does not depend on what came in yet.
pub fn measured(live: &Live, run: &Labels) -> Vec<Family> {
    let mut families: Vec<(Metric, Family)> = Metric::ALL
        .into_iter()
        .map(|m| {
            let s = shape(m);
            (m, Family::new(s.base, Kind::Histogram, s.unit, s.help))
        })
        .collect();
    for (group, metric, h) in live.totals() {
        let Some((_, family)) = families.iter_mut().find(|(m, _)| *m == metric) else {
            continue;
        };
        family.series.push(Series {
            labels: with(run, &[("group", &group)]),
            value: histogram_value(&h, metric, &shape(metric)),
        });
    }
    families.into_iter().map(|(_, f)| f).collect()
}

/// HTTP side-load: requests by status, failures, and latency, per load and request.
pub fn http(live: &Live, run: &Labels) -> Vec<Family> {
    let mut requests = Family::new(
        "http_requests",
        Kind::Counter,
        None,
        "HTTP side-load responses, by status.",
    );
    let mut failed = Family::new(
        "http_request_failures",
        Kind::Counter,
        None,
        "HTTP side-load responses with a status the request does not accept.",
    );
    let shape = shape(Metric::HttpLatencyMs);
    let mut latency = Family::new(shape.base, Kind::Histogram, shape.unit, shape.help);
    for (load, t) in live.http() {
        let l = with(run, &[("load", &load), ("request", &t.name)]);
        for (status, n) in &t.statuses {
            requests.push(with(&l, &[("status", &status.to_string())]), *n as f64);
        }
        failed.push(l.clone(), t.fail as f64);
        latency.series.push(Series {
            labels: l,
            value: histogram_value(&t.latency.0, Metric::HttpLatencyMs, &shape),
        });
    }
    vec![requests, failed, latency]
}

/// The generator watching itself: CPU, the last interval's timer lag, memory, saturation.
pub fn generator(live: &Live, plan: &Plan, cpu_count: usize, run: &Labels) -> Vec<Family> {
    let mut cpu = Family::new(
        "generator_cpu",
        Kind::Counter,
        Some("seconds"),
        "CPU time the rtcbench process used.",
    );
    if let Some(s) = generator_cpu_s() {
        cpu.push(run.clone(), s);
    }
    let mut cores = Family::new(
        "generator_cores",
        Kind::Gauge,
        None,
        "Cores rtcbench kept busy over the last interval.",
    );
    let mut lag_p99 = Family::new(
        "generator_timer_lag_p99",
        Kind::Gauge,
        Some("seconds"),
        "How late the runtime woke timers over the last interval, p99.",
    );
    let mut lag_max = Family::new(
        "generator_timer_lag_max",
        Kind::Gauge,
        Some("seconds"),
        "How late the runtime woke timers over the last interval, worst.",
    );
    let mut rss = Family::new(
        "generator_resident",
        Kind::Gauge,
        Some("bytes"),
        "The process's resident memory.",
    );
    let mut saturated = Family::new(
        "generator_saturated",
        Kind::Gauge,
        None,
        "1 when the last interval's CPU or timer lag was enough to be mistaken for the provider's.",
    );
    if let Some(g) = live.generator() {
        let busy = g.cpu_s / (plan.interval_us as f64 / 1e6);
        cores.push(run.clone(), busy);
        lag_p99.push(run.clone(), g.lag_p99_us as f64 / 1e6);
        lag_max.push(run.clone(), g.lag_max_us as f64 / 1e6);
        if let Some(b) = g.rss_bytes {
            rss.push(run.clone(), b as f64);
        }
        let reasons = saturation_reasons(
            busy,
            cpu_count,
            g.lag_p99_us as f64 / 1e3,
            g.lag_max_us as f64 / 1e3,
            None,
            None,
        );
        saturated.push(run.clone(), f64::from(u8::from(!reasons.is_empty())));
    }
    vec![cpu, cores, lag_p99, lag_max, rss, saturated]
}

/// Gates judged on what was measured so far, for every group they cover.
pub fn gates(live: &Live, plan: &Plan, run: &Labels) -> Vec<Family> {
    let mut observed = Family::new(
        "gate_observed",
        Kind::Gauge,
        None,
        "A gate's statistic over the run so far.",
    );
    let mut passing = Family::new(
        "gate_passing",
        Kind::Gauge,
        None,
        "1 while a gate holds on what was measured so far, 0 once it does not.",
    );
    let groups: Vec<&str> = plan.groups.iter().map(|g| g.name.as_str()).collect();
    for g in &plan.gates {
        let gate = crate::scenario::gates::describe(g);
        for group in groups
            .iter()
            .filter(|n| g.group.as_deref().is_none_or(|x| x == **n))
        {
            let Some(v) = crate::engine::abort::observe(g, live, group) else {
                continue;
            };
            let l = with(run, &[("gate", &gate), ("group", group)]);
            observed.push(l.clone(), v);
            let holds = crate::scenario::gates::holds(g, Some(v));
            passing.push(l, f64::from(u8::from(holds)));
        }
    }
    vec![observed, passing]
}

/// How far the run is: elapsed and planned length.
pub fn progress(live: &Live, plan: &Plan, run: &Labels) -> Vec<Family> {
    let mut elapsed = Family::new(
        "run_elapsed",
        Kind::Gauge,
        Some("seconds"),
        "Time since the run's start.",
    );
    let mut length = Family::new(
        "run_duration",
        Kind::Gauge,
        Some("seconds"),
        "The run's planned length.",
    );
    if let Some(d) = live.elapsed() {
        elapsed.push(run.clone(), d.as_secs_f64());
    }
    length.push(run.clone(), plan.duration_us as f64 / 1e6);
    vec![elapsed, length]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_keeps_its_count_and_falls_in_the_right_buckets() {
        let mut h = crate::metrics::histogram::new_histogram();
        // E2E values in µs (scale 1000 per ms): 40 ms ×3, 120 ms ×1, 45 s ×1 (over the top).
        for us in [40_000, 40_000, 40_000, 120_000, 45_000_000] {
            h.record(us).unwrap();
        }
        let s = shape(Metric::E2eLatencyMs);
        let Value::Histogram {
            sum,
            count,
            buckets,
        } = histogram_value(&h, Metric::E2eLatencyMs, &s)
        else {
            panic!("a histogram");
        };
        assert_eq!(count, 5);
        let at = |le: f64| buckets.iter().find(|b| b.0 == le).unwrap().1;
        assert_eq!(
            (at(0.025), at(0.05), at(0.1), at(0.15), at(30.0)),
            (0, 3, 3, 4, 4)
        );
        assert!((sum - 45.24).abs() < 0.05, "{sum}");
    }
}
