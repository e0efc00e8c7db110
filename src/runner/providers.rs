//! The same scenario against several providers, one after the other so they do not take CPU
//! from each other, and one report that puts them side by side.

use super::{default_out_dir, folder_name, run_with, RunArtifacts, RunError, RunOptions};
use crate::report::compare::{self, ComparedRun, MissingRun};
use crate::report::Format;
use crate::results::RunResults;
use crate::scenario::{Scenario, Transport};
use crate::score::{stats::Bootstrap, ScoreFiles, ScoreOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// What a comparison folder holds besides the providers' own folders: their order, and the
/// providers that did not run. `rtcbench report` re-renders from it.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    providers: Vec<ManifestEntry>,
    /// The scoring, dossier and claims files the comparison was scored with.
    #[serde(default)]
    score: ScoreOptions,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    label: String,
    /// The provider file it ran with (empty for runs compared after the fact).
    #[serde(default)]
    file: String,
    /// A run folder elsewhere (`rtcbench compare`); absent: the folder `label` beside the
    /// manifest, made by this comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_dir: Option<PathBuf>,
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
    let score = ScoreFiles::read(&options.score)?;
    let dir = super::out_dir::prepare(
        options.out.as_deref(),
        default_out_dir(scenario),
        options.force,
    )?;
    let mut runs = Vec::new();
    let mut compared = Vec::new();
    let mut missing = Vec::new();
    let mut manifest = Manifest {
        providers: Vec::new(),
        score: options.score.clone(),
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
                        dir: label.clone(),
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
            run_dir: None,
            did_not_run,
        });
    }
    write_manifest(&dir, &manifest)?;
    write_comparison(
        &compared,
        &missing,
        &score,
        &dir,
        &crate::report::ALL_FORMATS,
    )?;
    Ok(ComparisonArtifacts { dir, runs, missing })
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), RunError> {
    let path = dir.join(MANIFEST);
    let json = serde_json::to_string_pretty(manifest).unwrap_or_default();
    crate::base::files::write_atomic(&path, json.as_bytes())
        .map_err(|source| RunError::Write { path, source })
}

/// Scores the runs and writes the comparison report.
fn write_comparison(
    runs: &[ComparedRun],
    missing: &[MissingRun],
    score: &ScoreFiles,
    dir: &Path,
    formats: &[Format],
) -> Result<Vec<PathBuf>, RunError> {
    let labelled: Vec<(&str, &RunResults)> = runs
        .iter()
        .map(|r| (r.label.as_str(), &r.results))
        .collect();
    let seed = runs.first().map_or(1, |r| r.results.seed);
    let bootstrap = Bootstrap {
        seed,
        ..Bootstrap::default()
    };
    let assessment = crate::score::assess(&labelled, score, &bootstrap)?;
    Ok(compare::write(runs, missing, &assessment, dir, formats)?)
}

/// One comparison from run folders made before: each a run (run.json) or a comparison,
/// whose runs are taken in its order. Written to `out` with its manifest, so `rtcbench
/// report` can render it again.
pub fn compare_dirs(
    dirs: &[PathBuf],
    out: &Path,
    score: &ScoreOptions,
    formats: &[Format],
) -> Result<Vec<PathBuf>, RunError> {
    let files = ScoreFiles::read(score)?;
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for d in dirs {
        if d.join("run.json").is_file() {
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
            found.push((name, d.clone()));
        } else if is_comparison(d) {
            let manifest = read_manifest(d)?;
            for p in manifest
                .providers
                .into_iter()
                .filter(|p| p.did_not_run.is_none())
            {
                let run_dir = p.run_dir.unwrap_or_else(|| d.join(&p.label));
                found.push((p.label, run_dir));
            }
        } else {
            return Err(RunError::NotARun { path: d.clone() });
        }
    }
    let names: Vec<String> = found.iter().map(|(n, _)| n.clone()).collect();
    let labels = labels(&names);
    std::fs::create_dir_all(out).map_err(|source| RunError::Output {
        path: out.display().to_string(),
        source,
    })?;
    let mut runs = Vec::new();
    let mut manifest = Manifest {
        providers: Vec::new(),
        score: score.clone(),
    };
    for (label, (_, run_dir)) in labels.into_iter().zip(found) {
        let results = RunResults::read(&run_dir.join("run.json"))?;
        let absolute = std::path::absolute(&run_dir).unwrap_or(run_dir.clone());
        runs.push(ComparedRun {
            label: label.clone(),
            results,
            dir: absolute.display().to_string(),
        });
        manifest.providers.push(ManifestEntry {
            label,
            file: String::new(),
            run_dir: Some(absolute),
            did_not_run: None,
        });
    }
    write_manifest(out, &manifest)?;
    write_comparison(&runs, &[], &files, out, formats)
}

fn read_manifest(dir: &Path) -> Result<Manifest, RunError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|source| RunError::Write {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| RunError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })
}

/// Whether `dir` holds a comparison rather than a single run.
pub fn is_comparison(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// Re-renders a comparison from its manifest and its providers' run.json files.
pub fn rerender(dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, RunError> {
    let manifest = read_manifest(dir)?;
    let files = ScoreFiles::read(&manifest.score)?;
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    let mut written = Vec::new();
    for p in manifest.providers {
        match (p.did_not_run, p.run_dir) {
            (Some(reason), _) => missing.push(MissingRun {
                label: p.label,
                reason,
            }),
            (None, Some(run_dir)) => {
                let results = RunResults::read(&run_dir.join("run.json"))?;
                runs.push(ComparedRun {
                    dir: run_dir.display().to_string(),
                    label: p.label,
                    results,
                });
            }
            (None, None) => {
                let own = dir.join(&p.label);
                let results = RunResults::read(&own.join("run.json"))?;
                written.extend(crate::report::write(&results, &own, formats)?);
                runs.push(ComparedRun {
                    dir: p.label.clone(),
                    label: p.label,
                    results,
                });
            }
        }
    }
    written.extend(write_comparison(&runs, &missing, &files, dir, formats)?);
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
