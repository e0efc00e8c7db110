//! A scenario's `[scoring]` table (and a scoring file, which has the same tables): overrides of
//! the dimensions' weights and of each scored metric's thresholds. Only the shape lives here;
//! which metrics exist and what their defaults are is the score layer's catalogue.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Latency,
    Picture,
    Stability,
    Coverage,
    /// Declared in a vendor dossier, not measured.
    Experience,
    /// Declared in a vendor dossier, not measured.
    Support,
}

pub const DIMENSIONS: [Dimension; 6] = [
    Dimension::Latency,
    Dimension::Picture,
    Dimension::Stability,
    Dimension::Coverage,
    Dimension::Experience,
    Dimension::Support,
];

impl Dimension {
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Latency => "latency",
            Dimension::Picture => "picture",
            Dimension::Stability => "stability",
            Dimension::Coverage => "coverage",
            Dimension::Experience => "experience",
            Dimension::Support => "support",
        }
    }

    pub fn declared(self) -> bool {
        matches!(self, Dimension::Experience | Dimension::Support)
    }
}

/// Overrides, from a scenario's `[scoring]` table or a scoring file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringSpec {
    /// Dimension weights in the overall score.
    #[serde(default)]
    pub weights: BTreeMap<Dimension, f64>,
    /// Per metric id: thresholds and weight within its dimension.
    #[serde(default)]
    pub metric: BTreeMap<String, MetricSpec>,
    #[serde(default)]
    pub coverage: Option<CoverageSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub excellent: Option<f64>,
    pub acceptable: Option<f64>,
    pub unacceptable: Option<f64>,
    pub weight: Option<f64>,
    pub tie_margin: Option<f64>,
}

/// Coverage: each region is a network profile (or a vantage point's profile name), weighed
/// by the share of the audience there.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageSpec {
    pub audience: BTreeMap<String, f64>,
}
