//! Scoring providers: figures per session (measure), statistics over sessions (stats), scores
//! by thresholds and weights (thresholds, config), the scorecard with its intervals and
//! pairwise verdicts (card), coverage by region, the vendor's declared dossier, and claims.

pub mod card;
pub mod claims;
pub mod config;
pub mod dossier;
pub mod emodel;
mod evaluate;
pub mod measure;
pub mod percentiles;
pub mod prepared;
pub mod stats;
pub mod thresholds;
mod verdicts;

use crate::results::RunResults;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a comparison is scored with besides the runs: files the user gives on the command
/// line, kept in the comparison's manifest so a re-render scores the same way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dossiers: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Dossier(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Claims(#[from] claims::ClaimsError),
    #[error("{path}: the dossier is for provider \"{provider}\", which is not compared here (providers: {known})")]
    DossierProvider {
        path: String,
        provider: String,
        known: String,
    },
}

/// Everything the comparison report says about scores, ties and claims.
pub struct Assessment {
    pub scoring: config::Scoring,
    pub card: card::Scorecard,
    pub claims: Vec<claims::ClaimResult>,
}

/// The scoring, dossier and claims files as read, once, before any run: a typo in one costs
/// nothing, and the assessment after the runs does not read them again.
#[derive(Debug, Default)]
pub struct ScoreFiles {
    scoring: Option<(String, config::ScoringSpec)>,
    dossiers: Vec<(String, dossier::Dossier)>,
    claims: Vec<claims::Claim>,
}

impl ScoreFiles {
    pub fn read(options: &ScoreOptions) -> Result<Self, ScoreError> {
        let name = |p: &std::path::Path| p.display().to_string();
        Ok(Self {
            scoring: match &options.scoring {
                Some(p) => Some((name(p), config::Scoring::read_spec(p)?)),
                None => None,
            },
            dossiers: options
                .dossiers
                .iter()
                .map(|p| Ok((name(p), dossier::read(p)?)))
                .collect::<Result<_, ScoreError>>()?,
            claims: match &options.claims {
                Some(p) => claims::read(p)?,
                None => Vec::new(),
            },
        })
    }
}

/// Scores `runs` (label, results) with the scenario's `[scoring]`, then the files'.
pub fn assess(
    runs: &[(&str, &RunResults)],
    files: &ScoreFiles,
    bootstrap: &stats::Bootstrap,
) -> Result<Assessment, ScoreError> {
    let scenario = runs
        .first()
        .map(|(_, r)| (r.scenario_name.as_str(), &r.scenario));
    let file = files.scoring.as_ref().map(|(p, spec)| (p.as_str(), spec));
    let scoring = config::Scoring::resolve(scenario, file)?;
    let labels: Vec<&str> = runs.iter().map(|(l, _)| *l).collect();
    let mut declared = Vec::new();
    for (path, d) in &files.dossiers {
        if !labels.contains(&d.provider.as_str()) {
            return Err(ScoreError::DossierProvider {
                path: path.clone(),
                provider: d.provider.clone(),
                known: labels.join(", "),
            });
        }
        declared.push(dossier::score(d));
    }
    let inputs: Vec<card::ProviderInput> = runs
        .iter()
        .map(|(label, r)| card::ProviderInput {
            label: label.to_string(),
            rows: measure::rows(r),
            dossier: declared.iter().find(|d| d.provider == *label).cloned(),
        })
        .collect();
    let card = card::compute(&scoring, &inputs, bootstrap);
    let providers: Vec<(String, &[measure::Row])> = inputs
        .iter()
        .map(|p| (p.label.clone(), p.rows.as_slice()))
        .collect();
    let claims = claims::judge_all(&files.claims, &providers, bootstrap);
    Ok(Assessment {
        scoring,
        card,
        claims,
    })
}
