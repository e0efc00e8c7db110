//! The manifests `rtcbench deploy kubernetes` writes, validated offline against the Kubernetes
//! API's object models through the official Python client (scripts/validate-kubernetes.py),
//! which a virtual environment gets from PyPI on first use (as `.ci/run` does). Without
//! python3 the test says why and passes.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

fn client_python() -> Option<PathBuf> {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return None;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("k8s-venv");
    let python = venv.join("bin/python");
    let has_client = |p: &Path| {
        Command::new(p)
            .args(["-c", "import kubernetes.client, yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_client(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "python3 -m venv: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "-r", "deploy/requirements.txt"])
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "pip: {}",
        String::from_utf8_lossy(&pip.stderr)
    );
    assert!(
        has_client(&python),
        "the kubernetes client installed but not importable"
    );
    Some(python)
}

fn validate(python: &Path, target: &Path) -> std::process::Output {
    Command::new(python)
        .arg("scripts/validate-kubernetes.py")
        .arg(target)
        .output()
        .unwrap()
}

#[test]
fn written_manifests_validate_against_the_official_client_models() {
    let Some(python) = client_python() else {
        return;
    };
    let dir = common::temp_dir("k8s-manifests");
    let out = common::bin()
        .args([
            "deploy",
            "kubernetes",
            "scenarios/big-sale-peak.toml",
            "--shards",
            "8",
        ])
        .args(["--provider", "providers/examples/cloudflare-stream.toml"])
        .args(["--namespace", "load", "--region", "cn-east", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked = validate(&python, &dir);
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        said.lines().filter(|l| l.starts_with("ok: ")).count(),
        5,
        "{said}"
    );
    let job = std::fs::read_to_string(dir.join("job.yaml")).unwrap();
    assert!(job.contains("secretKeyRef"), "{job}");

    // The check can fail: a misspelt field and a number written as text.
    let bad = dir.join("bad.yaml");
    let broken = job
        .replace(
            "completionMode: Indexed",
            "completionMode: Indexed\n  completionz: 8",
        )
        .replace("parallelism: 8", "parallelism: '8'");
    std::fs::write(&bad, broken).unwrap();
    let checked = validate(&python, &bad);
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success());
    assert!(
        err.contains("completionz: no such field in V1JobSpec"),
        "{err}"
    );
    assert!(err.contains("parallelism: expected int"), "{err}");
}
