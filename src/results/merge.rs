//! The shards of one run made one record (`rtcbench merge`): histograms added (never
//! percentiles averaged), counters summed, sessions concatenated, interval series aligned on the
//! shards' common start, the timeline rebuilt from all sessions, then gates and a capacity
//! search judged again on the whole. Shards of another run are refused, naming file and field.

use super::{ResultsError, RunResults};
use crate::metrics::histogram::new_histogram;
use crate::metrics::{Metric, MetricSeries, PackedHistogram, Summary};
use crate::record::{IntervalResult, MergedShard, MetricResult, ShardRecord};
use crate::scenario::{CapacitySpec, GateSpec};
use std::collections::BTreeMap;

/// One shard's run.json and where it came from.
pub struct ShardFile {
    /// How it is named in messages (its run.json's path).
    pub source: String,
    pub results: RunResults,
}

fn refuse(source: &str, field: &str, why: String) -> ResultsError {
    ResultsError::Merge(format!("{source}: field `{field}`: {why}"))
}

fn shard_of(f: &ShardFile) -> Result<&ShardRecord, ResultsError> {
    f.results.shard.as_ref().ok_or_else(|| {
        refuse(
            &f.source,
            "shard",
            "absent: not a shard of a sharded run (`run --shard I/N`); runs made apart are put side by side with `compare`".into(),
        )
    })
}

/// Every file against the first: the same scenario, seed, version, interval and shard count.
fn check_same_run(files: &[ShardFile]) -> Result<(), ResultsError> {
    let first = &files[0];
    let first_shard = shard_of(first)?;
    for f in files {
        let shard = shard_of(f)?;
        let (a, b) = (&first.results, &f.results);
        let differs = [
            (
                "scenario_name",
                a.scenario_name != b.scenario_name,
                format!("{:?} vs {:?}", b.scenario_name, a.scenario_name),
            ),
            (
                "scenario",
                a.scenario != b.scenario,
                "the scenario's contents differ".into(),
            ),
            (
                "seed",
                a.seed != b.seed,
                format!("{} vs {}", b.seed, a.seed),
            ),
            (
                "rtcbench_version",
                a.rtcbench_version != b.rtcbench_version,
                format!("{} vs {}", b.rtcbench_version, a.rtcbench_version),
            ),
            (
                "interval_ms",
                a.interval_ms != b.interval_ms,
                format!("{} vs {}", b.interval_ms, a.interval_ms),
            ),
            (
                "shard.count",
                shard.count != first_shard.count,
                format!("{} vs {}", shard.count, first_shard.count),
            ),
        ];
        if let Some((field, _, why)) = differs.into_iter().find(|(_, d, _)| *d) {
            return Err(refuse(
                &f.source,
                field,
                format!("{why} in {}: not a shard of the same run", first.source),
            ));
        }
    }
    Ok(())
}

/// The shards' indexes: each once; the missing ones named, or refused without `allow_partial`.
fn check_indexes(files: &[ShardFile], allow_partial: bool) -> Result<Vec<u32>, ResultsError> {
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    let count = shard_of(&files[0])?.count;
    for f in files {
        let index = shard_of(f)?.index;
        if let Some(other) = seen.insert(index, &f.source) {
            return Err(refuse(
                &f.source,
                "shard.index",
                format!("shard {index} is also {other}; each shard is merged once"),
            ));
        }
    }
    let missing: Vec<u32> = (0..count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() && !allow_partial {
        let list: Vec<String> = missing.iter().map(u32::to_string).collect();
        return Err(ResultsError::Merge(format!(
            "shard{} {} of {count} missing (no folder given holds {}); --allow-partial merges the rest and the report names the missing",
            if missing.len() == 1 { "" } else { "s" },
            list.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        )));
    }
    Ok(missing)
}

/// Moves `r`'s intervals and sessions `n` intervals later (a shard that started later).
fn shift(r: &mut RunResults, n: usize) {
    if n == 0 {
        return;
    }
    let empty = PackedHistogram::pack(&new_histogram());
    let blank = IntervalResult {
        start_s: 0.0,
        summary: Summary::of(&new_histogram(), 1.0),
        histogram: empty,
    };
    let seconds = n as f64 * r.interval_ms as f64 / 1000.0;
    for g in &mut r.groups {
        for m in g.metrics.values_mut() {
            m.intervals
                .splice(0..0, std::iter::repeat_n(blank.clone(), n));
        }
        for s in &mut g.sessions {
            s.planned_join_s = s.planned_join_s.map(|t| t + seconds);
            s.left_s = s.left_s.map(|t| t + seconds);
        }
    }
    r.duration_s += seconds;
}

fn renumber_intervals(r: &mut RunResults) {
    let step = r.interval_ms as f64 / 1000.0;
    for m in r.groups.iter_mut().flat_map(|g| g.metrics.values_mut()) {
        for (i, iv) in m.intervals.iter_mut().enumerate() {
            iv.start_s = i as f64 * step;
        }
    }
}

fn summary_of(f: &ShardFile) -> Option<MergedShard> {
    let r = &f.results;
    let cost = r.self_cost.as_ref();
    Some(MergedShard {
        shard: r.shard.clone()?,
        source: f.source.clone(),
        completed: r.completed,
        sessions: r.groups.iter().map(|g| g.totals.receivers).sum(),
        failed_sessions: r.groups.iter().map(|g| g.totals.failed_sessions).sum(),
        saturation: cost.map(|c| c.saturation.clone()).unwrap_or_default(),
        cpu_s: cost.map(|c| c.cpu_s),
        cpu_count: cost.map_or(0, |c| c.cpu_count),
    })
}

/// `field` of the scenario as run.json keeps it; absent (or null) is `None`, unreadable an
/// error (gates are never dropped silently).
fn scenario_field<T: serde::de::DeserializeOwned>(
    r: &RunResults,
    field: &str,
) -> Result<Option<T>, ResultsError> {
    r.scenario
        .get(field)
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| ResultsError::Merge(format!("field `scenario.{field}`: {e}")))
}

/// Gates, the capacity search and the timeline judged again on the merged record.
fn judge_again(r: &mut RunResults) -> Result<(), ResultsError> {
    let gates: Vec<GateSpec> = scenario_field(r, "gate")?.unwrap_or_default();
    let capacity: Option<CapacitySpec> = scenario_field(r, "capacity")?;
    let searched = capacity.as_ref().map(|c| c.group.clone());
    r.gates = super::gates::evaluate_except(&gates, r, searched.as_deref());
    if let (Some(found), Some(_)) = (r.capacity.clone(), capacity) {
        let plan = crate::plan::CapacityPlan {
            group: found.group.clone(),
            steps: found
                .steps
                .iter()
                .map(|s| crate::plan::CapacityStep {
                    level: s.level,
                    start_us: (s.from_s * 1e6) as u64,
                    hold_from_us: (s.from_s * 1e6) as u64,
                    end_us: (s.to_s * 1e6) as u64,
                })
                .collect(),
        };
        r.capacity = Some(super::capacity::evaluate(&plan, &gates, r));
    }
    if let Some(t) = r.timeline.take() {
        let marks: Vec<crate::plan::Mark> = t
            .marks
            .iter()
            .map(|m| crate::plan::Mark {
                at_us: (m.at_s * 1e6) as u64,
                label: m.label.clone(),
            })
            .collect();
        r.timeline = Some(super::timeline::Timeline::build(
            &r.groups,
            &marks,
            r.duration_s,
            r.interval_ms,
        ));
    }
    Ok(())
}

/// Merges the shards of one run; `allow_partial` merges them with some missing.
pub fn merge_shards(
    mut files: Vec<ShardFile>,
    allow_partial: bool,
) -> Result<RunResults, ResultsError> {
    if files.is_empty() {
        return Err(ResultsError::Merge("no shard given".into()));
    }
    check_same_run(&files)?;
    let missing = check_indexes(&files, allow_partial)?;
    files.sort_by_key(|f| f.results.shard.as_ref().map_or(0, |s| s.index));
    let shards: Vec<MergedShard> = files.iter().filter_map(summary_of).collect();
    let earliest = shards
        .iter()
        .map(|s| s.shard.start_at_us)
        .min()
        .unwrap_or(0);
    let interval_us = files[0].results.interval_ms * 1000;
    let mut merged: Option<RunResults> = None;
    let mut series: BTreeMap<(String, Metric), Vec<MetricSeries>> = BTreeMap::new();
    for mut f in files {
        let start = f.results.shard.as_ref().map_or(earliest, |s| s.start_at_us);
        let late = (start - earliest + interval_us / 2) / interval_us.max(1);
        shift(&mut f.results, late as usize);
        // Metrics are added all at once below: pairwise, each shard would repack the sum.
        for g in &mut f.results.groups {
            for (metric, m) in std::mem::take(&mut g.metrics) {
                series
                    .entry((g.name.clone(), metric))
                    .or_default()
                    .push(m.to_series());
            }
        }
        match &mut merged {
            None => merged = Some(f.results),
            Some(m) => m.merge(&f.results)?,
        }
    }
    let mut merged = merged.ok_or_else(|| ResultsError::Merge("no shard given".into()))?;
    let interval_ms = merged.interval_ms;
    for ((group, metric), all) in series {
        if let Some(g) = merged.groups.iter_mut().find(|g| g.name == group) {
            let sum = MetricSeries::merge_all(&all);
            g.metrics
                .insert(metric, MetricResult::from_series(metric, &sum, interval_ms));
        }
    }
    renumber_intervals(&mut merged);
    merged.shard = None;
    merged.shards = shards;
    merged.missing_shards = missing;
    if let Some(first) = merged.shards.first() {
        merged.started_at = chrono::DateTime::from_timestamp_micros(earliest as i64)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| first.shard.start_at_us.to_string());
    }
    judge_again(&mut merged)?;
    Ok(merged)
}
