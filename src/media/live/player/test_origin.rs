//! A live origin simulated in time for the players' tests: 25 frames a second, each carrying
//! our SEI marker with its capture instant, cut into segments (and parts) that become
//! available when their last frame has been captured.

use crate::base::Micros;
use crate::media::live::playlist::{write_media, LowLatency, MediaPlaylist, Part, Segment};
use crate::media::live::ts::{Muxer, TsFrame};
use crate::media::marker::{sei_nal, FrameMarker};

pub const FRAME_US: u64 = 40_000;
pub const SECOND: u64 = 1_000_000;
/// Capture instant of frame 0.
pub const EPOCH: Micros = 1_000_000_000;

pub struct Origin {
    pub segment_us: u64,
    /// Parts per segment (LL-HLS) or 0.
    pub parts: u64,
    /// Segments kept in the playlist.
    pub window: u64,
}

impl Origin {
    fn frames_per_segment(&self) -> u64 {
        self.segment_us / FRAME_US
    }

    fn frames_per_part(&self) -> u64 {
        self.frames_per_segment() / self.parts.max(1)
    }

    /// Frames `from..to` as one TS body, with the tables in front.
    pub fn ts(&self, from: u64, to: u64) -> Vec<u8> {
        let mut muxer = Muxer::default();
        let mut out = Vec::new();
        muxer.tables(&mut out);
        for n in from..to {
            let capture = EPOCH + n * FRAME_US;
            let mut data = vec![0, 0, 0, 1];
            data.extend(sei_nal(FrameMarker {
                frame: n as u32,
                capture_us: capture,
            }));
            let key = n % self.frames_per_segment() == 0;
            data.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }, 0x88]);
            let pts = n * FRAME_US * 9 / 100;
            muxer.frame(
                &TsFrame {
                    pts,
                    dts: pts,
                    keyframe: key,
                    data,
                },
                &mut out,
            );
        }
        out
    }

    pub fn segment(&self, k: u64) -> Vec<u8> {
        let f = self.frames_per_segment();
        self.ts(k * f, (k + 1) * f)
    }

    pub fn part(&self, k: u64, i: u64) -> Vec<u8> {
        let (f, p) = (self.frames_per_segment(), self.frames_per_part());
        self.ts(k * f + i * p, k * f + (i + 1) * p)
    }

    /// When segment k's last frame has been captured.
    pub fn segment_ready(&self, k: u64) -> Micros {
        EPOCH + (k + 1) * self.segment_us
    }

    pub fn part_ready(&self, k: u64, i: u64) -> Micros {
        EPOCH + k * self.segment_us + (i + 1) * self.frames_per_part() * FRAME_US
    }

    /// The playlist as it stands at `now`.
    pub fn playlist(&self, now: Micros) -> String {
        let done = (0..).take_while(|&k| self.segment_ready(k) <= now).count() as u64;
        let first = done.saturating_sub(self.window);
        let part_us = self.frames_per_part() * FRAME_US;
        let parts_of = |k: u64, upto: u64| -> Vec<Part> {
            (0..upto)
                .map(|i| Part {
                    uri: format!("{k}.{i}.ts"),
                    duration_us: part_us,
                    independent: i == 0,
                })
                .collect()
        };
        let playlist = MediaPlaylist {
            target_duration_us: self.segment_us,
            media_sequence: first,
            segments: (first..done)
                .map(|k| Segment {
                    init: None,
                    sequence: k,
                    uri: format!("{k}.ts"),
                    duration_us: self.segment_us,
                    discontinuity: false,
                    parts: if self.parts > 0 {
                        parts_of(k, self.parts)
                    } else {
                        vec![]
                    },
                })
                .collect(),
            end_list: false,
            low_latency: (self.parts > 0).then_some(LowLatency {
                part_target_us: part_us,
                can_block_reload: true,
                part_hold_back_us: Some(3 * part_us),
                hold_back_us: None,
            }),
            pending_parts: if self.parts > 0 {
                let ready = (0..self.parts)
                    .take_while(|&i| self.part_ready(done, i) <= now)
                    .count() as u64;
                parts_of(done, ready)
            } else {
                vec![]
            },
            preload_hint: None,
        };
        write_media(&playlist)
    }
}
