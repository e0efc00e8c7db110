//! From a measured figure to a score of 0–100: piecewise-linear between three thresholds,
//! excellent (100), acceptable (60) and unacceptable (0), for figures where lower is better
//! (latency, freeze time) or higher is better (join success, MOS). Scores combine by weights,
//! over the parts that have data.

use serde::{Deserialize, Serialize};

/// The score at the acceptable threshold: passing, with room to spare below excellent.
pub const ACCEPTABLE_SCORE: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub better: Better,
    pub excellent: f64,
    pub acceptable: f64,
    pub unacceptable: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("thresholds must run excellent → acceptable → unacceptable in the direction that is worse ({better:?} is better): got {excellent}, {acceptable}, {unacceptable}")]
pub struct ThresholdError {
    pub better: Better,
    pub excellent: f64,
    pub acceptable: f64,
    pub unacceptable: f64,
}

impl Thresholds {
    pub fn new(
        better: Better,
        excellent: f64,
        acceptable: f64,
        unacceptable: f64,
    ) -> Result<Self, ThresholdError> {
        let t = Self {
            better,
            excellent,
            acceptable,
            unacceptable,
        };
        let (e, a, u) = t.as_lower_is_better();
        if !(e.is_finite() && a.is_finite() && u.is_finite() && e <= a && a <= u) {
            return Err(ThresholdError {
                better,
                excellent,
                acceptable,
                unacceptable,
            });
        }
        Ok(t)
    }

    /// The thresholds turned so that lower is better.
    fn as_lower_is_better(&self) -> (f64, f64, f64) {
        match self.better {
            Better::Lower => (self.excellent, self.acceptable, self.unacceptable),
            Better::Higher => (-self.excellent, -self.acceptable, -self.unacceptable),
        }
    }

    /// 100 at or past excellent, 60 at acceptable, 0 at or past unacceptable, linear between.
    pub fn score(&self, value: f64) -> f64 {
        let (e, a, u) = self.as_lower_is_better();
        let v = match self.better {
            Better::Lower => value,
            Better::Higher => -value,
        };
        let between = |from: f64, to: f64, s_from: f64, s_to: f64| {
            if to > from {
                s_from + (v - from) / (to - from) * (s_to - s_from)
            } else {
                s_to
            }
        };
        if v.is_nan() {
            f64::NAN
        } else if v <= e {
            100.0
        } else if v <= a {
            between(e, a, 100.0, ACCEPTABLE_SCORE)
        } else if v < u {
            between(a, u, ACCEPTABLE_SCORE, 0.0)
        } else {
            0.0
        }
    }
}

/// The weighted mean of the scores that exist (a part without data neither counts nor drags
/// the rest down); `None` when no part has data. The share of weight that had data is returned
/// beside it, so a report can say how much of a dimension was measured.
pub fn weighted(parts: &[(Option<f64>, f64)]) -> Option<(f64, f64)> {
    let total: f64 = parts.iter().map(|(_, w)| w.max(0.0)).sum();
    let (sum, weight) = parts
        .iter()
        .filter_map(|(s, w)| {
            s.filter(|s| s.is_finite())
                .map(|s| (s * w.max(0.0), w.max(0.0)))
        })
        .fold((0.0, 0.0), |(a, b), (s, w)| (a + s, b + w));
    (weight > 0.0).then(|| (sum / weight, if total > 0.0 { weight / total } else { 0.0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_is_better_maps_the_three_thresholds_and_interpolates() {
        // Live audience latency p95: ≤ 800 / 1500 / > 2000 ms.
        let t = Thresholds::new(Better::Lower, 800.0, 1500.0, 2000.0).unwrap();
        for (v, want) in [
            (0.0, 100.0),
            (800.0, 100.0),
            (1150.0, 80.0),
            (1500.0, 60.0),
            (1750.0, 30.0),
            (2000.0, 0.0),
            (9000.0, 0.0),
        ] {
            assert!((t.score(v) - want).abs() < 1e-9, "{v} ms → {}", t.score(v));
        }
    }

    #[test]
    fn higher_is_better_mirrors_it() {
        // Join success: ≥ 99.9 / 99.5 / < 99 %.
        let t = Thresholds::new(Better::Higher, 99.9, 99.5, 99.0).unwrap();
        assert_eq!(t.score(100.0), 100.0);
        assert!((t.score(99.7) - 80.0).abs() < 1e-9, "{}", t.score(99.7));
        assert!((t.score(99.5) - 60.0).abs() < 1e-9);
        assert!((t.score(99.25) - 30.0).abs() < 1e-9, "{}", t.score(99.25));
        assert_eq!(t.score(98.0), 0.0);
    }

    #[test]
    fn acceptable_equal_to_unacceptable_is_a_cliff() {
        // 1v1 latency p95: ≤ 250 / 400 / > 400 ms.
        let t = Thresholds::new(Better::Lower, 250.0, 400.0, 400.0).unwrap();
        assert!((t.score(325.0) - 80.0).abs() < 1e-9);
        assert_eq!(t.score(400.0), 60.0);
        assert_eq!(t.score(400.1), 0.0);
    }

    #[test]
    fn thresholds_out_of_order_are_refused() {
        assert!(Thresholds::new(Better::Lower, 1500.0, 800.0, 2000.0).is_err());
        let e = Thresholds::new(Better::Higher, 99.0, 99.5, 99.9).unwrap_err();
        assert!(e.to_string().contains("Higher is better"), "{e}");
        assert!(Thresholds::new(Better::Lower, 1.0, f64::NAN, 3.0).is_err());
    }

    #[test]
    fn weights_combine_the_parts_with_data() {
        let (score, measured) = weighted(&[(Some(100.0), 2.0), (Some(40.0), 1.0)]).unwrap();
        assert!((score - 80.0).abs() < 1e-9 && measured == 1.0);
        let (score, measured) = weighted(&[(Some(50.0), 1.0), (None, 3.0)]).unwrap();
        assert!((score - 50.0).abs() < 1e-9 && (measured - 0.25).abs() < 1e-9);
        assert!(weighted(&[(None, 1.0)]).is_none());
        assert!(weighted(&[]).is_none());
    }
}
