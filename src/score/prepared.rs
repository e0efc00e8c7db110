//! Figures laid out for fast resampling: the bootstrap draws each session some number of
//! times, and a prepared figure turns those counts into the statistic in one pass.

use super::measure::{Stat, Unit};

/// A measure laid out once over a provider's rows, so that each bootstrap resample (a count
/// per row) costs one pass and no sort.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// Every part of every kept row, sorted by value: (value, weight, row).
    Quantile { q: f64, parts: Vec<(f64, f64, u32)> },
    /// Per kept row: (Σ numerator, Σ denominator); the figure is their ratio × `scale`.
    Ratio {
        rows: Vec<(u32, f64, f64)>,
        scale: f64,
    },
}

impl Prepared {
    /// Lays out `units` (a row index and that row's parts) for `stat`.
    pub fn new<'a>(stat: Stat, units: impl Iterator<Item = (u32, &'a Unit)>) -> Self {
        let per_row = move |mean: bool| {
            move |(i, u): (u32, &Unit)| {
                // A mean weighs each value; a share adds parts and wholes.
                let (num, den) = u.iter().fold((0.0, 0.0), |(n, d), &(x, y)| {
                    (n + if mean { x * y } else { x }, d + y)
                });
                (i, num, den)
            }
        };
        match stat {
            Stat::Quantile(q) => {
                let mut parts: Vec<(f64, f64, u32)> = units
                    .flat_map(|(i, u)| u.iter().map(move |&(v, w)| (v, w, i)))
                    .collect();
                parts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Prepared::Quantile { q, parts }
            }
            Stat::Mean => Prepared::Ratio {
                rows: units.map(per_row(true)).collect(),
                scale: 1.0,
            },
            Stat::Share => Prepared::Ratio {
                rows: units.map(per_row(false)).collect(),
                scale: 100.0,
            },
        }
    }

    /// The figure with every row drawn once.
    pub fn estimate(&self) -> f64 {
        self.value_with(|_| 1.0)
    }

    /// The figure for a resample in which row `i` is drawn `counts[i]` times.
    pub fn value(&self, counts: &[u32]) -> f64 {
        self.value_with(|i| counts.get(i as usize).copied().unwrap_or(0) as f64)
    }

    fn value_with(&self, count: impl Fn(u32) -> f64) -> f64 {
        match self {
            Prepared::Quantile { q, parts } => {
                let total: f64 = parts.iter().map(|&(_, w, i)| w * count(i)).sum();
                if total <= 0.0 {
                    return f64::NAN;
                }
                let target = (q.clamp(0.0, 1.0) * total).max(f64::MIN_POSITIVE);
                let mut seen = 0.0;
                let mut last = f64::NAN;
                for &(v, w, i) in parts {
                    let c = count(i);
                    if c == 0.0 {
                        continue;
                    }
                    seen += w * c;
                    last = v;
                    if seen >= target - 1e-9 {
                        return v;
                    }
                }
                last
            }
            Prepared::Ratio { rows, scale } => {
                let (num, den) = rows.iter().fold((0.0, 0.0), |(n, d), &(i, x, y)| {
                    (n + x * count(i), d + y * count(i))
                });
                if den > 0.0 {
                    num / den * scale
                } else {
                    f64::NAN
                }
            }
        }
    }
}
