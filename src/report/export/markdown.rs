//! A document as Markdown: its tables, with the PNG charts linked from charts/.

use crate::report::charts::Chart;
use crate::report::document::{Document, Section, Table};

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn render(doc: &Document) -> String {
    let mut m = format!("# {}\n\n", doc.title);
    if let Some(sub) = &doc.subtitle {
        m.push_str(&format!("{sub}\n\n"));
    }
    for w in &doc.warnings {
        m.push_str(&format!("> **{w}**\n\n"));
    }
    for section in &doc.sections {
        match section {
            Section::Table(t) => table(&mut m, t),
            Section::Charts(c) => charts(&mut m, c),
        }
    }
    for l in &doc.links {
        m.push_str(&format!(
            "- {0}: [report]({1}/report.md), [run.json]({1}/run.json)\n",
            l.label, l.dir
        ));
    }
    m
}

fn table(m: &mut String, t: &Table) {
    m.push_str(&format!("## {}\n\n", t.title));
    if let Some(n) = &t.note {
        m.push_str(&format!("{n}\n\n"));
    }
    if t.headers.is_empty() {
        return;
    }
    let row = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    m.push_str(&row(&t.headers));
    m.push_str(&format!("|{}\n", "---|".repeat(t.headers.len())));
    for r in &t.rows {
        m.push_str(&row(r));
    }
    m.push('\n');
}

fn charts(m: &mut String, charts: &[Chart]) {
    for c in charts {
        m.push_str(&format!(
            "### {}\n\n![{}](charts/{}.png)\n\n",
            c.title, c.title, c.name
        ));
    }
}
