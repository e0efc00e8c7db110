//! A document as a self-contained HTML page: inline CSS and SVG, no scripts, no network fetches.

use crate::report::charts::Chart;
use crate::report::document::{Document, Section, Table};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222}\
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f2f4f7}td:first-child,th:first-child{text-align:left}\
.note{color:#555;font-size:13px}.chart{page-break-inside:avoid;break-inside:avoid;margin:1em 0}.t{text-align:left;overflow-wrap:anywhere}.warn{background:#fff4e5;border:1px solid #f0b46b;padding:.6em}\
svg{max-width:100%;height:auto}.block{break-inside:avoid;page-break-inside:avoid}\
@page{size:A4;margin:12mm}@media print{body{margin:0;max-width:none;font-size:12px}h2,h3{break-after:avoid;page-break-after:avoid}\
tr{break-inside:avoid;page-break-inside:avoid}thead{display:table-header-group}table{font-size:10px;width:100%}}";

/// The document up to and including its heading.
fn head(title: &str) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!(
        "<title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(title),
        escape(title)
    ));
    h
}

/// The document as one HTML page.
pub fn render(doc: &Document) -> String {
    let mut h = head(&doc.title);
    if let Some(sub) = &doc.subtitle {
        h.push_str(&format!("<p class=\"sub\">{}</p>", escape(sub)));
    }
    for w in &doc.warnings {
        h.push_str(&format!("<p class=\"warn\">{}</p>", escape(w)));
    }
    for section in &doc.sections {
        match section {
            Section::Table(t) => table(&mut h, t),
            Section::Charts(c) => charts(&mut h, c),
        }
    }
    if !doc.links.is_empty() {
        h.push_str("<p class=\"note\">Each provider's full report: ");
        let links: Vec<String> = doc
            .links
            .iter()
            .map(|l| {
                format!(
                    "<a href=\"{}/report.html\">{}</a>",
                    escape(&l.dir),
                    escape(&l.label)
                )
            })
            .collect();
        h.push_str(&links.join(" · "));
        h.push_str("</p>");
    }
    h.push_str("</body></html>\n");
    h
}

fn charts(h: &mut String, charts: &[Chart]) {
    for c in charts {
        h.push_str(&format!(
            "<div class=\"chart\"><h3>{}</h3>{}</div>",
            escape(&c.title),
            strip_xml_prolog(&c.svg)
        ));
    }
}

fn strip_xml_prolog(svg: &str) -> &str {
    svg.find("<svg").map(|i| &svg[i..]).unwrap_or(svg)
}

/// A table with its heading and note, kept on one page when it fits one.
fn table(h: &mut String, t: &Table) {
    h.push_str("<div class=\"block\">");
    table_body(h, t);
    h.push_str("</div>");
}

fn table_body(h: &mut String, t: &Table) {
    h.push_str(&format!("<h2>{}</h2>", escape(&t.title)));
    if let Some(n) = &t.note {
        h.push_str(&format!("<p class=\"note\">{}</p>", escape(n)));
    }
    if t.headers.is_empty() {
        return;
    }
    h.push_str("<table><thead><tr>");
    for c in &t.headers {
        h.push_str(&format!("<th>{}</th>", escape(c)));
    }
    h.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        h.push_str("<tr>");
        for c in row {
            // Figures line up on the right; words read from the left.
            let class = if is_figure(c) { "" } else { " class=\"t\"" };
            h.push_str(&format!("<td{class}>{}</td>", escape(c)));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
}

/// A cell that is a number, possibly with a unit, interval or sign ("12.5 [11.8, 13.1]", "–").
fn is_figure(cell: &str) -> bool {
    let c = cell.trim_start_matches(['+', '-', '−']);
    c.is_empty() || c == "–" || c.starts_with(|ch: char| ch.is_ascii_digit())
}
