//! The report document: what a run's or a comparison's report says, built once and laid out by
//! each format (src/report/export/). HTML and Markdown show its sections in its order; CSV
//! writes its data tables; nothing else decides what a report contains.

use super::charts::Chart;

/// A table with its heading and the note under it.
pub struct Table {
    pub title: String,
    pub note: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One part of the report, in reading order.
pub enum Section {
    Table(Table),
    /// Charts, each under its own heading.
    Charts(Vec<Chart>),
}

/// Another report the document points to (a provider's own run, from a comparison).
pub struct Link {
    pub label: String,
    /// Its folder, relative to the document's folder or absolute.
    pub dir: String,
}

/// A table written whole as a CSV file beside the report.
pub struct DataFile {
    pub name: &'static str,
    pub table: Table,
}

pub struct Document {
    /// File stem of the report: "report" or "comparison".
    pub stem: &'static str,
    pub title: String,
    /// The line under the title (when, how long, seed, version).
    pub subtitle: Option<String>,
    /// What a reader must know before trusting the figures.
    pub warnings: Vec<String>,
    pub sections: Vec<Section>,
    pub links: Vec<Link>,
    pub data: Vec<DataFile>,
    /// Files written as they are, whatever the formats (a comparison's scorecard.json).
    pub attachments: Vec<(&'static str, Vec<u8>)>,
}

impl Document {
    pub fn charts(&self) -> impl Iterator<Item = &Chart> {
        self.sections.iter().flat_map(|s| match s {
            Section::Charts(c) => c.as_slice(),
            Section::Table(_) => &[],
        })
    }
}
