//! One evaluation of a provider's sessions, as the bootstrap makes it for every resample:
//! each metric's value and score, the dimension scores (coverage by region included) and the
//! overall score. The sessions' figures are laid out once (prepared), so a resample is a
//! count per session and costs one pass over them.

use super::card::{ProviderInput, RegionCoverage};
use super::config::{Dimension, Scoring, DIMENSIONS};
use super::dossier::DossierScore;
use super::measure::{Prepared, Row};
use super::thresholds::{weighted, ACCEPTABLE_SCORE};

/// The figures of one set of sessions, flattened for the bootstrap: metric values, metric
/// scores, dimension scores, overall.
pub(super) struct Evaluation {
    pub values: Vec<f64>,
    pub scores: Vec<f64>,
    pub dimensions: Vec<f64>,
    pub overall: f64,
}

impl Evaluation {
    pub fn flat(self) -> Vec<f64> {
        let mut v = self.values;
        v.extend(self.scores);
        v.extend(self.dimensions);
        v.push(self.overall);
        v
    }
}

fn nan_none(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// A provider's measures and coverage regions laid out once for the bootstrap.
pub(super) struct PreparedProvider<'a> {
    metrics: Vec<Prepared>,
    regions: Vec<PreparedRegion>,
    dossier: Option<&'a DossierScore>,
    pub rows: usize,
}

struct PreparedRegion {
    name: String,
    weight: f64,
    /// Indices of the region's rows.
    rows: Vec<u32>,
    metrics: Vec<Prepared>,
}

pub(super) fn prepare<'a>(scoring: &Scoring, p: &'a ProviderInput) -> PreparedProvider<'a> {
    let metrics = scoring
        .metrics
        .iter()
        .map(|m| m.measure.prepare(&p.rows))
        .collect();
    let regions = scoring
        .coverage
        .iter()
        .flat_map(|c| c.audience.iter())
        .map(|(region, weight)| {
            let here = |r: &Row| r.at(region);
            PreparedRegion {
                name: region.clone(),
                weight: *weight,
                rows: (0..p.rows.len() as u32)
                    .filter(|&i| here(&p.rows[i as usize]))
                    .collect(),
                metrics: scoring
                    .metrics
                    .iter()
                    .map(|m| {
                        let mut measure = m.measure.clone();
                        measure.filter.profile = Some(region.clone());
                        measure.prepare(&p.rows)
                    })
                    .collect(),
            }
        })
        .collect();
    PreparedProvider {
        metrics,
        regions,
        dossier: p.dossier.as_ref(),
        rows: p.rows.len(),
    }
}

fn metric_scores(scoring: &Scoring, metrics: &[Prepared], counts: &[u32]) -> (Vec<f64>, Vec<f64>) {
    let values: Vec<f64> = metrics.iter().map(|m| m.value(counts)).collect();
    let scores = scoring
        .metrics
        .iter()
        .zip(&values)
        .map(|(m, v)| m.thresholds.score(*v))
        .collect();
    (values, scores)
}

/// Coverage of one region: every latency and stability metric measured there is acceptable.
fn region_failing<'a>(
    scoring: &'a Scoring,
    region: &PreparedRegion,
    counts: &[u32],
) -> impl Iterator<Item = &'a str> {
    let (_, scores) = metric_scores(scoring, &region.metrics, counts);
    scoring
        .metrics
        .iter()
        .zip(scores)
        .filter(|(m, s)| {
            matches!(m.dimension, Dimension::Latency | Dimension::Stability)
                && s.is_finite()
                && *s < ACCEPTABLE_SCORE
        })
        .map(|(m, _)| m.id)
}

/// How many of a region's sessions this resample draws.
fn drawn(region: &PreparedRegion, counts: &[u32]) -> usize {
    region
        .rows
        .iter()
        .map(|&i| counts.get(i as usize).copied().unwrap_or(0) as usize)
        .sum()
}

/// The coverage score of one resample: the audience share of the measured regions that meet
/// the SLO; `None` when no region was measured.
fn coverage_score(scoring: &Scoring, p: &PreparedProvider, counts: &[u32]) -> Option<f64> {
    let (mut met, mut measured) = (0.0, 0.0);
    for region in p.regions.iter().filter(|r| drawn(r, counts) > 0) {
        measured += region.weight;
        if region_failing(scoring, region, counts).next().is_none() {
            met += region.weight;
        }
    }
    (measured > 0.0).then(|| met / measured * 100.0)
}

/// Each region's verdict over all of the provider's sessions, for the report.
pub(super) fn regions(scoring: &Scoring, p: &PreparedProvider) -> Vec<RegionCoverage> {
    let all = vec![1; p.rows];
    let total: f64 = p.regions.iter().map(|r| r.weight).sum();
    p.regions
        .iter()
        .map(|region| {
            let sessions = drawn(region, &all);
            let failing: Vec<String> = if sessions > 0 {
                region_failing(scoring, region, &all)
                    .map(String::from)
                    .collect()
            } else {
                Vec::new()
            };
            RegionCoverage {
                region: region.name.clone(),
                audience_share: if total > 0.0 {
                    region.weight / total
                } else {
                    0.0
                },
                sessions,
                meets_slo: (sessions > 0).then_some(failing.is_empty()),
                failing,
            }
        })
        .collect()
}

pub(super) fn evaluate(scoring: &Scoring, p: &PreparedProvider, counts: &[u32]) -> Evaluation {
    let (values, scores) = metric_scores(scoring, &p.metrics, counts);
    let coverage = coverage_score(scoring, p, counts);
    let dossier = p.dossier;
    let dimensions: Vec<f64> = DIMENSIONS
        .iter()
        .map(|d| match d {
            Dimension::Coverage => nan_none(coverage),
            Dimension::Experience => nan_none(dossier.and_then(|x| x.experience)),
            Dimension::Support => nan_none(dossier.and_then(|x| x.support)),
            _ => {
                let parts: Vec<(Option<f64>, f64)> = scoring
                    .metrics
                    .iter()
                    .zip(&scores)
                    .filter(|(m, _)| m.dimension == *d)
                    .map(|(m, s)| (Some(*s), m.weight))
                    .collect();
                nan_none(weighted(&parts).map(|(s, _)| s))
            }
        })
        .collect();
    let parts: Vec<(Option<f64>, f64)> = DIMENSIONS
        .iter()
        .zip(&dimensions)
        .map(|(d, s)| {
            (
                Some(*s),
                scoring.weights.get(d).copied().unwrap_or_default(),
            )
        })
        .collect();
    let overall = nan_none(weighted(&parts).map(|(s, _)| s));
    Evaluation {
        values,
        scores,
        dimensions,
        overall,
    }
}
