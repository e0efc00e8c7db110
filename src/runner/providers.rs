//! The same scenario against several providers, one after the other so they do not take CPU
//! from each other, and one report that puts them side by side.

use super::{default_out_dir, folder_name, run_with, RunArtifacts, RunError, RunOptions};
use crate::report::compare::{self, ComparedRun, MissingRun};
use crate::report::Format;
use crate::results::RunResults;
use crate::scenario::{Scenario, Transport};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// What a comparison folder holds besides the providers' own folders: their order, and the
/// providers that did not run. `rtcbench report` re-renders from it.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    providers: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    label: String,
    file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    did_not_run: Option<String>,
}

const MANIFEST: &str = "comparison.json";

pub struct ComparisonArtifacts {
    pub dir: PathBuf,
    pub runs: Vec<RunArtifacts>,
    pub missing: Vec<MissingRun>,
}

/// A folder name for each provider: its file's name, made safe, and numbered when repeated.
fn labels(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let safe = folder_name(name);
        let base = if safe.is_empty() {
            "provider".into()
        } else {
            safe
        };
        let mut label = base.clone();
        let mut n = 2;
        while out.contains(&label) {
            label = format!("{base}-{n}");
            n += 1;
        }
        out.push(label);
    }
    out
}

/// Runs `scenario` against each of `options.providers` in turn, each into a folder of its own
/// under the output folder, then writes the comparison there. A provider whose run could not
/// take place is recorded and the others still run; Ctrl-C ends the current run (its results
/// are written) and skips the rest.
pub async fn run_each(
    scenario: &Scenario,
    options: &RunOptions,
    stop: watch::Receiver<bool>,
) -> Result<ComparisonArtifacts, RunError> {
    if scenario.transport != Transport::Webrtc {
        return Err(RunError::ProvidersNeedWebrtc);
    }
    // Every file is read before anything runs: a typo in the third should not cost two runs.
    let files = options
        .providers
        .iter()
        .map(|p| crate::provider::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = labels(&files.iter().map(|f| f.name.clone()).collect::<Vec<_>>());
    let dir = options
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(scenario));
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Output {
        path: dir.display().to_string(),
        source,
    })?;
    let mut runs = Vec::new();
    let mut compared = Vec::new();
    let mut missing = Vec::new();
    let mut manifest = Manifest {
        providers: Vec::new(),
    };
    for (i, ((label, path), file)) in labels.iter().zip(&options.providers).zip(files).enumerate() {
        let did_not_run = if *stop.borrow() {
            Some("the comparison was stopped before its turn".to_string())
        } else {
            eprintln!(
                "provider {}/{}: {label} ({})",
                i + 1,
                labels.len(),
                path.display()
            );
            let one = RunOptions {
                out: Some(dir.join(label)),
                providers: Vec::new(),
                ..options.clone()
            };
            match run_with(scenario, &one, Some(file), stop.clone()).await {
                Ok(a) => {
                    compared.push(ComparedRun {
                        label: label.clone(),
                        results: a.results.clone(),
                    });
                    runs.push(a);
                    None
                }
                Err(e) => {
                    eprintln!("provider {label}: {e}");
                    Some(e.to_string())
                }
            }
        };
        if let Some(reason) = &did_not_run {
            missing.push(MissingRun {
                label: label.clone(),
                reason: reason.clone(),
            });
        }
        manifest.providers.push(ManifestEntry {
            label: label.clone(),
            file: path.display().to_string(),
            did_not_run,
        });
    }
    let path = dir.join(MANIFEST);
    let json = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&path, json).map_err(|source| RunError::Write { path, source })?;
    compare::write(&compared, &missing, &dir, &crate::report::ALL_FORMATS)?;
    Ok(ComparisonArtifacts { dir, runs, missing })
}

/// Whether `dir` holds a comparison rather than a single run.
pub fn is_comparison(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// Re-renders a comparison from its manifest and its providers' run.json files.
pub fn rerender(dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, RunError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|source| RunError::Write {
        path: path.clone(),
        source,
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| RunError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    let mut written = Vec::new();
    for p in manifest.providers {
        match p.did_not_run {
            Some(reason) => missing.push(MissingRun {
                label: p.label,
                reason,
            }),
            None => {
                let own = dir.join(&p.label);
                let results = RunResults::read(&own.join("run.json"))?;
                written.extend(crate::report::write(&results, &own, formats)?);
                runs.push(ComparedRun {
                    label: p.label,
                    results,
                });
            }
        }
    }
    written.extend(compare::write(&runs, &missing, dir, formats)?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::labels;

    #[test]
    fn labels_are_safe_folder_names_and_repeats_are_numbered() {
        let names = ["embedded", "janus local", "embedded", "", "embedded"].map(String::from);
        assert_eq!(
            labels(&names),
            [
                "embedded",
                "janus-local",
                "embedded-2",
                "provider",
                "embedded-3"
            ]
        );
    }
}
