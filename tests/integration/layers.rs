//! The layer order of docs/architecture.md, held against the code: every `crate::…` path in
//! `src/` (test modules too) must name a module on the importing file's floor or below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Floor number of each top-level module, from the `## N. a, b` headings of the document.
fn floors(doc: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("## ") else {
            continue;
        };
        let Some((number, names)) = rest.split_once(". ") else {
            continue;
        };
        let Ok(floor) = number.trim().parse::<usize>() else {
            continue;
        };
        for name in names.split(',') {
            out.insert(name.trim().to_string(), floor);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`main`/`lib` for the crate roots).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Where a `crate::{…}` group stands while it is read: its brace depth (0: not in one) and
/// whether the next name begins one of its items.
#[derive(Default)]
struct Group {
    depth: usize,
    item_starts: bool,
}

/// The modules a line names through `crate::`: a path, or the first name of each item of a
/// `crate::{a, b::{c, d}}` group, which may go on over the next lines (`group` carries that).
fn named_modules(line: &str, group: &mut Group) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let chars: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if group.depth > 0 {
            match c {
                '{' => group.depth += 1,
                '}' => group.depth -= 1,
                ',' if group.depth == 1 => group.item_starts = true,
                c if is_ident(c) && group.item_starts => {
                    let name: String = chars[i..].iter().take_while(|c| is_ident(**c)).collect();
                    i += name.chars().count();
                    names.push(name);
                    group.item_starts = false;
                    continue;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        let rest: String = chars[i..].iter().collect();
        // `rtcbench::` in main.rs and `$crate::` in macros are not paths of this crate.
        let starts_path = rest.starts_with("crate::")
            && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '$'));
        if !starts_path {
            i += 1;
            continue;
        }
        i += "crate::".len();
        if chars.get(i) == Some(&'{') {
            *group = Group {
                depth: 1,
                item_starts: true,
            };
            i += 1;
            continue;
        }
        let name: String = chars[i..].iter().take_while(|c| is_ident(**c)).collect();
        i += name.chars().count();
        names.push(name);
    }
    names.retain(|n| !n.is_empty());
    names
}

/// Every import against the order in `src`, as "file:line: a (floor x) uses b (floor y)".
fn violations(src: &Path, floor_of: &BTreeMap<String, usize>) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let module = module_of(src, &file);
        if module == "main" || module == "lib" {
            continue;
        }
        let Some(&own) = floor_of.get(&module) else {
            out.push(format!(
                "{}: module `{module}` stands on no floor of docs/architecture.md",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut group = Group::default();
        for (n, line) in text.lines().enumerate() {
            for used in named_modules(line, &mut group) {
                if used == module {
                    continue;
                }
                match floor_of.get(&used) {
                    Some(&floor) if floor <= own => {}
                    Some(&floor) => out.push(format!(
                        "{}:{}: `{module}` (floor {own}) uses `{used}` (floor {floor}), which stands above it",
                        file.display(),
                        n + 1
                    )),
                    None => out.push(format!(
                        "{}:{}: `{used}` stands on no floor of docs/architecture.md",
                        file.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn imports_only_go_down_the_floors_of_docs_architecture() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).expect("the document");
    let floor_of = floors(&doc);
    assert!(floor_of.len() >= 10, "floors read: {floor_of:?}");
    let found = violations(&root().join("src"), &floor_of);
    assert!(
        found.is_empty(),
        "imports against the layer order:\n{}",
        found.join("\n")
    );
}

#[test]
fn an_upward_import_in_a_test_module_is_named_with_file_and_line() {
    let dir = root().join("target/tmp/layers-upward");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("media")).expect("a scratch tree");
    std::fs::write(
        dir.join("media/probe.rs"),
        "use crate::base::Micros;\n\n#[cfg(test)]\nmod tests {\n    use crate::{base::rng, engine::WallClock};\n}\n",
    )
    .expect("a file");
    let floor_of = floors("## 1. base\n## 3. media\n## 10. engine\n");
    let found = violations(&dir, &floor_of);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with(
            "probe.rs:5: `media` (floor 3) uses `engine` (floor 10), which stands above it"
        ),
        "{found:?}"
    );
}

#[test]
fn groups_over_several_lines_are_read_whole() {
    let mut group = Group::default();
    let mut names = named_modules("use crate::{", &mut group);
    names.extend(named_modules("    metrics::{Summary, Metric},", &mut group));
    names.extend(named_modules(
        "    report::Format}; use crate::plan::Plan;",
        &mut group,
    ));
    assert_eq!(group.depth, 0);
    assert_eq!(names, ["metrics", "report", "plan"]);
    assert!(named_modules("use rtcbench::engine::run; // crate::x", &mut group).is_empty());
}
