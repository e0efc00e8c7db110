//! The statistics a comparison of providers rests on. Sessions are the unit: the figures of
//! one session are not independent of each other, sessions (nearly) are, so intervals come from
//! resampling whole sessions.
//!
//! - percentile bootstrap intervals for a statistic of one provider's sessions, and for the
//!   difference between two providers' (a difference whose interval includes zero is a tie);
//! - the Mann–Whitney U test (normal approximation with tie and continuity corrections) with
//!   its effect size;
//! - Holm's step-down correction when more than two providers are compared.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// 0.95 for a 95 % interval.
    pub level: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// Whether the interval lies wholly on one side of zero (a win, not a tie).
    pub fn excludes_zero(&self) -> bool {
        self.low.is_finite() && self.high.is_finite() && !self.contains(0.0)
    }
}

/// How a bootstrap is drawn: resamples, confidence level, and the seed that makes it repeatable.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub resamples: usize,
    pub level: f64,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            resamples: 2000,
            level: 0.95,
            seed: 1,
        }
    }
}

/// The `q` quantile of sorted `values` (linear between order statistics).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let at = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (i, frac) = (at.floor() as usize, at.fract());
            match sorted.get(i + 1) {
                Some(next) => sorted[i] + frac * (next - sorted[i]),
                None => sorted[i],
            }
        }
    }
}

/// How many times each of `n` units is drawn in one resample (n draws with replacement).
fn resample_counts(n: usize, rng: &mut ChaCha8Rng, counts: &mut Vec<u32>) {
    counts.clear();
    counts.resize(n, 0);
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
}

/// The units drawn, each as often as counted.
fn expand<'a, T>(units: &'a [T], counts: &[u32]) -> Vec<&'a T> {
    units
        .iter()
        .zip(counts)
        .flat_map(|(u, &c)| std::iter::repeat_n(u, c as usize))
        .collect()
}

fn percentile_interval(estimate: f64, mut draws: Vec<f64>, level: f64) -> Interval {
    draws.retain(|d| d.is_finite());
    draws.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Interval {
        estimate,
        low: quantile(&draws, tail),
        high: quantile(&draws, 1.0 - tail),
        level,
    }
}

impl Bootstrap {
    /// The interval of `stat` over `units` (sessions), resampling whole units.
    pub fn interval<T>(&self, units: &[T], stat: impl Fn(&[&T]) -> f64) -> Interval {
        self.intervals_counted(units.len(), |c| vec![stat(&expand(units, c))])[0]
    }

    /// The interval of `stat(b) - stat(a)`, resampling each side's units on their own.
    pub fn difference<T>(&self, a: &[T], b: &[T], stat: impl Fn(&[&T]) -> f64) -> Interval {
        self.differences_counted(
            (a.len(), b.len()),
            |c| vec![stat(&expand(a, c))],
            |c| vec![stat(&expand(b, c))],
        )[0]
    }

    /// Intervals of several statistics computed together from the same resamples, so that
    /// figures derived from one another (metric, dimension, overall score) stay consistent.
    /// Each statistic takes every unit's count in the resample (all ones for the estimate),
    /// which lets it skip re-sorting every resample; it must return as many values each time.
    pub fn intervals_counted(&self, n: usize, stat: impl Fn(&[u32]) -> Vec<f64>) -> Vec<Interval> {
        let estimates = stat(&vec![1; n]);
        let mut draws = vec![Vec::with_capacity(self.resamples); estimates.len()];
        if n > 0 {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            let mut counts = Vec::with_capacity(n);
            for _ in 0..self.resamples {
                resample_counts(n, &mut rng, &mut counts);
                for (d, v) in draws.iter_mut().zip(stat(&counts)) {
                    d.push(v);
                }
            }
        }
        estimates
            .into_iter()
            .zip(draws)
            .map(|(e, d)| percentile_interval(e, d, self.level))
            .collect()
    }

    /// Intervals of `stat_b(b) - stat_a(a)` for several statistics from the same resamples;
    /// each side has its own function so that what is fixed per side (a declared score) can
    /// enter it.
    pub fn differences_counted(
        &self,
        (na, nb): (usize, usize),
        stat_a: impl Fn(&[u32]) -> Vec<f64>,
        stat_b: impl Fn(&[u32]) -> Vec<f64>,
    ) -> Vec<Interval> {
        let estimates: Vec<f64> = stat_b(&vec![1; nb])
            .into_iter()
            .zip(stat_a(&vec![1; na]))
            .map(|(y, x)| y - x)
            .collect();
        let mut draws = vec![Vec::with_capacity(self.resamples); estimates.len()];
        if na > 0 && nb > 0 {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            let (mut ca, mut cb) = (Vec::with_capacity(na), Vec::with_capacity(nb));
            for _ in 0..self.resamples {
                resample_counts(na, &mut rng, &mut ca);
                resample_counts(nb, &mut rng, &mut cb);
                for ((d, y), x) in draws.iter_mut().zip(stat_b(&cb)).zip(stat_a(&ca)) {
                    d.push(y - x);
                }
            }
        }
        estimates
            .into_iter()
            .zip(draws)
            .map(|(e, d)| percentile_interval(e, d, self.level))
            .collect()
    }
}

/// The standard normal distribution function, from erfc (Abramowitz and Stegun 7.1.26, with
/// an absolute error under 1.5e-7: plenty for p-values reported to three figures).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MannWhitney {
    /// U of the first sample: how often one of its values exceeds one of the second's (ties
    /// count half).
    pub u_a: f64,
    pub u_b: f64,
    pub z: f64,
    /// Two-sided.
    pub p: f64,
    /// Rank-biserial correlation, P(b > a) - P(a > b): +1 when every b exceeds every a.
    pub effect: f64,
}

/// The Mann–Whitney U test of `a` against `b`, two-sided, by the normal approximation with the
/// tie correction of the variance and a continuity correction. `None` when a side is empty.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut rank_sum_a, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Tied values share the mean of the ranks they span (ranks count from 1).
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        rank_sum_a += rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    let u_a = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let u_b = n1 * n2 - u_a;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let z = if variance > 0.0 {
        let off = u_a - mean;
        (off - 0.5 * off.signum()) / variance.sqrt()
    } else {
        0.0
    };
    Some(MannWhitney {
        u_a,
        u_b,
        z,
        p: (2.0 * normal_cdf(-z.abs())).min(1.0),
        effect: (u_b - u_a) / (n1 * n2),
    })
}

/// Holm's step-down adjustment of `p` values for testing them together; in the same order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&x, &y| p[x].total_cmp(&p[y]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` draws from a normal distribution (Box–Muller), seeded.
    fn normal_sample(n: usize, mean: f64, sd: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
                mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            })
            .collect()
    }

    fn mean(xs: &[&f64]) -> f64 {
        xs.iter().copied().sum::<f64>() / xs.len() as f64
    }

    #[test]
    fn the_bootstrap_interval_of_a_mean_is_the_textbook_one() {
        // 400 draws from N(10, 2²): the 95 % interval of the mean is about ±1.96·2/√400 = ±0.196.
        let sample = normal_sample(400, 10.0, 2.0, 7);
        let ci = Bootstrap::default().interval(&sample, mean);
        let half = (ci.high - ci.low) / 2.0;
        eprintln!(
            "mean {:.4}, 95 % interval {:.4}–{:.4}, half-width {half:.4}",
            ci.estimate, ci.low, ci.high
        );
        assert!((half - 0.196).abs() < 0.196 * 0.12, "half-width {half}");
        assert!(ci.contains(10.0) && ci.contains(ci.estimate), "{ci:?}");
        // Seeded: the same interval every time.
        assert_eq!(ci, Bootstrap::default().interval(&sample, mean));
    }

    #[test]
    fn a_difference_is_a_tie_when_its_interval_holds_zero() {
        let a = normal_sample(200, 50.0, 10.0, 1);
        let same = normal_sample(200, 50.0, 10.0, 2);
        let slower = normal_sample(200, 150.0, 10.0, 3);
        let p50 = |xs: &[&f64]| {
            let mut v: Vec<f64> = xs.iter().map(|x| **x).collect();
            v.sort_by(f64::total_cmp);
            quantile(&v, 0.5)
        };
        let b = Bootstrap::default();
        assert!(b.difference(&a, &same, p50).contains(0.0));
        let d = b.difference(&a, &slower, p50);
        eprintln!("tie: {:?}; slower: {d:?}", b.difference(&a, &same, p50));
        assert!(
            !d.contains(0.0) && (d.estimate - 100.0).abs() < 5.0,
            "{d:?}"
        );
    }

    #[test]
    fn mann_whitney_matches_the_worked_examples() {
        // Fully separated, 5 and 5: U = 0; mean 12.5, sd √(5·5·11/12) = 4.787;
        // z = (0 − 12.5 + 0.5)/4.787 = −2.5067, two-sided p = 0.01219.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let t = mann_whitney(&a, &b).unwrap();
        assert_eq!((t.u_a, t.u_b, t.effect), (0.0, 25.0, 1.0));
        assert!((t.z + 2.506_718).abs() < 1e-5, "{}", t.z);
        assert!((t.p - 0.012_186).abs() < 1e-5, "{}", t.p);
        // With ties: a = 1 2 2 3, b = 2 3 4 5. Ranks of a: 1, 3, 3, 5.5 → R = 12.5, U_a = 2.5;
        // ties (2 ×3, 3 ×2) give Σ(t³ − t) = 30, sd = √(16/12 · (9 − 30/56)) = 3.3594;
        // z = (2.5 − 8 + 0.5)/3.3594 = −1.48835, p = 0.13666.
        let t = mann_whitney(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((t.u_a, t.u_b), (2.5, 13.5));
        assert!((t.z + 1.488_351).abs() < 1e-5, "{}", t.z);
        assert!((t.p - 0.136_658).abs() < 1e-5, "{}", t.p);
        assert!(mann_whitney(&[], &b).is_none());
    }

    #[test]
    fn holm_steps_down_and_keeps_order() {
        // Sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → monotone: 0.03, 0.06, 0.06.
        let adjusted = holm(&[0.01, 0.04, 0.03]);
        let want = [0.03, 0.06, 0.06];
        for (got, want) in adjusted.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.5, 0.9]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn the_normal_distribution_function_is_accurate() {
        for (z, want) in [
            (0.0, 0.5),
            (1.959_964, 0.975),
            (-1.0, 0.158_655_25),
            (3.0, 0.998_650_1),
        ] {
            assert!(
                (normal_cdf(z) - want).abs() < 2e-7,
                "Φ({z}) = {}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
