//! The vendor dossier: what cannot be measured from a test bench (track record, support) as
//! the vendor or the buyer's own research declares it. Scored by the same thresholds as the
//! measured metrics, and always shown as declared.

use super::thresholds::{Better, Thresholds};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dossier {
    /// The provider label it belongs to (its folder in a comparison, or its provider name).
    pub provider: String,
    /// Where the figures come from: "vendor questionnaire, 2026-11", "reference calls".
    pub source: String,
    #[serde(default)]
    pub experience: Experience,
    #[serde(default)]
    pub support: Support,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experience {
    /// Years the service has run in production.
    pub years_in_production: Option<f64>,
    /// Live-commerce or comparable deployments the vendor can show.
    pub live_commerce_cases: Option<f64>,
    /// Customers willing to be named or called.
    #[serde(default)]
    pub reference_customers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Customisation {
    /// Custom work is part of the contract.
    Included,
    /// Available at extra cost.
    Paid,
    None,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Support {
    /// Contractual first response to a severity-1 ticket, in minutes.
    pub response_minutes: Option<f64>,
    /// Engineers in the buyer's region and time zone.
    pub local_support: Option<bool>,
    pub customisation: Option<Customisation>,
}

/// One declared item and its score.
#[derive(Debug, Clone, Serialize)]
pub struct DeclaredItem {
    pub dimension: super::config::Dimension,
    pub item: &'static str,
    pub value: String,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DossierScore {
    pub provider: String,
    pub source: String,
    pub items: Vec<DeclaredItem>,
    pub experience: Option<f64>,
    pub support: Option<f64>,
}

/// Reads a dossier; mistakes name the file, line and field.
pub fn read(path: &Path) -> Result<Dossier, crate::scenario::ScenarioError> {
    crate::scenario::load_toml(path, |_| Vec::new())
}

const fn t(better: Better, excellent: f64, acceptable: f64, unacceptable: f64) -> Thresholds {
    Thresholds {
        better,
        excellent,
        acceptable,
        unacceptable,
    }
}

/// Eight years covers several generations of browsers and a few big-sale seasons.
const YEARS: Thresholds = t(Better::Higher, 8.0, 3.0, 1.0);
const CASES: Thresholds = t(Better::Higher, 20.0, 5.0, 1.0);
const REFERENCES: Thresholds = t(Better::Higher, 5.0, 2.0, 0.0);
/// Severity 1 during a sale: 15 minutes is the premium tier of the large vendors.
const RESPONSE: Thresholds = t(Better::Lower, 15.0, 60.0, 240.0);

pub fn score(d: &Dossier) -> DossierScore {
    use super::config::Dimension::{Experience, Support};
    let mut items = Vec::new();
    let mut push = |dimension, item, value: String, score: f64| {
        items.push(DeclaredItem {
            dimension,
            item,
            value,
            score,
        })
    };
    if let Some(y) = d.experience.years_in_production {
        push(
            Experience,
            "years in production",
            y.to_string(),
            YEARS.score(y),
        );
    }
    if let Some(c) = d.experience.live_commerce_cases {
        push(
            Experience,
            "live-commerce cases",
            c.to_string(),
            CASES.score(c),
        );
    }
    if !d.experience.reference_customers.is_empty() {
        let n = d.experience.reference_customers.len() as f64;
        push(
            Experience,
            "reference customers",
            d.experience.reference_customers.join(", "),
            REFERENCES.score(n),
        );
    }
    if let Some(m) = d.support.response_minutes {
        push(
            Support,
            "severity-1 response (min)",
            m.to_string(),
            RESPONSE.score(m),
        );
    }
    if let Some(l) = d.support.local_support {
        push(
            Support,
            "local support",
            if l { "yes" } else { "no" }.into(),
            if l { 100.0 } else { 0.0 },
        );
    }
    if let Some(c) = d.support.customisation {
        let (v, s) = match c {
            Customisation::Included => ("included", 100.0),
            Customisation::Paid => ("paid", super::thresholds::ACCEPTABLE_SCORE),
            Customisation::None => ("none", 0.0),
        };
        push(Support, "customisation", v.into(), s);
    }
    let mean = |dim| {
        let parts: Vec<(Option<f64>, f64)> = items
            .iter()
            .filter(|i| i.dimension == dim)
            .map(|i| (Some(i.score), 1.0))
            .collect();
        super::thresholds::weighted(&parts).map(|(s, _)| s)
    };
    DossierScore {
        provider: d.provider.clone(),
        source: d.source.clone(),
        experience: mean(Experience),
        support: mean(Support),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_items_score_by_thresholds_and_average_per_dimension() {
        let d: Dossier = toml::from_str(
            "provider = \"a\"\nsource = \"questionnaire\"\n[experience]\nyears_in_production = 8\nlive_commerce_cases = 5\n[support]\nresponse_minutes = 240\nlocal_support = true\ncustomisation = \"paid\"\n",
        )
        .unwrap();
        let s = score(&d);
        assert_eq!(s.experience, Some(80.0)); // 100 and 60
        let support = s.support.unwrap();
        assert!((support - (0.0 + 100.0 + 60.0) / 3.0).abs() < 1e-9);
        assert_eq!(s.items.len(), 5);
        let empty: Dossier = toml::from_str("provider = \"b\"\nsource = \"none\"\n").unwrap();
        let s = score(&empty);
        assert_eq!((s.experience, s.support), (None, None));
        let typo = toml::from_str::<Dossier>(
            "provider = \"b\"\nsource = \"x\"\n[support]\nresponse = 5\n",
        );
        assert!(typo.unwrap_err().to_string().contains("response"));
    }
}
