//! A document's data tables as CSV files: a header row, then one row per table row.

use crate::report::document::{Document, Table};

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn line(cells: &[String]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| field(c)).collect();
    cells.join(",") + "\n"
}

pub fn render(t: &Table) -> String {
    let mut out = line(&t.headers);
    for row in &t.rows {
        out.push_str(&line(row));
    }
    out
}

/// Every data table of the document, by file name.
pub fn files(doc: &Document) -> Vec<(String, Vec<u8>)> {
    doc.data
        .iter()
        .map(|d| (d.name.to_string(), render(&d.table).into_bytes()))
        .collect()
}
