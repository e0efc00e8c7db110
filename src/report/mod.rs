//! Reports rendered from run.json alone. A run (run.rs) and a comparison (compare.rs) each
//! build one report document (document.rs) of tables and charts; each format in export/ turns
//! a document into bytes, and export::write is the one place report files are written.

mod cdn;
pub mod charts;
mod cohost;
pub mod compare;
mod degradation;
pub mod document;
pub mod export;
mod http;
mod layers;
mod recovery;
mod run;
mod schedule;
mod score_charts;
pub mod scorecard;
mod sessions;
mod shapes;
mod shards;
mod timeline;

pub use document::{Document, Table};
pub use export::pdf;

use crate::metrics::Metric;
use crate::results::{GroupResult, RunResults};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    #[error("unknown report format \"{0}\"; use html, md, csv or pdf")]
    Format(String),
    #[error(transparent)]
    Pdf(#[from] export::pdf::PdfError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Csv,
    /// The HTML report printed by headless Chromium.
    Pdf,
}

impl std::str::FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "html" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            "pdf" => Ok(Format::Pdf),
            other => Err(ReportError::Format(other.to_string())),
        }
    }
}

pub const ALL_FORMATS: [Format; 3] = [Format::Html, Format::Markdown, Format::Csv];

/// Whether any of `formats` shows charts (HTML and Markdown do), so they are worth drawing.
pub(crate) fn shows_charts(formats: &[Format]) -> bool {
    formats
        .iter()
        .any(|f| matches!(f, Format::Html | Format::Markdown))
}

fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| fmt(v, digits)).unwrap_or_else(|| "–".into())
}

fn metric_stat(
    g: &GroupResult,
    m: Metric,
    pick: fn(&crate::results::Summary) -> f64,
    digits: usize,
) -> String {
    g.metric(m)
        .filter(|r| r.summary.count > 0)
        .map(|r| fmt(pick(&r.summary), digits))
        .unwrap_or_else(|| "–".into())
}

/// A profile's settings beyond delay, jitter and loss, as written.
fn network_extras(p: &crate::scenario::NetworkProfile) -> String {
    let mut out = Vec::new();
    if let Some(b) = p.burst {
        out.push(format!("bursts of {b} packets"));
    }
    if let Some(d) = p.duplicate {
        out.push(format!("{}% duplicated", d.0));
    }
    if let Some(r) = p.rate {
        out.push(format!("cap {:.0} kbps", r.kbps()));
    }
    if !p.reorder && !p.jitter.0.is_zero() {
        out.push("in order".into());
    }
    if !p.outages.is_empty() {
        out.push(format!("{} outages", p.outages.len()));
    }
    if p.uplink.is_some() {
        out.push("uplink impaired".into());
    }
    for step in &p.schedule {
        out.push(format!(
            "{} from {}",
            step.profile,
            humantime::format_duration(step.at.0)
        ));
    }
    out.join(", ")
}

/// The warning a report opens with when rtcbench itself was the limit.
pub fn saturation_warning(r: &RunResults) -> Option<String> {
    let cost = r.self_cost.as_ref().filter(|c| !c.saturation.is_empty())?;
    Some(format!(
        "rtcbench itself was the limit in this run ({}): its own delays are in these figures, and gate verdicts are unreliable.",
        cost.saturation.join("; ")
    ))
}

/// Writes the run's report in `formats` into `dir` (with its charts, for HTML and Markdown).
pub fn write(r: &RunResults, dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, ReportError> {
    export::write(&run::document(r, shows_charts(formats))?, dir, formats)
}
