//! A live player's playback buffer, as HLS and HTTP-FLV players keep one: frames arrive in
//! bursts (a segment, a part, a chunk of an FLV stream), playback starts once enough is buffered,
//! plays out at real time, stalls when the buffer runs dry and resumes once it holds the rebuffer
//! threshold again. Fed with frames and instants; the stall instants it reports are the exact
//! ones at which the buffer emptied, not the instants it was next looked at.

use crate::base::Micros;
use std::collections::VecDeque;

/// The thresholds of a player's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    /// Media buffered before playback first starts.
    pub start_us: u64,
    /// Media buffered before playback resumes after a stall.
    pub rebuffer_us: u64,
}

/// One decodable frame on the stream's own timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutFrame {
    /// Presentation time on the stream's timeline (any origin).
    pub pts_us: u64,
    /// Capture time from the in-band marker, where the frame carries one.
    pub capture_us: Option<Micros>,
}

/// A frame shown, at the instant it reached the play head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    pub at: Micros,
    pub capture_us: Option<Micros>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not started yet: waiting for the start threshold.
    Starting,
    Playing,
    /// Ran dry after starting, at this instant.
    Stalled(Micros),
}

/// What the buffer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaybackStats {
    /// When playback first started (the first picture shown).
    pub started_at: Option<Micros>,
    /// Times the buffer ran dry for at least [`MIN_STALL_US`] (the one under way included once
    /// it is that long).
    pub stalls: u64,
    /// Their time, the one under way up to the last instant seen.
    pub stall_time_us: u64,
    /// Shorter underruns: the next frame came late by less than a viewer notices, and players
    /// do not report them (hls.js declares a stall after 250 ms).
    pub underruns: u64,
    /// Time since playback started, stalls included: the time watched.
    pub watched_us: u64,
    pub rendered_frames: u64,
    /// Frames whose timestamps went back, played as a new run after the buffered media.
    pub discontinuities: u64,
}

impl PlaybackStats {
    /// Stall time as a share of time watched, in percent.
    pub fn stall_pct(&self) -> f64 {
        if self.watched_us == 0 {
            return 0.0;
        }
        100.0 * self.stall_time_us as f64 / self.watched_us as f64
    }
}

#[derive(Debug, Clone)]
pub struct Playback {
    config: BufferConfig,
    state: State,
    /// Frames not yet shown, on the play-out timeline (pts moved past any discontinuity).
    queue: VecDeque<PlayoutFrame>,
    /// The play head on the play-out timeline, once started.
    head_us: u64,
    /// The end of the buffered media: the last frame's pts plus one frame interval.
    end_us: Option<u64>,
    last_pts: Option<u64>,
    interval_us: u64,
    /// Added to incoming pts after a discontinuity.
    shift_us: i128,
    clock: Option<Micros>,
    stats: PlaybackStats,
    rendered: Vec<Rendered>,
    /// Stalls that ended: (when, how long).
    ended_stalls: Vec<(Micros, u64)>,
}

/// A buffer empty for less than this is an underrun, not a stall (hls.js's
/// `STALL_MINIMUM_DURATION_MS`).
pub const MIN_STALL_US: u64 = 250_000;

/// Frame interval assumed until two frames have been seen.
const DEFAULT_INTERVAL_US: u64 = 33_333;
/// A gap between frames longer than this is a discontinuity, not a frame interval.
const MAX_INTERVAL_US: u64 = 1_000_000;

impl Playback {
    pub fn new(config: BufferConfig) -> Self {
        Self {
            config,
            state: State::Starting,
            queue: VecDeque::new(),
            head_us: 0,
            end_us: None,
            last_pts: None,
            interval_us: DEFAULT_INTERVAL_US,
            shift_us: 0,
            clock: None,
            stats: PlaybackStats::default(),
            rendered: Vec::new(),
            ended_stalls: Vec::new(),
        }
    }

    /// Stalls that ended since the last call: (the instant play resumed, the stall's length).
    pub fn drain_ended_stalls(&mut self) -> std::vec::Drain<'_, (Micros, u64)> {
        self.ended_stalls.drain(..)
    }

    /// What playback did up to the last instant seen, a stall under way included once it is
    /// [`MIN_STALL_US`] long.
    pub fn stats(&self) -> PlaybackStats {
        let mut stats = self.stats;
        if let (State::Stalled(began), Some(now)) = (self.state, self.clock) {
            let length = now.saturating_sub(began);
            if length >= MIN_STALL_US {
                stats.stalls += 1;
                stats.stall_time_us += length;
            }
        }
        stats
    }

    /// Whether the buffer is empty now (a stall, or an underrun yet too short to be one).
    pub fn is_stalled(&self) -> bool {
        matches!(self.state, State::Stalled(_))
    }

    /// Media buffered ahead of the play head.
    pub fn buffered_us(&self) -> u64 {
        let Some(end) = self.end_us else { return 0 };
        let from = match self.state {
            State::Starting => self.queue.front().map_or(end, |f| f.pts_us),
            _ => self.head_us,
        };
        end.saturating_sub(from)
    }

    /// Frames shown since the last call, with the instants they were shown.
    pub fn drain_rendered(&mut self) -> std::vec::Drain<'_, Rendered> {
        self.rendered.drain(..)
    }

    /// A frame arrives at `now`.
    pub fn push(&mut self, frame: PlayoutFrame, now: Micros) {
        self.advance(now);
        let pts = self.on_timeline(frame.pts_us);
        if let Some(last) = self.last_pts {
            if pts <= last {
                return;
            }
            self.interval_us = (pts - last).clamp(1, MAX_INTERVAL_US);
        }
        self.last_pts = Some(pts);
        self.end_us = Some(pts + self.interval_us);
        self.queue.push_back(PlayoutFrame {
            pts_us: pts,
            capture_us: frame.capture_us,
        });
        self.start_if_ready(now);
    }

    /// Moves the stream's pts onto the play-out timeline; a jump back or far ahead (a new
    /// encoder session, a server restart) continues right after the buffered media.
    fn on_timeline(&mut self, pts_us: u64) -> u64 {
        let shifted = (pts_us as i128 + self.shift_us).max(0) as u64;
        let Some(last) = self.last_pts else {
            return shifted;
        };
        if shifted > last && shifted - last <= MAX_INTERVAL_US {
            return shifted;
        }
        if shifted <= last && last - shifted < MAX_INTERVAL_US {
            // A late or repeated frame: dropped by `push`.
            return shifted;
        }
        self.stats.discontinuities += 1;
        let continue_at = last + self.interval_us;
        self.shift_us += continue_at as i128 - shifted as i128;
        continue_at
    }

    fn start_if_ready(&mut self, now: Micros) {
        let Some(end) = self.end_us else { return };
        match self.state {
            State::Starting => {
                let Some(first) = self.queue.front() else {
                    return;
                };
                if end - first.pts_us >= self.config.start_us {
                    self.head_us = first.pts_us;
                    self.state = State::Playing;
                    self.stats.started_at = Some(now);
                    self.render_due(now);
                }
            }
            State::Stalled(began) => {
                if end.saturating_sub(self.head_us) >= self.config.rebuffer_us {
                    let length = now.saturating_sub(began);
                    if length >= MIN_STALL_US {
                        self.stats.stalls += 1;
                        self.stats.stall_time_us += length;
                        self.ended_stalls.push((now, length));
                    } else {
                        self.stats.underruns += 1;
                    }
                    self.state = State::Playing;
                    self.render_due(now);
                }
            }
            State::Playing => {}
        }
    }

    /// Plays out up to `now`: frames reach the play head, and the buffer may run dry.
    pub fn advance(&mut self, now: Micros) {
        let Some(before) = self.clock.replace(now) else {
            return;
        };
        let elapsed = now.saturating_sub(before);
        if self.state != State::Starting {
            self.stats.watched_us += elapsed;
        }
        if let State::Stalled(_) = self.state {
            return;
        }
        if self.state != State::Playing {
            return;
        }
        let end = self.end_us.unwrap_or(self.head_us);
        let room = end.saturating_sub(self.head_us);
        if elapsed <= room {
            self.head_us += elapsed;
            self.render_due(now);
            return;
        }
        // Ran dry at `before + room`: what remains is stall time.
        let dry_at = before + room;
        self.head_us = end;
        self.render_due(dry_at);
        self.state = State::Stalled(dry_at);
    }

    /// Shows every queued frame the play head has reached; `now` is the play head's instant.
    fn render_due(&mut self, now: Micros) {
        while let Some(frame) = self.queue.front().copied() {
            if frame.pts_us > self.head_us {
                break;
            }
            self.queue.pop_front();
            let behind = self.head_us - frame.pts_us;
            self.stats.rendered_frames += 1;
            self.rendered.push(Rendered {
                at: now.saturating_sub(behind),
                capture_us: frame.capture_us,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_US: u64 = 40_000;
    const SECOND: u64 = 1_000_000;

    fn frames_of_second(k: u64) -> impl Iterator<Item = PlayoutFrame> {
        (0..25).map(move |i| PlayoutFrame {
            pts_us: k * SECOND + i * FRAME_US,
            capture_us: Some(k * SECOND + i * FRAME_US),
        })
    }

    /// Delivers one-second segments: segment k at `arrival(k)`, all frames at once.
    fn play(
        config: BufferConfig,
        arrival: impl Fn(u64) -> u64,
        segments: u64,
        until: u64,
    ) -> Playback {
        let mut playback = Playback::new(config);
        for k in 0..segments {
            let at = arrival(k);
            for frame in frames_of_second(k) {
                playback.push(frame, at);
            }
        }
        playback.advance(until);
        playback
    }

    const TWO_AND_ONE: BufferConfig = BufferConfig {
        start_us: 2 * SECOND,
        rebuffer_us: SECOND,
    };

    #[test]
    fn segments_that_arrive_on_time_play_without_a_stall() {
        let playback = play(TWO_AND_ONE, |k| (k + 1) * SECOND, 10, 11 * SECOND);
        let stats = playback.stats();
        assert_eq!(stats.started_at, Some(2 * SECOND));
        assert_eq!(stats.stalls, 0);
        assert_eq!(stats.stall_time_us, 0);
        assert_eq!(stats.rendered_frames, 9 * 25 + 1);
    }

    #[test]
    fn a_withheld_segment_gives_one_stall_of_the_wait_beyond_the_buffer() {
        // Segment 5 (and the backlog behind it) arrives 3 s late; the play head, 2 s behind the
        // arrivals, reaches the end of segment 4 at 7 s and waits there until 9 s.
        let arrival = |k: u64| {
            if k < 5 {
                (k + 1) * SECOND
            } else {
                ((k + 1) * SECOND).max(9 * SECOND)
            }
        };
        let playback = play(TWO_AND_ONE, arrival, 12, 12 * SECOND);
        let stats = playback.stats();
        assert_eq!(stats.stalls, 1);
        assert_eq!(stats.stall_time_us, 2 * SECOND);
        assert_eq!(stats.watched_us, 10 * SECOND);
        assert!((stats.stall_pct() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn a_next_segment_a_little_late_is_an_underrun_not_a_stall() {
        // Started on one segment, each next one 100 ms after the buffer ran dry.
        let start_on_one = BufferConfig {
            start_us: SECOND,
            rebuffer_us: SECOND,
        };
        let playback = play(
            start_on_one,
            |k| (k + 1) * SECOND + k * 100_000,
            6,
            7_600_000,
        );
        let stats = playback.stats();
        assert_eq!(stats.stalls, 0);
        assert_eq!(stats.stall_time_us, 0);
        assert_eq!(stats.underruns, 5);
    }

    #[test]
    fn a_stall_under_way_counts_up_to_the_last_instant_seen() {
        let mut playback = play(TWO_AND_ONE, |k| (k + 1) * SECOND, 3, 6 * SECOND);
        assert!(playback.is_stalled());
        // Played 3 s of media from 2 s: dry at 5 s.
        assert_eq!(playback.stats().stall_time_us, SECOND);
        playback.advance(7 * SECOND);
        assert_eq!(playback.stats().stall_time_us, 2 * SECOND);
        assert_eq!(playback.stats().stalls, 1);
    }

    #[test]
    fn each_frame_is_shown_at_the_instant_the_play_head_reaches_it() {
        let mut playback = play(TWO_AND_ONE, |k| (k + 1) * SECOND + 300_000, 6, 6_300_000);
        let rendered: Vec<_> = playback.drain_rendered().collect();
        // Started at 2.3 s with pts 0 at the head: frame i is shown at 2.3 s + i × 40 ms, so each
        // is shown 2.3 s after its capture; by 6.3 s the head is at pts 4 s.
        assert_eq!(rendered.len(), 4 * 25 + 1);
        for r in &rendered {
            assert_eq!(r.at - r.capture_us.unwrap(), 2_300_000);
        }
    }

    #[test]
    fn timestamps_that_restart_continue_after_the_buffered_media() {
        let mut playback = Playback::new(BufferConfig {
            start_us: 100_000,
            rebuffer_us: 100_000,
        });
        for pts in [90_000_000u64, 90_040_000, 0, 40_000] {
            let frame = PlayoutFrame {
                pts_us: pts,
                capture_us: None,
            };
            playback.push(frame, 0);
        }
        assert_eq!(playback.buffered_us(), 4 * FRAME_US);
        playback.advance(4 * FRAME_US);
        let stats = playback.stats();
        assert_eq!(stats.discontinuities, 1);
        assert_eq!(stats.rendered_frames, 4);
        assert_eq!(stats.stalls, 0);
    }
}
