//! The live progress line of a long run (indicatif, on a terminal only): stage, elapsed of total,
//! sessions up, joins, failures, and the last interval's end-to-end p95.

use super::live::Live;
use crate::plan::Plan;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const REFRESH: Duration = Duration::from_millis(500);

/// Draws until `done` turns true; `started` is about when the run's clock began.
pub async fn show(plan: Plan, live: Arc<Live>, started: Instant, mut done: watch::Receiver<bool>) {
    let total_s = plan.duration_us / 1_000_000;
    let bar = ProgressBar::new(total_s);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(REFRESH) => {}
            _ = done.changed() => break,
        }
        let elapsed_us = started.elapsed().as_micros() as u64;
        let last_complete = (elapsed_us / plan.interval_us).checked_sub(1);
        let s = live.snapshot(last_complete.map(|i| i as usize));
        let p95 = s
            .e2e_p95_ms
            .map_or("–".to_string(), |ms| format!("{ms:.1} ms"));
        bar.set_position((elapsed_us / 1_000_000).min(total_s));
        bar.set_message(format!(
            "{}up {} · joins {} · failures {} · e2e p95 {p95}",
            stage(&plan, elapsed_us),
            s.sessions_up,
            s.joins,
            s.failures
        ));
    }
    bar.finish_and_clear();
}

fn stage(plan: &Plan, elapsed_us: u64) -> String {
    let Some(c) = &plan.capacity else {
        // The last stage boundary, PK round or switch passed.
        return plan
            .marks
            .iter()
            .rev()
            .find(|m| m.at_us <= elapsed_us)
            .map_or(String::new(), |m| format!("{} · ", m.label));
    };
    match c
        .steps
        .iter()
        .position(|s| elapsed_us >= s.start_us && elapsed_us < s.end_us)
    {
        Some(k) => format!(
            "step {}/{} ({} viewers) · ",
            k + 1,
            c.steps.len(),
            c.steps[k].level
        ),
        None => String::new(),
    }
}
