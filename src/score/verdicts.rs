//! Verdicts between providers: when a difference is a win, Holm's correction across pairs,
//! dimensions levelled at the score cap, and the ranking in tiers of ties.

use super::card::{PairVerdict, ProviderCard, Tier};
use super::config::Scoring;
use super::stats::{holm, Interval};
use super::thresholds::Better;

/// Fewer sessions than this on either side and a metric cannot be won: a bootstrap of one or
/// two sessions has no spread to speak of.
pub const MIN_SESSIONS: usize = 3;
/// The rank test's level. A metric's win needs its Mann–Whitney p (Holm-adjusted with more
/// than two providers) below this as well as an interval clear of zero: with few sessions a
/// bootstrap interval of a high percentile can be narrow only because the same session is its
/// maximum in nearly every resample.
pub const ALPHA: f64 = 0.05;
/// Score points below which two providers' dimension or overall scores tie.
pub const SCORE_MARGIN: f64 = 1.0;

/// A win needs the interval of the difference to exclude zero and the difference to be at
/// least `margin`; anything else is a tie, with the reason.
pub(super) fn decide(
    d: &Interval,
    margin: f64,
    better: Better,
    a: &str,
    b: &str,
) -> (Option<String>, String) {
    if !d.excludes_zero() {
        (None, "interval includes zero".into())
    } else if d.estimate.abs() < margin {
        (None, format!("difference under the {margin} that counts"))
    } else {
        (Some(side(d, better, a, b)), "interval".into())
    }
}

/// The better side of a difference b − a, for a figure where `better` holds.
fn side(difference: &Interval, better: Better, a: &str, b: &str) -> String {
    let b_higher = difference.estimate > 0.0;
    match (better, b_higher) {
        (Better::Lower, true) | (Better::Higher, false) => a.to_string(),
        _ => b.to_string(),
    }
}

/// With more than two providers, a metric's pairwise tests are one family: a win must also
/// survive Holm's correction of the Mann–Whitney p values.
pub(super) fn apply_holm(verdicts: &mut [PairVerdict]) {
    let mut metrics: Vec<String> = verdicts.iter().map(|v| v.what.clone()).collect();
    metrics.sort();
    metrics.dedup();
    for m in metrics {
        let idx: Vec<usize> = (0..verdicts.len())
            .filter(|&i| verdicts[i].what == m && verdicts[i].mann_whitney.is_some())
            .collect();
        let ps: Vec<f64> = idx
            .iter()
            .filter_map(|&i| verdicts[i].mann_whitney.map(|w| w.p))
            .collect();
        for (&i, p) in idx.iter().zip(holm(&ps)) {
            let v = &mut verdicts[i];
            v.p_holm = Some(p);
            if v.winner.is_some() && p >= ALPHA {
                v.winner = None;
                v.basis = format!("interval excludes zero but Holm-adjusted p = {p:.3}");
            } else if v.winner.is_some() {
                v.basis = "interval and Holm".into();
            }
        }
    }
}

/// Scores stop at 100 past "excellent", so two providers can level on a dimension while one
/// is measurably better on its metrics. Such a tie goes to the side every decided metric of
/// the dimension favours.
pub(super) fn settle_capped_dimensions(
    scoring: &Scoring,
    dimension_verdicts: &mut [PairVerdict],
    metric_verdicts: &[PairVerdict],
) {
    for v in dimension_verdicts.iter_mut().filter(|v| v.winner.is_none()) {
        let winners: Vec<&str> = metric_verdicts
            .iter()
            .filter(|m| m.a == v.a && m.b == v.b)
            .filter(|m| {
                scoring
                    .metrics
                    .iter()
                    .any(|s| s.id == m.what && s.dimension.name() == v.what)
            })
            .filter_map(|m| m.winner.as_deref())
            .collect();
        if let Some(first) = winners.first() {
            if winners.iter().all(|w| w == first) {
                v.winner = Some(first.to_string());
                v.basis = format!(
                    "scores level; {} of its metrics decided, all for {first}",
                    winners.len()
                );
            } else {
                v.basis = "scores level; its metrics split".into();
            }
        }
    }
}

/// Providers by overall score; each joins the tier of the one ranked above it when the
/// interval of their difference includes zero.
pub(super) fn rank(cards: &[ProviderCard], verdicts: &[PairVerdict]) -> Vec<Tier> {
    let mut order: Vec<&ProviderCard> = cards.iter().collect();
    order.sort_by(|x, y| {
        let s = |c: &ProviderCard| c.overall.map_or(f64::NEG_INFINITY, |i| i.estimate);
        s(y).total_cmp(&s(x))
    });
    let tied = |x: &str, y: &str| {
        verdicts
            .iter()
            .find(|v| (v.a == x && v.b == y) || (v.a == y && v.b == x))
            .is_some_and(|v| v.winner.is_none())
    };
    let mut tiers: Vec<Tier> = Vec::new();
    for c in order {
        match tiers.last_mut() {
            Some(t) if c.overall.is_some() && tied(&t.providers[0], &c.label) => {
                t.providers.push(c.label.clone())
            }
            _ => tiers.push(Tier {
                rank: tiers.len() + 1,
                providers: vec![c.label.clone()],
            }),
        }
    }
    tiers
}
