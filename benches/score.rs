//! The cost of scoring a comparison: the bootstrap resamples whole sessions and recomputes
//! every metric, dimension and overall score each time, so it grows with sessions × frames
//! kept per session × resamples.

use criterion::{criterion_group, criterion_main, Criterion};
use rtcbench::score::card::{compute, ProviderInput};
use rtcbench::score::config::Scoring;
use rtcbench::score::measure::{Role, Row, Source};
use rtcbench::score::stats::Bootstrap;
use std::hint::black_box;

/// A session as a 20 s run leaves it: about 100 distinct e2e latency buckets.
fn session(k: usize, base: f64) -> Row {
    let role = if k % 3 == 0 {
        Role::Call
    } else {
        Role::Audience
    };
    let e2e = (0..100)
        .map(|i| (base + i as f64 * 0.3 + (k % 11) as f64, 6.0))
        .collect();
    Row::new(role, "g", "clean")
        .with(Source::E2eLatencyMs, e2e)
        .with(
            Source::TimeToFirstFrameMs,
            vec![(300.0 + (k % 50) as f64, 1.0)],
        )
        .with(Source::JoinSuccessPct, vec![(1.0, 1.0)])
        .with(Source::FreezeTimePct, vec![(12.0, 20_000.0)])
        .with(Source::DropPct, vec![(0.0, 1.0)])
        .with(Source::FpsDeliveredPct, vec![(98.0, 1.0)])
        .with(Source::Mos, vec![(4.3, 1.0)])
}

fn providers(n: usize) -> Vec<ProviderInput> {
    ["a", "b"]
        .iter()
        .zip([20.0, 25.0])
        .map(|(label, base)| ProviderInput {
            label: label.to_string(),
            rows: (0..n).map(|k| session(k, base)).collect(),
            dossier: None,
        })
        .collect()
}

fn scorecard(c: &mut Criterion) {
    let scoring = Scoring::default();
    let bootstrap = Bootstrap::default();
    let mut g = c.benchmark_group("scorecard_2000_resamples");
    g.sample_size(10);
    for n in [20, 200, 1000] {
        let inputs = providers(n);
        g.bench_function(format!("two_providers_{n}_sessions_each"), |b| {
            b.iter(|| compute(black_box(&scoring), black_box(&inputs), &bootstrap))
        });
    }
    g.finish();
}

criterion_group!(benches, scorecard);
criterion_main!(benches);
