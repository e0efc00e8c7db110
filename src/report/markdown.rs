//! The Markdown report: tables, with the PNG charts linked from charts/.

use super::charts::Chart;
use super::Table;
use crate::results::RunResults;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn render(r: &RunResults, tables: &[Table], charts: &[Chart]) -> String {
    let mut m = format!(
        "# rtcbench report: {}\n\nStarted {} UTC · {:.1} s · seed {} · rtcbench {}\n\n",
        r.scenario_name, r.started_at, r.duration_s, r.seed, r.rtcbench_version
    );
    if !r.completed {
        m.push_str("> **This run was stopped early; figures cover the part that ran.**\n\n");
    }
    for f in &r.failures {
        m.push_str(&format!("> **Failure:** {f}\n\n"));
    }
    if let Some(reasons) = super::saturation_warning(r) {
        m.push_str(&format!("> **{reasons}**\n\n"));
    }
    tables_and_charts(&mut m, tables, 1, charts);
    m
}

/// The tables in order, with the charts after the first `lead` of them.
pub(crate) fn tables_and_charts(m: &mut String, tables: &[Table], lead: usize, charts: &[Chart]) {
    let (first, rest) = tables.split_at(lead.min(tables.len()));
    self::tables(m, first);
    self::charts(m, charts);
    self::tables(m, rest);
}

fn tables(m: &mut String, tables: &[Table]) {
    for t in tables {
        m.push_str(&format!("## {}\n\n", t.title));
        if let Some(n) = &t.note {
            m.push_str(&format!("{n}\n\n"));
        }
        if t.headers.is_empty() {
            continue;
        }
        m.push_str(&format!(
            "| {} |\n",
            t.headers
                .iter()
                .map(|h| cell(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        m.push_str(&format!("|{}\n", "---|".repeat(t.headers.len())));
        for row in &t.rows {
            m.push_str(&format!(
                "| {} |\n",
                row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        m.push('\n');
    }
}

fn charts(m: &mut String, charts: &[Chart]) {
    for c in charts {
        m.push_str(&format!(
            "### {}\n\n![{}](charts/{}.png)\n\n",
            c.title, c.title, c.name
        ));
    }
}
