//! Freezes from render instants, by the W3C webrtc-stats rule and by the fixed render-gap rules
//! vendor dashboards use (200 ms: Volcengine; 500 ms: Agora, ZEGO, Volcengine).

use crate::base::Micros;
pub use crate::record::FreezeTally;
use std::collections::VecDeque;

impl FreezeTally {
    fn add(&mut self, gap: u64) {
        self.count += 1;
        self.total_us += gap;
    }
}

#[derive(Debug, Clone, Default)]
pub struct FreezeDetector {
    recent_intervals: VecDeque<u64>,
    interval_sum: u64,
    first_render: Option<Micros>,
    last_render: Option<Micros>,
    pub w3c: FreezeTally,
    pub gap_200ms: FreezeTally,
    pub gap_500ms: FreezeTally,
    frames: u64,
}

const W3C_WINDOW: usize = 30;

impl FreezeDetector {
    /// Feeds a render instant; returns the gap when it was a freeze by the W3C rule.
    pub fn on_render(&mut self, at: Micros) -> Option<u64> {
        self.frames += 1;
        self.first_render.get_or_insert(at);
        let last = self.last_render.replace(at)?;
        let gap = at.saturating_sub(last);
        let mut w3c_freeze = None;
        if !self.recent_intervals.is_empty() {
            let mean = self.interval_sum / self.recent_intervals.len() as u64;
            if gap > (3 * mean).max(mean + 150_000) {
                self.w3c.add(gap);
                w3c_freeze = Some(gap);
            }
        }
        if gap > 200_000 {
            self.gap_200ms.add(gap);
        }
        if gap > 500_000 {
            self.gap_500ms.add(gap);
        }
        self.recent_intervals.push_back(gap);
        self.interval_sum += gap;
        if self.recent_intervals.len() > W3C_WINDOW {
            self.interval_sum -= self.recent_intervals.pop_front().unwrap_or(0);
        }
        w3c_freeze
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// From the first rendered frame to the last.
    pub fn rendered_span_us(&self) -> u64 {
        match (self.first_render, self.last_render) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    pub fn last_render(&self) -> Option<Micros> {
        self.last_render
    }

    /// Share of the rendered span spent frozen, by the W3C rule.
    pub fn freeze_time_pct(&self) -> f64 {
        match self.rendered_span_us() {
            0 => 0.0,
            span => self.w3c.total_us as f64 * 100.0 / span as f64,
        }
    }
}
