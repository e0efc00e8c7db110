//! A sharded run in the report: which shards ran where, each clock against shard 0's, and each
//! shard's own verdict on whether rtcbench kept up; for a merged run, which shards are missing.

use super::document::Table;
use crate::record::{ClockOffset, MergedShard, ShardRecord};
use crate::results::RunResults;

fn clock(c: Option<&ClockOffset>) -> String {
    match c {
        None => "not measured".into(),
        Some(c) if c.exchanges == 0 => "reference".into(),
        Some(c) => format!(
            "{:+.3} ms ± {:.3} ms ({} exchanges, moved {:.3} ms)",
            c.ahead_ms, c.bound_ms, c.exchanges, c.wander_ms
        ),
    }
}

fn row(s: &ShardRecord) -> Vec<String> {
    vec![
        format!("{}/{}", s.index, s.count),
        s.host.clone(),
        s.region.clone().unwrap_or_else(|| "–".into()),
        clock(s.clock.as_ref()),
    ]
}

fn merged_row(m: &MergedShard) -> Vec<String> {
    let mut row = row(&m.shard);
    row.extend([
        format!("{} ({} failed)", m.sessions, m.failed_sessions),
        match m.completed {
            true => "yes".into(),
            false => "stopped early".into(),
        },
        match m.saturation.is_empty() {
            true => "kept up".into(),
            false => format!("SATURATED: {}", m.saturation.join("; ")),
        },
    ]);
    row
}

const NOTE: &str = "Each shard ran its slice of one plan from one start; clocks are each machine's offset to shard 0's, estimated by NTP-style exchanges with shard 0 through the run and corrected before any latency was taken (± is the estimate's bound). docs/shards.md has the rule that gives sessions to shards.";

/// The shards table of a merged run, or this shard's line for one shard's run.
pub(super) fn table(r: &RunResults) -> Option<Table> {
    let mut headers: Vec<String> = ["shard", "host", "region", "clock vs shard 0"]
        .map(String::from)
        .to_vec();
    if !r.shards.is_empty() {
        headers.extend(["viewer sessions", "completed", "rtcbench"].map(String::from));
        let mut rows: Vec<Vec<String>> = r.shards.iter().map(merged_row).collect();
        let count = r.shards[0].shard.count;
        rows.extend(r.missing_shards.iter().map(|i| {
            let mut missing = vec![format!("{i}/{count}"), "MISSING".into()];
            missing.resize(headers.len(), "–".into());
            missing
        }));
        return Some(Table {
            title: format!("Shards ({} of {count} merged)", r.shards.len()),
            note: Some(NOTE.into()),
            headers,
            rows,
        });
    }
    let s = r.shard.as_ref()?;
    Some(Table {
        title: format!("Shard {} of {}", s.index, s.count),
        note: Some(format!(
            "{NOTE} This report covers this shard alone; `rtcbench merge` adds the shards up."
        )),
        headers,
        rows: vec![row(s)],
    })
}

/// What a reader must know of a merged run: missing shards, and shards where rtcbench itself
/// was the limit (the merged result is then unreliable).
pub(super) fn warnings(r: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    if !r.missing_shards.is_empty() {
        let list: Vec<String> = r.missing_shards.iter().map(u32::to_string).collect();
        out.push(format!(
            "Shard(s) {} missing: this merged run covers only the sessions of the shards listed, and its counts are short by theirs.",
            list.join(", ")
        ));
    }
    let saturated: Vec<String> = r
        .shards
        .iter()
        .filter(|m| !m.saturation.is_empty())
        .map(|m| format!("{} ({})", m.shard.index, m.shard.host))
        .collect();
    if !saturated.is_empty() {
        out.push(format!(
            "rtcbench itself was saturated on shard(s) {}: the merged result is unreliable (its figures may show the generator, not the provider).",
            saturated.join(", ")
        ));
    }
    if let Some(s) = &r.shard {
        out.push(format!(
            "This is shard {} of {}: its figures are one slice of the run; merge the shards for the whole.",
            s.index, s.count
        ));
    }
    out
}
