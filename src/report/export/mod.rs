//! The formats a report document is written in, one file each, and the one place report files
//! are written (as hyperfine's `src/export/`). PDF is the HTML printed by headless Chromium.

pub mod csv;
pub mod html;
pub mod markdown;
pub mod pdf;

use super::document::Document;
use super::{Format, ReportError};
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.display().to_string();
    move |source| ReportError::Io { path, source }
}

/// The files `format` makes of `doc`, by name.
fn files(doc: &Document, format: Format) -> Vec<(String, Vec<u8>)> {
    match format {
        Format::Html => vec![(format!("{}.html", doc.stem), html::render(doc).into_bytes())],
        Format::Markdown => vec![(
            format!("{}.md", doc.stem),
            markdown::render(doc).into_bytes(),
        )],
        Format::Csv => csv::files(doc),
        // Printed from the HTML by the caller (runner::rerender), which needs a browser.
        Format::Pdf => Vec::new(),
    }
}

/// Writes `doc` into `dir` in `formats`: each chart as SVG and PNG under charts/ (for HTML
/// and Markdown), the formats' files, and the document's attachments.
pub fn write(doc: &Document, dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let mut put = |path: PathBuf, bytes: &[u8]| -> Result<(), ReportError> {
        crate::base::files::write_atomic(&path, bytes).map_err(io(&path))?;
        written.push(path);
        Ok(())
    };
    if super::shows_charts(formats) {
        let chart_dir = dir.join("charts");
        std::fs::create_dir_all(&chart_dir).map_err(io(&chart_dir))?;
        for c in doc.charts() {
            put(chart_dir.join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
            put(chart_dir.join(format!("{}.png", c.name)), &c.png)?;
        }
    }
    for (name, bytes) in formats.iter().flat_map(|f| files(doc, *f)) {
        put(dir.join(name), &bytes)?;
    }
    for (name, bytes) in &doc.attachments {
        put(dir.join(name), bytes)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::Chart;
    use crate::report::document::{Section, Table};

    fn headings_of_html(h: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = h;
        while let Some(at) = rest.find("<h2>").or_else(|| rest.find("<h3>")) {
            let (h2, h3) = (rest.find("<h2>"), rest.find("<h3>"));
            let at = match (h2, h3) {
                (Some(a), Some(b)) => a.min(b),
                _ => at,
            };
            let after = &rest[at + 4..];
            let end = after.find("</h").unwrap_or(after.len());
            out.push(after[..end].replace("&amp;", "&"));
            rest = &after[end..];
        }
        out
    }

    /// The document's own headings in order: a table's title, each chart's title.
    fn headings_of_document(doc: &Document) -> Vec<&str> {
        doc.sections
            .iter()
            .flat_map(|s| match s {
                Section::Table(t) => vec![t.title.as_str()],
                Section::Charts(c) => c.iter().map(|c| c.title.as_str()).collect(),
            })
            .collect()
    }

    fn headings_of_markdown(m: &str) -> Vec<String> {
        m.lines()
            .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn html_and_markdown_show_the_same_sections_in_the_same_order() {
        let table = |title: &str| {
            Section::Table(Table {
                title: title.into(),
                note: Some("a note".into()),
                headers: vec!["a".into(), "b".into()],
                rows: vec![vec!["1".into(), "x & y".into()]],
            })
        };
        let chart = |name: &'static str, title: &str| Chart {
            name,
            title: title.into(),
            svg: "<svg></svg>".into(),
            png: Vec::new(),
        };
        let doc = Document {
            stem: "report",
            title: "t".into(),
            subtitle: Some("s".into()),
            warnings: vec!["w".into()],
            sections: vec![
                table("SLO gates"),
                table("Key figures"),
                Section::Charts(vec![chart("a", "Latency & loss"), chart("b", "Frames")]),
                table("Sessions"),
            ],
            links: Vec::new(),
            data: Vec::new(),
            attachments: Vec::new(),
        };
        let want = [
            "SLO gates",
            "Key figures",
            "Latency & loss",
            "Frames",
            "Sessions",
        ];
        assert_eq!(headings_of_document(&doc), want);
        assert_eq!(headings_of_html(&html::render(&doc)), want);
        assert_eq!(headings_of_markdown(&markdown::render(&doc)), want);
    }
}
