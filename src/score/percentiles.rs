//! The plain percentiles a reader checks first, e2e latency and time to first frame at p50 and
//! p95 over all of a provider's sessions, each with its bootstrap interval, and the interval
//! of every pair's difference.

use super::card::ProviderInput;
use super::measure::{Filter, Measure, Source, Stat};
use super::stats::{Bootstrap, Interval};
use serde::Serialize;

const FIGURES: [(Source, &str); 2] = [
    (Source::E2eLatencyMs, "e2e latency (ms)"),
    (Source::TimeToFirstFrameMs, "time to first frame (ms)"),
];
const QUANTILES: [f64; 2] = [0.5, 0.95];

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub provider: String,
    pub figure: &'static str,
    pub p50: Interval,
    pub p95: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct PercentileDifference {
    pub figure: &'static str,
    pub a: String,
    pub b: String,
    /// b − a.
    pub p50: Interval,
    pub p95: Interval,
}

fn measures() -> Vec<Measure> {
    FIGURES
        .iter()
        .flat_map(|(source, _)| {
            QUANTILES.iter().map(|q| Measure {
                source: *source,
                stat: Stat::Quantile(*q),
                filter: Filter::default(),
            })
        })
        .collect()
}

/// Every provider's percentiles, and every pair's differences, skipping figures nobody has.
pub fn compute(
    providers: &[ProviderInput],
    bootstrap: &Bootstrap,
) -> (Vec<Percentiles>, Vec<PercentileDifference>) {
    let measures = measures();
    let prepared: Vec<Vec<_>> = providers
        .iter()
        .map(|p| measures.iter().map(|m| m.prepare(&p.rows)).collect())
        .collect();
    let values = |k: usize, counts: &[u32]| -> Vec<f64> {
        prepared[k].iter().map(|m| m.value(counts)).collect()
    };
    let mut own = Vec::new();
    for (k, p) in providers.iter().enumerate() {
        let i = bootstrap.intervals_counted(p.rows.len(), |c| values(k, c));
        for (f, (_, figure)) in FIGURES.iter().enumerate() {
            let (p50, p95) = (i[2 * f], i[2 * f + 1]);
            if p50.estimate.is_finite() {
                own.push(Percentiles {
                    provider: p.label.clone(),
                    figure,
                    p50,
                    p95,
                });
            }
        }
    }
    let mut pairs = Vec::new();
    for a in 0..providers.len() {
        for b in a + 1..providers.len() {
            let d = bootstrap.differences_counted(
                (providers[a].rows.len(), providers[b].rows.len()),
                |c| values(a, c),
                |c| values(b, c),
            );
            for (f, (_, figure)) in FIGURES.iter().enumerate() {
                let (p50, p95) = (d[2 * f], d[2 * f + 1]);
                if p50.estimate.is_finite() {
                    pairs.push(PercentileDifference {
                        figure,
                        a: providers[a].label.clone(),
                        b: providers[b].label.clone(),
                        p50,
                        p95,
                    });
                }
            }
        }
    }
    (own, pairs)
}
