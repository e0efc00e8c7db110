//! Every TOML example in docs/ and README.md, read by the code `rtcbench validate` (and
//! `compare`, for scoring, claims and dossier files) uses, so the documents cannot drift from
//! the schema. A fence says what its block is: ```toml scenario, provider, scoring, claims or
//! dossier.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The TOML blocks of a Markdown text: (line of the fence, its kind, the text).
fn toml_blocks(markdown: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) if info.trim_start().starts_with("toml") => {
                let kind = info.trim_start()["toml".len()..].trim().to_string();
                open = Some((n + 1, kind, String::new()));
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some((_, _, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Reads `text` as a file of `kind` would be read; the error as a message.
fn check(kind: &str, text: &str, scratch: &Path) -> Result<(), String> {
    let file = scratch.join(format!("example.{kind}.toml"));
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    match kind {
        "scenario" => rtcbench::runner::load::scenario_file(&file)
            .map(drop)
            .map_err(|e| e.to_string()),
        "provider" => rtcbench::provider::load(&file)
            .map(drop)
            .map_err(|e| e.to_string()),
        "scoring" => rtcbench::score::config::Scoring::read_spec(&file)
            .and_then(|spec| rtcbench::score::config::Scoring::default().apply(&spec, "example"))
            .map_err(|e| e.to_string()),
        "claims" => rtcbench::score::claims::read(&file)
            .map(drop)
            .map_err(|e| e.to_string()),
        "dossier" => rtcbench::score::dossier::read(&file)
            .map(drop)
            .map_err(|e| e.to_string()),
        other => Err(format!(
            "say what the block is: ```toml scenario, provider, scoring, claims or dossier (got \"{other}\")"
        )),
    }
}

fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.push(root().join("README.md"));
    docs.sort();
    docs
}

#[test]
fn every_toml_example_in_the_docs_reads_as_its_kind() {
    let scratch = root().join("target/tmp/docs-examples");
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("readable");
        for (line, kind, block) in toml_blocks(&text) {
            checked += 1;
            if let Err(e) = check(&kind, &block, &scratch) {
                wrong.push(format!("{}:{line}: {e}", doc.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 3, "only {checked} examples found");
}

#[test]
fn a_drifted_example_is_caught() {
    let scratch = root().join("target/tmp/docs-examples-drift");
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let doc = "text\n```toml scenario\nname = \"x\"\nduraton = \"10s\"\n```\n";
    let blocks = toml_blocks(doc);
    assert_eq!(blocks.len(), 1);
    let (line, kind, block) = &blocks[0];
    assert_eq!((*line, kind.as_str()), (2, "scenario"));
    let e = check(kind, block, &scratch).expect_err("a typo");
    assert!(e.contains("duraton"), "{e}");
    assert!(check("", "name = \"x\"\n", &scratch).is_err());
}
