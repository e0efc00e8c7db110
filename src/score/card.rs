//! The scorecard: each provider's metrics, dimension and overall scores with bootstrap
//! intervals (sessions resampled), coverage by region, and every pair of providers compared.
//! A difference whose interval includes zero is a tie.

use super::config::{Dimension, Scoring, DIMENSIONS};
use super::dossier::DossierScore;
use super::evaluate::{evaluate, prepare, regions, PreparedProvider};
use super::measure::Row;
use super::stats::{mann_whitney, Bootstrap, Interval, MannWhitney};
use super::thresholds::{weighted, Better};
use super::verdicts::{
    apply_holm, decide, rank, settle_capped_dimensions, ALPHA, MIN_SESSIONS, SCORE_MARGIN,
};
use serde::Serialize;

/// One provider's sessions (all its runs pooled) and what it declared.
pub struct ProviderInput {
    pub label: String,
    pub rows: Vec<Row>,
    pub dossier: Option<DossierScore>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricScore {
    pub id: &'static str,
    pub label: &'static str,
    pub dimension: Dimension,
    /// The figure with its interval; absent when no session measured it.
    pub value: Option<Interval>,
    pub score: Option<Interval>,
    pub sessions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DimensionScore {
    pub dimension: Dimension,
    pub score: Option<Interval>,
    /// The share of the dimension's weight that had data.
    pub measured_share: f64,
    pub declared: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionCoverage {
    pub region: String,
    pub audience_share: f64,
    pub sessions: usize,
    /// `None`: no session ran on this region's profile.
    pub meets_slo: Option<bool>,
    /// Metrics that scored below acceptable there.
    pub failing: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderCard {
    pub label: String,
    pub sessions: usize,
    pub metrics: Vec<MetricScore>,
    pub dimensions: Vec<DimensionScore>,
    pub overall: Option<Interval>,
    pub coverage: Vec<RegionCoverage>,
    pub dossier: Option<DossierScore>,
}

/// Who came out ahead on one figure, if anyone did.
#[derive(Debug, Clone, Serialize)]
pub struct PairVerdict {
    pub what: String,
    pub a: String,
    pub b: String,
    /// b − a.
    pub difference: Interval,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mann_whitney: Option<MannWhitney>,
    /// Mann–Whitney p after Holm's correction over every pair of this figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_holm: Option<f64>,
    /// `None`: a tie.
    pub winner: Option<String>,
    /// What decided it: "interval", "interval and Holm", "metrics" (scores level at the cap
    /// but every decided metric favours one side), or why it is a tie.
    pub basis: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tier {
    pub rank: usize,
    pub providers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub providers: Vec<ProviderCard>,
    pub metric_verdicts: Vec<PairVerdict>,
    pub dimension_verdicts: Vec<PairVerdict>,
    pub overall_verdicts: Vec<PairVerdict>,
    pub ranking: Vec<Tier>,
    pub percentiles: Vec<super::percentiles::Percentiles>,
    pub percentile_differences: Vec<super::percentiles::PercentileDifference>,
    pub resamples: usize,
    pub level: f64,
}

fn some(i: Interval) -> Option<Interval> {
    i.estimate.is_finite().then_some(i)
}

fn card(
    scoring: &Scoring,
    p: &ProviderInput,
    prepared: &PreparedProvider,
    bootstrap: &Bootstrap,
) -> ProviderCard {
    let flat =
        bootstrap.intervals_counted(prepared.rows, |c| evaluate(scoring, prepared, c).flat());
    let n = scoring.metrics.len();
    let (values, rest) = flat.split_at(n);
    let (scores, rest) = rest.split_at(n);
    let (dims, overall) = rest.split_at(DIMENSIONS.len());
    let measured_share = |d: Dimension| {
        let parts: Vec<(Option<f64>, f64)> = scoring
            .metrics
            .iter()
            .zip(values)
            .filter(|(m, _)| m.dimension == d)
            .map(|(m, v)| (v.estimate.is_finite().then_some(1.0), m.weight))
            .collect();
        weighted(&parts).map_or(0.0, |(_, share)| share)
    };
    ProviderCard {
        label: p.label.clone(),
        sessions: p.rows.len(),
        metrics: scoring
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| MetricScore {
                id: m.id,
                label: m.label,
                dimension: m.dimension,
                value: some(values[i]),
                score: some(scores[i]),
                sessions: m.measure.sessions(&p.rows),
            })
            .collect(),
        dimensions: DIMENSIONS
            .iter()
            .zip(dims)
            .map(|(d, s)| DimensionScore {
                dimension: *d,
                score: some(*s),
                measured_share: match d {
                    Dimension::Latency | Dimension::Picture | Dimension::Stability => {
                        measured_share(*d)
                    }
                    _ if s.estimate.is_finite() => 1.0,
                    _ => 0.0,
                },
                declared: d.declared(),
            })
            .collect(),
        overall: some(overall[0]),
        coverage: regions(scoring, prepared),
        dossier: p.dossier.clone(),
    }
}

/// The pairwise verdicts, by kind.
#[derive(Default)]
struct Verdicts {
    metric: Vec<PairVerdict>,
    dimension: Vec<PairVerdict>,
    overall: Vec<PairVerdict>,
}

/// A metric's verdict for a pair: a win needs enough sessions on both sides, the interval of
/// the difference past the tie margin, and Mann–Whitney below ALPHA.
fn metric_outcome(
    m: &crate::score::config::ScoredMetric,
    d: &Interval,
    mw: Option<super::stats::MannWhitney>,
    (a, b): (&ProviderInput, &ProviderInput),
) -> (Option<String>, String) {
    let (na, nb) = (m.measure.sessions(&a.rows), m.measure.sessions(&b.rows));
    if na.min(nb) < MIN_SESSIONS {
        return (
            None,
            format!("too few sessions to decide ({na} and {nb}; {MIN_SESSIONS} needed)"),
        );
    }
    match decide(d, m.tie_margin, m.thresholds.better, &a.label, &b.label) {
        (Some(_), _) if mw.is_none_or(|w| w.p >= ALPHA) => (
            None,
            format!(
                "interval excludes zero but Mann–Whitney p = {:.3}",
                mw.map_or(1.0, |w| w.p)
            ),
        ),
        (Some(w), _) => (Some(w), "interval and Mann–Whitney".into()),
        tie => tie,
    }
}

/// Every metric, dimension and overall verdict for the pair (a, b).
fn judge_pair(
    scoring: &Scoring,
    bootstrap: &Bootstrap,
    (a, pa): (&ProviderInput, &PreparedProvider),
    (b, pb): (&ProviderInput, &PreparedProvider),
    out: &mut Verdicts,
) {
    let n = scoring.metrics.len();
    let diffs = bootstrap.differences_counted(
        (pa.rows, pb.rows),
        |c| evaluate(scoring, pa, c).flat(),
        |c| evaluate(scoring, pb, c).flat(),
    );
    let pair = |what: &str, d: Interval, mw, (winner, basis)| PairVerdict {
        what: what.to_string(),
        a: a.label.clone(),
        b: b.label.clone(),
        difference: d,
        mann_whitney: mw,
        p_holm: None,
        winner,
        basis,
    };
    for (k, m) in scoring.metrics.iter().enumerate() {
        let d = diffs[k];
        if !d.estimate.is_finite() {
            continue;
        }
        let mw = mann_whitney(
            &m.measure.per_session(&a.rows),
            &m.measure.per_session(&b.rows),
        );
        let outcome = metric_outcome(m, &d, mw, (a, b));
        out.metric.push(pair(m.id, d, mw, outcome));
    }
    let scores = DIMENSIONS
        .iter()
        .map(|d| d.name())
        .chain(["overall"])
        .zip(&diffs[2 * n..]);
    for (what, d) in scores.filter(|(_, d)| d.estimate.is_finite()) {
        let outcome = decide(d, SCORE_MARGIN, Better::Higher, &a.label, &b.label);
        let v = pair(what, *d, None, outcome);
        match what {
            "overall" => out.overall.push(v),
            _ => out.dimension.push(v),
        }
    }
}

pub fn compute(scoring: &Scoring, providers: &[ProviderInput], bootstrap: &Bootstrap) -> Scorecard {
    let prepared: Vec<PreparedProvider> = providers.iter().map(|p| prepare(scoring, p)).collect();
    let cards: Vec<ProviderCard> = providers
        .iter()
        .zip(&prepared)
        .map(|(p, pp)| card(scoring, p, pp, bootstrap))
        .collect();
    let mut v = Verdicts::default();
    for i in 0..providers.len() {
        for j in i + 1..providers.len() {
            let a = (&providers[i], &prepared[i]);
            let b = (&providers[j], &prepared[j]);
            judge_pair(scoring, bootstrap, a, b, &mut v);
        }
    }
    if providers.len() > 2 {
        apply_holm(&mut v.metric);
    }
    settle_capped_dimensions(scoring, &mut v.dimension, &v.metric);
    let ranking = rank(&cards, &v.overall);
    let (percentiles, percentile_differences) = super::percentiles::compute(providers, bootstrap);
    Scorecard {
        providers: cards,
        metric_verdicts: v.metric,
        dimension_verdicts: v.dimension,
        overall_verdicts: v.overall,
        ranking,
        percentiles,
        percentile_differences,
        resamples: bootstrap.resamples,
        level: bootstrap.level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::measure::{Role, Source};

    /// A call session with e2e latency around `base` ms, joined, no freezes.
    fn session(base: f64, k: usize) -> Row {
        let spread = (k % 7) as f64;
        Row::new(Role::Call, "call", "clean")
            .with(
                Source::E2eLatencyMs,
                vec![(base + spread, 20.0), (base + 2.0 * spread + 5.0, 2.0)],
            )
            .with(
                Source::TimeToFirstFrameMs,
                vec![(300.0 + 10.0 * spread, 1.0)],
            )
            .with(Source::JoinSuccessPct, vec![(1.0, 1.0)])
            .with(Source::FreezeTimePct, vec![(0.0, 10_000.0)])
    }

    fn provider(label: &str, base: f64, n: usize) -> ProviderInput {
        ProviderInput {
            label: label.into(),
            rows: (0..n).map(|k| session(base, k)).collect(),
            dossier: None,
        }
    }

    fn quick() -> Bootstrap {
        Bootstrap {
            resamples: 400,
            level: 0.95,
            seed: 3,
        }
    }

    #[test]
    fn the_same_sessions_tie_and_added_delay_loses_on_latency() {
        let scoring = Scoring::default();
        let card = compute(
            &scoring,
            &[
                provider("a", 20.0, 12),
                provider("a-again", 20.0, 12),
                provider("delayed", 120.0, 12),
            ],
            &quick(),
        );
        let verdict = |what: &str, a: &str, b: &str| {
            card.metric_verdicts
                .iter()
                .chain(&card.dimension_verdicts)
                .find(|v| v.what == what && v.a == a && v.b == b)
                .unwrap_or_else(|| panic!("{what} {a} {b}"))
                .clone()
        };
        let same = verdict("interactive_latency_p95_ms", "a", "a-again");
        assert_eq!(same.winner, None);
        assert_eq!(same.difference.estimate, 0.0);
        assert!(same.difference.contains(0.0), "{same:?}");
        let slow = verdict("interactive_latency_p95_ms", "a", "delayed");
        assert_eq!(slow.winner.as_deref(), Some("a"));
        assert!(
            slow.difference.low > 90.0 && slow.difference.high < 110.0,
            "{slow:?}"
        );
        assert!(slow.p_holm.is_some_and(|p| p < 0.05));
        // Both latencies score 100 (under 250 ms): the dimension goes by its metrics.
        let dim = verdict("latency", "a", "delayed");
        assert_eq!(dim.winner.as_deref(), Some("a"), "{dim:?}");
        assert_eq!(verdict("latency", "a", "a-again").winner, None);
        assert_eq!(card.ranking[0].providers.len(), 3, "{:?}", card.ranking);
    }

    #[test]
    fn scores_follow_thresholds_and_a_bad_provider_ranks_below() {
        let scoring = Scoring::default();
        let mut bad = provider("bad", 700.0, 10);
        for r in bad.rows.iter_mut().take(5) {
            *r = r.clone().with(Source::JoinSuccessPct, vec![(0.0, 1.0)]);
        }
        let card = compute(&scoring, &[provider("good", 20.0, 10), bad], &quick());
        let good = &card.providers[0];
        let lat = good
            .metrics
            .iter()
            .find(|m| m.id == "interactive_latency_p95_ms");
        assert_eq!(lat.unwrap().score.unwrap().estimate, 100.0);
        let bad = &card.providers[1];
        let join = bad
            .metrics
            .iter()
            .find(|m| m.id == "join_success_pct")
            .unwrap();
        assert_eq!(join.value.unwrap().estimate, 50.0);
        assert_eq!(join.score.unwrap().estimate, 0.0);
        assert!(bad.overall.unwrap().estimate < good.overall.unwrap().estimate);
        assert_eq!(card.ranking.len(), 2);
        assert_eq!(card.ranking[0].providers, ["good"]);
        // Picture has no data: its weight does not drag the overall down.
        let picture = &good.dimensions[1];
        assert_eq!(picture.dimension, Dimension::Picture);
        assert!(picture.score.is_none());
    }

    #[test]
    fn coverage_is_the_audience_share_of_measured_regions_meeting_the_slo() {
        let scoring = Scoring {
            coverage: Some(crate::score::config::CoverageSpec {
                audience: [("cn", 60.0), ("eu", 40.0), ("sea", 20.0)]
                    .map(|(r, w)| (r.to_string(), w))
                    .into(),
            }),
            ..Scoring::default()
        };
        let mut rows: Vec<Row> = Vec::new();
        for k in 0..5 {
            let mut near = session(20.0, k);
            near.profile = "cn".into();
            rows.push(near);
            // 500 ms one way: past the 400 ms a conversation stands.
            let mut far = session(500.0, k);
            far.profile = "eu".into();
            rows.push(far);
        }
        let p = ProviderInput {
            label: "p".into(),
            rows,
            dossier: None,
        };
        let card = compute(&scoring, &[p], &quick());
        let c = &card.providers[0];
        let region = |r: &str| c.coverage.iter().find(|x| x.region == r).unwrap();
        assert_eq!(region("cn").meets_slo, Some(true));
        assert_eq!(region("eu").meets_slo, Some(false));
        assert_eq!(region("eu").failing, ["interactive_latency_p95_ms"]);
        assert_eq!(region("sea").meets_slo, None);
        assert!((region("cn").audience_share - 0.5).abs() < 1e-9);
        let coverage = c
            .dimensions
            .iter()
            .find(|d| d.dimension == Dimension::Coverage)
            .and_then(|d| d.score)
            .unwrap();
        // cn meets (60) of the measured cn + eu (100); sea is not measured.
        assert!((coverage.estimate - 60.0).abs() < 1e-9, "{coverage:?}");
    }

    #[test]
    fn coverage_counts_sessions_from_a_labelled_vantage_point_as_that_region() {
        let scoring = Scoring {
            coverage: Some(crate::score::config::CoverageSpec {
                audience: [("shanghai", 50.0), ("frankfurt", 50.0)]
                    .map(|(r, w)| (r.to_string(), w))
                    .into(),
            }),
            ..Scoring::default()
        };
        // Every session on the clean profile: only the shards' labels tell them apart.
        let mut rows: Vec<Row> = Vec::new();
        for k in 0..5 {
            let mut near = session(20.0, k);
            near.vantage = Some("shanghai".into());
            rows.push(near);
            let mut far = session(500.0, k);
            far.vantage = Some("frankfurt".into());
            rows.push(far);
        }
        let p = ProviderInput {
            label: "p".into(),
            rows,
            dossier: None,
        };
        let card = compute(&scoring, &[p], &quick());
        let region = |r: &str| {
            card.providers[0]
                .coverage
                .iter()
                .find(|x| x.region == r)
                .unwrap()
                .meets_slo
        };
        assert_eq!(region("shanghai"), Some(true));
        assert_eq!(region("frankfurt"), Some(false));
    }
}
