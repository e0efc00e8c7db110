//! `rtcbench merge`: the shards' folders read back (bounded), merged exactly, written as one run
//! with its report.

use super::{out_dir, RunArtifacts, RunError};
use crate::report;
use crate::results::merge::{merge_shards, ShardFile};
use crate::results::{ResultsError, RunResults};
use std::path::{Path, PathBuf};

/// Why `dir` has no run.json to read, in words: a shard killed while writing leaves only the
/// hidden partial file (run.json is renamed into place whole).
fn no_run_json(dir: &Path) -> String {
    let partial = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(".run.json.") && n.ends_with(".partial"))
    });
    match partial {
        Some(p) => format!(
            "no run.json, only {p}: the shard was stopped while writing it, so nothing it measured can be merged"
        ),
        None => "no run.json: the shard did not finish (it writes run.json when its run ends)".into(),
    }
}

/// Reads each shard folder's run.json.
pub fn read_shards(dirs: &[PathBuf]) -> Result<Vec<ShardFile>, RunError> {
    let mut files = Vec::new();
    for dir in dirs {
        let path = dir.join("run.json");
        if !dir.is_dir() {
            return Err(ResultsError::Merge(format!("{}: not a folder", dir.display())).into());
        }
        if !path.is_file() {
            return Err(
                ResultsError::Merge(format!("{}: {}", dir.display(), no_run_json(dir))).into(),
            );
        }
        files.push(ShardFile {
            source: path.display().to_string(),
            results: RunResults::read(&path)?,
        });
    }
    Ok(files)
}

/// Merges the shard folders into `out` (default `results/<UTC time>-<scenario>-merged/`).
pub fn merge_dirs(
    dirs: &[PathBuf],
    out: Option<&Path>,
    force: bool,
    allow_partial: bool,
) -> Result<RunArtifacts, RunError> {
    let files = read_shards(dirs)?;
    let results = merge_shards(files, allow_partial)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let default = PathBuf::from("results").join(format!(
        "{stamp}-{}-merged",
        super::folder_name(&results.scenario_name)
    ));
    let dir = out_dir::prepare(out, default, force)?;
    results.write(&dir.join("run.json"))?;
    report::write(&results, &dir, &report::ALL_FORMATS)?;
    Ok(RunArtifacts { dir, results })
}
