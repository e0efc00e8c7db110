//! Reading our TOML files (scenarios, providers, dossiers, claims) so that a mistake names its
//! file, line, column and field: every syntax error and every check's problem at once, invalid
//! UTF-8 at its first bad byte, and a problem a check could not place found by its field path.

use super::{Problem, Problems, ScenarioError};
use crate::base::files::read_limited;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};

/// The largest file read: scenario and provider files are a few kB.
pub const MAX_FILE: u64 = 4 << 20;

/// Reads `path` (bounded, UTF-8 checked), then parses it as `parse_toml` does.
pub fn load_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    check: impl FnOnce(&T) -> Problems,
) -> Result<T, ScenarioError> {
    let read_error = |source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = read_limited(path, MAX_FILE).map_err(read_error)?;
    let file = path.display().to_string();
    let source = String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let (line, column) = line_column(valid, at);
        ScenarioError::Invalid {
            file: file.clone(),
            line,
            column,
            field: "(encoding)".into(),
            message: format!(
                "invalid UTF-8 (byte {:#04x}); save the file as UTF-8",
                bytes[at]
            ),
        }
    })?;
    parse_toml(&source, &file, check)
}

/// Deserializes `source` into `T`, then runs `check`. Every syntax error is reported, else the
/// first type error (serde stops there), else every problem `check` finds; each names line,
/// column and field.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    source: &str,
    file: &str,
    check: impl FnOnce(&T) -> Problems,
) -> Result<T, ScenarioError> {
    let (document, syntax) = DeTable::parse_recoverable(source);
    // The parser's own spans are exact. A check's are often a whole table: the field's own
    // place is taken over them, and the nearest enclosing part of its path when there is none.
    let locate_with = |refine: bool, (span, field, message): Problem| {
        let span = match (span, field_span(document.get_ref(), &field)) {
            (_, Some((f, true))) if refine => Some(f),
            (Some(given), _) => Some(given),
            (None, partial) => partial.map(|(f, _)| f),
        };
        let (line, column) = line_column(source, span.map(|s| s.start).unwrap_or(0));
        ScenarioError::Invalid {
            file: file.to_string(),
            line,
            column,
            field,
            message,
        }
    };
    let locate = |problem| locate_with(false, problem);
    if !syntax.is_empty() {
        let problems = syntax
            .iter()
            .map(|e| (e.span(), "(syntax)".into(), e.message().trim().to_string()));
        return Err(ScenarioError::gather(problems.map(locate).collect()));
    }
    let deserializer = toml::Deserializer::parse(source)
        .map_err(|e| locate((e.span(), "(syntax)".into(), e.message().trim().to_string())))?;
    let value: T = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let field = super::refine_field(&field, inner.message());
        locate((inner.span(), field, inner.message().trim().to_string()))
    })?;
    let problems = check(&value);
    match problems.is_empty() {
        true => Ok(value),
        false => {
            let mut located: Vec<ScenarioError> =
                problems.into_iter().map(|p| locate_with(true, p)).collect();
            located.sort_by_key(|e| match e {
                ScenarioError::Invalid { line, column, .. } => (*line, *column),
                _ => (0, 0),
            });
            Err(ScenarioError::gather(located))
        }
    }
}

/// The line and column of `field`'s value in the file at `path`, for notes about a file that
/// parsed (a warning, say); None when the file or the field cannot be found.
pub fn field_position(path: &Path, field: &str) -> Option<(usize, usize)> {
    let bytes = read_limited(path, MAX_FILE).ok()?;
    let source = std::str::from_utf8(&bytes).ok()?;
    let document = DeTable::parse(source).ok()?;
    let (span, _) = field_span(document.get_ref(), field)?;
    Some(line_column(source, span.start))
}

/// Where the value of `field` (a path such as `sidecar.every` or `group[2].receivers`) stands
/// in `document`: the deepest part of the path that exists, and whether that is all of it.
fn field_span(document: &DeTable<'_>, field: &str) -> Option<(Range<usize>, bool)> {
    let mut table = document;
    let mut found = None;
    let segments: Vec<&str> = field.split('.').collect();
    for (depth, segment) in segments.iter().enumerate() {
        let (key, index) = match segment.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*segment, None),
        };
        let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref() == key) else {
            break;
        };
        let value = match (value.get_ref(), index) {
            (DeValue::Array(items), Some(i)) => match items.get(i) {
                Some(item) => item,
                None => return Some((value.span(), false)),
            },
            _ => value,
        };
        found = Some((value.span(), depth + 1 == segments.len()));
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    found
}

pub(super) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        name: String,
        #[serde(default)]
        sidecar: Option<Inner>,
        #[serde(default)]
        group: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        every: u32,
    }

    const TEXT: &str =
        "name = \"n\"\n\n[sidecar]\nevery = 0\n\n[[group]]\nevery = 1\n[[group]]\nevery = 2\n";

    #[test]
    fn problems_without_a_span_are_found_by_their_field() {
        let e = parse_toml::<File>(TEXT, "f.toml", |_| {
            vec![
                (None, "sidecar.every".into(), "must be 1 or more".into()),
                (None, "group[1].every".into(), "too many".into()),
                (None, "name".into(), "taken".into()),
            ]
        })
        .expect_err("three problems")
        .to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(
            lines,
            [
                "f.toml:1:8: field `name`: taken",
                "f.toml:4:9: field `sidecar.every`: must be 1 or more",
                "f.toml:9:9: field `group[1].every`: too many",
            ],
            "{e}"
        );
    }

    #[test]
    fn every_syntax_error_is_reported() {
        let e = parse_toml::<File>("name = \n[sidecar\nevery = = 1\n", "f.toml", |_| Vec::new())
            .expect_err("broken")
            .to_string();
        assert!(e.lines().count() >= 2, "{e}");
        assert!(e.lines().all(|l| l.contains("(syntax)")), "{e}");
    }

    #[test]
    fn invalid_utf8_names_the_line_and_column_of_the_first_bad_byte() {
        let dir = std::env::temp_dir().join(format!("rtcbench-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("bad.toml");
        std::fs::write(&path, b"name = \"n\"\n# caf\xe9 latin-1\n").expect("write");
        let e = load_toml::<File>(&path, |_| Vec::new())
            .expect_err("not UTF-8")
            .to_string();
        assert!(
            e.contains("bad.toml:2:6: field `(encoding)`: invalid UTF-8 (byte 0xe9)"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
