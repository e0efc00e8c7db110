//! Live players as the CDN audience runs them, sans-IO: each says which URL to fetch next and
//! when, takes the response (bytes, status, instants) and keeps a playback buffer
//! ([`super::playback`]) fed with the frames it demuxes. What they report is what a viewer feels
//! (startup, stalls, live latency) and what the delivery did (download times, errors, retries).

pub mod flv;
pub mod hls;
pub mod summary;

use super::playback::{BufferConfig, Playback, PlaybackStats, PlayoutFrame};
use crate::base::Micros;
use crate::media::marker::FrameMarker;
use crate::metrics::{Metric, Sample};
use hdrhistogram::Histogram;

/// What a player wants fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub id: u64,
    pub url: String,
    pub kind: FetchKind,
    /// The body beyond this is refused (the driver stops reading and reports it).
    pub max_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    Playlist,
    /// An fMP4 stream's init segment (EXT-X-MAP).
    Init,
    Segment,
    Part,
    /// A long-lived HTTP-FLV response, delivered in chunks.
    Stream,
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub sent_at: Micros,
    pub done_at: Micros,
}

/// A failure the player met, with the URL it concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerError {
    pub at: Micros,
    pub url: String,
    pub what: String,
}

/// How many errors a player keeps word for word; the rest are counted.
pub const ERRORS_KEPT: usize = 16;

/// What a player measured.
#[derive(Debug, Clone)]
pub struct LiveStats {
    /// The first request (the viewer's tap).
    pub requested_at: Micros,
    /// The first frame received whole.
    pub first_frame_at: Option<Micros>,
    pub playback: PlaybackStats,
    /// Frame shown → its capture, per shown frame that carries our marker (µs).
    pub latency_us: Histogram<u64>,
    /// Request sent → last byte, per segment (µs).
    pub segment_us: Histogram<u64>,
    pub part_us: Histogram<u64>,
    pub bytes: u64,
    /// Media received, by frame timestamps.
    pub media_us: u64,
    pub http_errors: u64,
    pub retries: u64,
    /// Segments or parts given up on after their retries.
    pub skipped: u64,
    pub errors: Vec<PlayerError>,
    /// The variant played (its URL) and its advertised bandwidth.
    pub rendition: Option<(String, u64)>,
    /// Length of each stall that ended (µs).
    pub stall_us: Histogram<u64>,
    /// Latency per shown frame and each ended stall, for the group's interval series.
    samples: Vec<Sample>,
    /// (instant, frames shown, bytes) when the samples were last drained.
    drained: Option<(Micros, u64, u64)>,
}

impl LiveStats {
    fn new(requested_at: Micros) -> Self {
        let histogram = || Histogram::new(3).expect("3 significant digits is a valid precision");
        Self {
            requested_at,
            first_frame_at: None,
            playback: PlaybackStats::default(),
            latency_us: histogram(),
            segment_us: histogram(),
            part_us: histogram(),
            bytes: 0,
            media_us: 0,
            http_errors: 0,
            retries: 0,
            skipped: 0,
            errors: Vec::new(),
            rendition: None,
            stall_us: histogram(),
            samples: Vec::new(),
            drained: None,
        }
    }

    /// Samples since the last call: live latency per shown frame, stall lengths, and the frame
    /// rate and bitrate over the time since the last call.
    pub fn drain_samples(&mut self, now: Micros) -> std::vec::Drain<'_, Sample> {
        let (frames, bytes) = (self.playback.rendered_frames, self.bytes);
        if let Some((at, frames_then, bytes_then)) = self.drained {
            let span_s = now.saturating_sub(at) as f64 / 1e6;
            if span_s > 0.0 && self.playback.started_at.is_some() {
                let fps = frames.saturating_sub(frames_then) as f64 / span_s;
                let kbps = bytes.saturating_sub(bytes_then) as f64 * 8.0 / 1000.0 / span_s;
                for (metric, value) in [(Metric::Fps, fps), (Metric::BitrateKbps, kbps)] {
                    self.samples.push(Sample {
                        metric,
                        at: now.saturating_sub(1),
                        value,
                    });
                }
            }
        }
        self.drained = Some((now, frames, bytes));
        self.samples.drain(..)
    }

    pub fn startup_us(&self) -> Option<u64> {
        Some(self.playback.started_at?.saturating_sub(self.requested_at))
    }

    pub fn first_frame_us(&self) -> Option<u64> {
        Some(self.first_frame_at?.saturating_sub(self.requested_at))
    }

    /// Media bitrate received, from bytes over media time.
    pub fn bitrate_kbps(&self) -> Option<f64> {
        (self.media_us > 0).then(|| self.bytes as f64 * 8.0 / self.media_us as f64 * 1000.0)
    }

    pub fn error(&mut self, at: Micros, url: &str, what: String) {
        self.http_errors += 1;
        if self.errors.len() < ERRORS_KEPT {
            self.errors.push(PlayerError {
                at,
                url: url.to_string(),
                what,
            });
        }
    }
}

/// Frames on their way into the buffer: timestamps unwrapped into µs, markers read, latency
/// taken at the instant each frame is shown.
#[derive(Debug)]
pub struct FrameFeed {
    pub playback: Playback,
    /// (last raw timestamp, the raw clock's wrap, its ticks per second, whole wraps so far)
    unwrap: Option<(u64, u64, u64, u64)>,
    first_pts_us: Option<u64>,
    last_pts_us: u64,
}

impl FrameFeed {
    pub fn new(buffer: BufferConfig) -> Self {
        Self {
            playback: Playback::new(buffer),
            unwrap: None,
            first_pts_us: None,
            last_pts_us: 0,
        }
    }

    /// A frame with a timestamp on a clock of `rate` ticks a second that wraps at `wrap`.
    pub fn push(
        &mut self,
        stats: &mut LiveStats,
        raw_pts: u64,
        (rate, wrap): (u64, u64),
        marker: Option<FrameMarker>,
        now: Micros,
    ) {
        let ticks = self.unwrapped(raw_pts, rate, wrap);
        let pts_us = (ticks as u128 * 1_000_000 / rate.max(1) as u128) as u64;
        stats.first_frame_at.get_or_insert(now);
        let first = *self.first_pts_us.get_or_insert(pts_us);
        self.last_pts_us = self.last_pts_us.max(pts_us);
        stats.media_us = self.last_pts_us.saturating_sub(first);
        let capture_us = marker
            .map(|m| m.capture_us)
            .filter(|&c| c != FrameMarker::CAPTURE_UNKNOWN);
        self.playback.push(PlayoutFrame { pts_us, capture_us }, now);
        self.collect(stats);
    }

    fn unwrapped(&mut self, raw: u64, rate: u64, wrap: u64) -> u64 {
        let raw = raw % wrap;
        let wraps = match self.unwrap {
            Some((last, w, r, wraps)) if w == wrap && r == rate => {
                if raw + wrap / 2 < last {
                    wraps + 1
                } else if last + wrap / 2 < raw && wraps > 0 {
                    // A straggler from before the wrap.
                    return raw + (wraps - 1) * wrap;
                } else {
                    wraps
                }
            }
            _ => 0,
        };
        self.unwrap = Some((raw, wrap, rate, wraps));
        raw + wraps * wrap
    }

    pub fn advance(&mut self, stats: &mut LiveStats, now: Micros) {
        self.playback.advance(now);
        self.collect(stats);
    }

    fn collect(&mut self, stats: &mut LiveStats) {
        for shown in self.playback.drain_rendered() {
            if let Some(capture) = shown.capture_us {
                let latency = shown.at.saturating_sub(capture);
                let _ = stats.latency_us.record(latency);
                stats.samples.push(Sample {
                    metric: Metric::E2eLatencyMs,
                    at: shown.at,
                    value: latency as f64 / 1000.0,
                });
            }
        }
        for (at, length) in self.playback.drain_ended_stalls() {
            let _ = stats.stall_us.record(length.max(1));
            stats.samples.push(Sample {
                metric: Metric::FreezeDurationMs,
                at,
                value: length as f64 / 1000.0,
            });
        }
        stats.playback = self.playback.stats();
    }
}

/// `reference` joined with a playlist's URI (absolute, or relative to the playlist).
pub fn resolve(reference: &str, uri: &str) -> Option<String> {
    let base = url::Url::parse(reference).ok()?;
    base.join(uri).ok().map(String::from)
}

/// 90 kHz MPEG timestamps wrap at 2^33.
pub const MPEG_CLOCK: (u64, u64) = (90_000, 1 << 33);
/// FLV timestamps are milliseconds in 32 bits.
pub const FLV_CLOCK: (u64, u64) = (1_000, 1 << 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpeg_timestamps_unwrap_across_the_33_bit_wrap() {
        let mut feed = FrameFeed::new(BufferConfig {
            start_us: 0,
            rebuffer_us: 0,
        });
        let mut stats = LiveStats::new(0);
        let near_wrap = (1u64 << 33) - 3_000;
        for (i, raw) in [near_wrap, 0, 3_000].into_iter().enumerate() {
            feed.push(&mut stats, raw, MPEG_CLOCK, None, i as u64 * 33_333);
        }
        assert!(
            (66_666..=66_667).contains(&stats.media_us),
            "{}",
            stats.media_us
        );
        assert_eq!(stats.playback.discontinuities, 0);
    }

    #[test]
    fn relative_uris_resolve_against_the_playlist() {
        let playlist = "http://127.0.0.1:8080/hls/room/index.m3u8?token=x";
        assert_eq!(
            resolve(playlist, "12.ts").as_deref(),
            Some("http://127.0.0.1:8080/hls/room/12.ts")
        );
        assert_eq!(
            resolve(playlist, "/other/1.ts").as_deref(),
            Some("http://127.0.0.1:8080/other/1.ts")
        );
        assert_eq!(
            resolve(playlist, "http://cdn.example/x.ts").as_deref(),
            Some("http://cdn.example/x.ts")
        );
    }
}

#[cfg(test)]
mod test_origin;
