//! Scoring over real runs: two runs of one provider and seed tie; a run with 100 ms added to
//! the viewers' path loses on latency with an interval that excludes zero; a claims file with
//! one true, one false and one untested claim gets exactly those verdicts; the report prints
//! to PDF, and says so plainly when there is no browser to print with.

use crate::common;
use rtcbench::runner::providers::compare_dirs;
use rtcbench::score::ScoreOptions;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn scenario(delay: bool) -> String {
    let network = if delay {
        "network = \"delay100\"\n"
    } else {
        ""
    };
    let mut s = common::small_webrtc("scoring", "6s");
    s.push_str(&format!(
        "[[group]]\nname = \"call\"\nkind = \"call\"\npairs = 3\nprobes = 0\nstagger = \"100ms\"\n{network}\
         [[group]]\nname = \"room\"\nreceivers = 5\nprobes = 1\nstagger = \"100ms\"\n{network}"
    ));
    if delay {
        s.push_str("[network.delay100]\ndelay = \"100ms\"\n");
    }
    s
}

/// Runs the scenario and moves its folder to `base/name` (a comparison labels by folder).
async fn run(base: &Path, name: &str, delay: bool) -> PathBuf {
    let work = base.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).expect("work folder");
    let r = common::run_in_process(&work, &scenario(delay), 7, Vec::new()).await;
    assert_eq!(r.failed_sessions(), 0, "{name}: {:?}", r.failures);
    let dir = base.join(name);
    std::fs::rename(work.join("out"), &dir).expect("move the run");
    dir
}

fn scorecard(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("scorecard.json")).expect("scorecard.json");
    serde_json::from_str(&text).expect("scorecard JSON")
}

fn verdicts<'a>(card: &'a Value, kind: &str) -> &'a Vec<Value> {
    card["scorecard"][kind].as_array().expect("verdicts")
}

fn verdict<'a>(card: &'a Value, kind: &str, what: &str) -> &'a Value {
    verdicts(card, kind)
        .iter()
        .find(|v| v["what"] == what)
        .unwrap_or_else(|| panic!("no {kind} verdict on {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_provider_and_seed_tie_added_delay_loses_on_latency_and_claims_get_their_verdicts() {
    let _heavy = common::heavy().await;
    let base = common::temp_dir("scoring");
    let clean_a = run(&base, "clean-a", false).await;
    let clean_b = run(&base, "clean-b", false).await;
    let delayed = run(&base, "delayed", true).await;

    let formats = rtcbench::report::ALL_FORMATS;
    let tie = base.join("tie");
    compare_dirs(
        &[clean_a.clone(), clean_b],
        &tie,
        &ScoreOptions::default(),
        &formats,
    )
    .expect("compare the repeats");
    let card = scorecard(&tie);
    for kind in ["metric_verdicts", "dimension_verdicts", "overall_verdicts"] {
        for v in verdicts(&card, kind) {
            assert!(v["winner"].is_null(), "{kind}: the repeats should tie: {v}");
        }
    }
    let ranking = card["scorecard"]["ranking"].as_array().expect("ranking");
    assert_eq!(ranking.len(), 1, "one tier for two repeats: {ranking:?}");

    let claims = base.join("claims.toml");
    std::fs::write(
        &claims,
        "[[claim]]\nsays = \"1v1 latency under 400 ms\"\ncheck = \"e2e_latency_ms p95 < 400 for role=call\"\nprovider = \"clean-a\"\n\
         [[claim]]\nsays = \"connects in 5 ms\"\ncheck = \"connect_ms p50 < 5\"\nprovider = \"clean-a\"\n\
         [[claim]]\nsays = \"smooth video at 70 % loss\"\ncheck = \"freeze_time_pct < 3 at profile=loss-70\"\nprovider = \"clean-a\"\n",
    )
    .expect("claims");
    let dossier = base.join("dossier.toml");
    std::fs::write(
        &dossier,
        "provider = \"clean-a\"\nsource = \"test\"\n[support]\nresponse_minutes = 15\n",
    )
    .expect("dossier");
    let slow = base.join("slow");
    let options = ScoreOptions {
        claims: Some(claims),
        dossiers: vec![dossier.clone()],
        ..ScoreOptions::default()
    };
    // A dossier for a provider that is not compared is refused, naming both.
    let stray = ScoreOptions {
        dossiers: vec![dossier],
        ..ScoreOptions::default()
    };
    let e = compare_dirs(
        std::slice::from_ref(&delayed),
        &base.join("stray"),
        &stray,
        &formats,
    )
    .expect_err("a dossier for clean-a without clean-a");
    assert!(
        e.to_string()
            .contains("\"clean-a\", which is not compared here"),
        "{e}"
    );
    compare_dirs(&[clean_a, delayed], &slow, &options, &formats).expect("compare with delay");
    let html = std::fs::read_to_string(slow.join("comparison.html")).expect("comparison.html");
    assert!(html.contains("Declared, not measured (vendor dossier)"));
    assert!(html.contains("support (declared)"));
    let card = scorecard(&slow);
    for metric in ["interactive_latency_p95_ms", "audience_latency_p95_ms"] {
        let v = verdict(&card, "metric_verdicts", metric);
        let d = &v["difference"];
        let (low, high) = (d["low"].as_f64().unwrap(), d["high"].as_f64().unwrap());
        eprintln!("{metric}: delayed − clean {d}");
        assert_eq!(v["winner"], "clean-a", "{v}");
        // 100 ms added one way; the interval excludes zero by far.
        assert!(low > 80.0 && high < 125.0, "{metric}: [{low}, {high}]");
    }
    let latency = verdict(&card, "dimension_verdicts", "latency");
    assert_eq!(latency["winner"], "clean-a", "{latency}");
    let got: Vec<(String, String)> = card["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .map(|c| {
            (
                c["says"].as_str().unwrap_or_default().to_string(),
                c["verdict"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1v1 latency under 400 ms", "verified"),
            ("connects in 5 ms", "refuted"),
            ("smooth video at 70 % loss", "untested"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // `rtcbench report DIR --format pdf`: a PDF, or a plain message without a browser.
    let bin = env!("CARGO_BIN_EXE_rtcbench");
    let none = std::process::Command::new(bin)
        .args(["report", &slow.display().to_string(), "--format", "pdf"])
        .env("RTCBENCH_CHROMIUM", base.join("no-such-browser"))
        .output()
        .expect("rtcbench report");
    let said = String::from_utf8_lossy(&none.stderr);
    assert!(!none.status.success());
    assert!(
        said.contains("headless Chromium") && said.contains("apt-get install chromium"),
        "{said}"
    );
    if rtcbench::report::pdf::find_chromium().is_ok() {
        let out = std::process::Command::new(bin)
            .args(["report", &slow.display().to_string(), "--format", "pdf"])
            .output()
            .expect("rtcbench report");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pdf = std::fs::read(slow.join("comparison.pdf")).expect("comparison.pdf");
        assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 20_000);
        // The page tree's root counts every page (page objects themselves may be compressed).
        let text = String::from_utf8_lossy(&pdf);
        let pages = text
            .match_indices("/Count ")
            .filter_map(|(i, _)| {
                let digits: String = text[i + 7..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse::<usize>().ok()
            })
            .max()
            .unwrap_or(0);
        assert!(pages >= 3, "{pages} pages");
    } else {
        eprintln!("skipped printing: no chromium here");
    }
}

#[test]
fn the_shipped_scoring_dossier_and_claims_examples_read_cleanly() {
    let spec =
        rtcbench::score::config::Scoring::read_spec(Path::new("scoring/example-scoring.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
    let mut scoring = rtcbench::score::config::Scoring::default();
    scoring
        .apply(&spec, "scoring/example-scoring.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(scoring.coverage.is_some());
    let d = rtcbench::score::dossier::read(Path::new("scoring/example-dossier.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let scored = rtcbench::score::dossier::score(&d);
    assert!(scored.experience.is_some() && scored.support.is_some());
    let claims = rtcbench::score::claims::read(Path::new("scoring/example-claims.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims.len(), 4);
    // A mistake names the file, the claim and the word.
    let dir = common::temp_dir("claims-typo");
    let bad = dir.join("claims.toml");
    std::fs::write(
        &bad,
        "[[claim]]\ncheck = \"connect_ms p90 < 600\"\n[[claim]]\ncheck = \"conect_ms p90 < 600\"\n",
    )
    .unwrap();
    let e = rtcbench::score::claims::read(&bad).unwrap_err().to_string();
    assert!(
        e.contains("claims.toml: claim 2") && e.contains("unknown figure \"conect_ms\""),
        "{e}"
    );
}
