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
    /// Render instants of the last second, for the frame-rate floor.
    last_second: VecDeque<Micros>,
    /// Rendered time spent below [`LOW_FPS_FLOOR`].
    pub low_fps_us: u64,
}

const W3C_WINDOW: usize = 30;
/// Below this many frames in a second, motion judders even when no gap is long enough to be
/// a freeze: a steady 6 fps passes every freeze rule (the W3C threshold is then ~480 ms).
pub const LOW_FPS_FLOOR: usize = 15;
const SECOND_US: u64 = 1_000_000;

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
        self.count_low_frame_rate(at, gap);
        self.recent_intervals.push_back(gap);
        self.interval_sum += gap;
        if self.recent_intervals.len() > W3C_WINDOW {
            self.interval_sum -= self.recent_intervals.pop_front().unwrap_or(0);
        }
        w3c_freeze
    }

    /// Adds `gap` to the time below the floor when fewer than [`LOW_FPS_FLOOR`] frames were
    /// shown in the second up to `at` (judged from one second after the first frame).
    fn count_low_frame_rate(&mut self, at: Micros, gap: u64) {
        self.last_second.push_back(at);
        while self
            .last_second
            .front()
            .is_some_and(|&t| t + SECOND_US <= at)
        {
            self.last_second.pop_front();
        }
        let judged = self
            .first_render
            .is_some_and(|first| at >= first + SECOND_US);
        if judged && self.last_second.len() < LOW_FPS_FLOOR {
            self.low_fps_us += gap;
        }
    }

    /// Share of the rendered span spent below the frame-rate floor.
    pub fn low_fps_time_pct(&self) -> f64 {
        match self.rendered_span_us() {
            0 => 0.0,
            span => self.low_fps_us as f64 * 100.0 / span as f64,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered_at(fps: u64, seconds: u64) -> FreezeDetector {
        let mut d = FreezeDetector::default();
        for n in 0..fps * seconds {
            d.on_render(n * SECOND_US / fps);
        }
        d
    }

    #[test]
    fn a_steady_6_fps_is_below_the_floor_without_a_freeze() {
        let d = rendered_at(6, 10);
        assert_eq!(d.w3c.count, 0);
        assert_eq!(d.gap_200ms.count, 0);
        // Judged from the first second on: 9 of the 9.83 s rendered.
        let pct = d.low_fps_time_pct();
        assert!((89.0..93.0).contains(&pct), "{pct}");
    }

    #[test]
    fn a_steady_30_fps_is_never_below_the_floor() {
        assert_eq!(rendered_at(30, 10).low_fps_us, 0);
    }
}
