//! Where a run or comparison writes: never over an earlier run unless told to. A default
//! (time-stamped) folder that exists already gets a numbered neighbour; a named one that holds
//! a run is refused without `--force`.

use super::RunError;
use std::path::{Path, PathBuf};

/// Files whose presence means a folder holds an earlier run or comparison.
const RESULT_FILES: [&str; 3] = ["run.json", "comparison.json", "report.html"];

/// How many numbered neighbours of a default folder are tried before giving up.
const MAX_NEIGHBOURS: u32 = 1000;

fn output_error(path: &Path, source: std::io::Error) -> RunError {
    RunError::Output {
        path: path.display().to_string(),
        source,
    }
}

/// The folder that earlier results in `dir` are named by, if any.
fn earlier_result(dir: &Path) -> Option<PathBuf> {
    RESULT_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
}

/// Makes the output folder: `requested` when given (refused if it holds results and `force`
/// is off), else `default` or, when that is taken, `default-2`, `default-3`, ...
pub fn prepare(
    requested: Option<&Path>,
    default: PathBuf,
    force: bool,
) -> Result<PathBuf, RunError> {
    match requested {
        Some(dir) => {
            if let (Some(found), false) = (earlier_result(dir), force) {
                return Err(RunError::OutputHoldsResults {
                    path: dir.to_path_buf(),
                    found,
                });
            }
            std::fs::create_dir_all(dir).map_err(|e| output_error(dir, e))?;
            Ok(dir.to_path_buf())
        }
        None => claim_fresh(default),
    }
}

/// Creates `default` or its first free numbered neighbour; the creation itself claims it, so
/// two runs started in the same second do not share a folder.
fn claim_fresh(default: PathBuf) -> Result<PathBuf, RunError> {
    if let Some(parent) = default.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
    }
    let name = default
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for n in 1..=MAX_NEIGHBOURS {
        let candidate = match n {
            1 => default.clone(),
            _ => default.with_file_name(format!("{name}-{n}")),
        };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(output_error(&candidate, e)),
        }
    }
    Err(output_error(
        &default,
        std::io::Error::other(format!("it and {MAX_NEIGHBOURS} numbered neighbours exist")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rtcbench-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_taken_default_folder_gets_a_numbered_neighbour() {
        let root = scratch("default");
        let default = root.join("20261204T000000Z-quickstart");
        assert_eq!(claim_fresh(default.clone()).expect("first"), default);
        let second = claim_fresh(default.clone()).expect("second");
        assert_eq!(second, root.join("20261204T000000Z-quickstart-2"));
        assert_eq!(
            claim_fresh(default).expect("third"),
            root.join("20261204T000000Z-quickstart-3")
        );
    }

    #[test]
    fn a_named_folder_with_a_run_is_refused_unless_forced() {
        let root = scratch("named");
        let dir = root.join("mine");
        assert_eq!(
            prepare(Some(&dir), root.join("x"), false).expect("new"),
            dir
        );
        // Empty, or holding other files: still usable.
        std::fs::write(dir.join("notes.txt"), "mine").expect("write");
        prepare(Some(&dir), root.join("x"), false).expect("no run in it");
        std::fs::write(dir.join("run.json"), "{}").expect("write");
        let e = prepare(Some(&dir), root.join("x"), false)
            .expect_err("holds a run")
            .to_string();
        assert!(e.contains("run.json") && e.contains("--force"), "{e}");
        prepare(Some(&dir), root.join("x"), true).expect("forced");
    }
}
