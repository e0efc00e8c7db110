//! One room's stream as a CDN edge serves it, sans-IO: access units in; out, the HTTP-FLV tags
//! (with the GOP cache a new viewer starts from, as SRS and nginx-http-flv keep one), and the
//! HLS segments and LL-HLS parts (MPEG-TS) with the playlists that list them.

use crate::media::live::avc::{annexb_to_length_prefixed, DecoderConfig};
use crate::media::live::flv;
use crate::media::live::playlist::{write_media, LowLatency, MediaPlaylist, Part, Segment};
use crate::media::live::ts::{Muxer, TsFrame};
use bytes::Bytes;
use std::collections::VecDeque;

/// How segments and parts are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackagerConfig {
    /// A segment ends at the first key frame at or after this much media.
    pub segment_us: u64,
    /// A part ends at the first frame at or after this much media.
    pub part_us: u64,
    /// Whole segments kept and listed.
    pub window: usize,
    /// The GOP cache for new HTTP-FLV viewers stops growing at this size.
    pub max_gop_bytes: usize,
}

impl Default for PackagerConfig {
    fn default() -> Self {
        Self {
            segment_us: 1_000_000,
            part_us: 200_000,
            window: 6,
            max_gop_bytes: 8 * 1024 * 1024,
        }
    }
}

/// One access unit from the publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFrame {
    pub annexb: Vec<u8>,
    pub keyframe: bool,
    /// Presentation time, 90 kHz, unwrapped.
    pub pts_90k: u64,
}

#[derive(Debug, Clone)]
pub struct StoredPart {
    pub bytes: Bytes,
    pub duration_us: u64,
    pub independent: bool,
}

#[derive(Debug, Clone)]
pub struct StoredSegment {
    pub msn: u64,
    pub bytes: Bytes,
    pub duration_us: u64,
    pub discontinuity: bool,
    pub parts: Vec<StoredPart>,
}

#[derive(Debug)]
struct Building {
    msn: u64,
    start_pts: u64,
    muxer: Muxer,
    bytes: Vec<u8>,
    discontinuity: bool,
    parts: Vec<StoredPart>,
    part: Option<(u64, Vec<u8>, bool)>,
    part_muxer: Muxer,
}

#[derive(Debug)]
pub struct Packager {
    config: PackagerConfig,
    decoder: Option<DecoderConfig>,
    first_pts: Option<u64>,
    last_pts: u64,
    gop: Vec<u8>,
    segments: VecDeque<StoredSegment>,
    building: Option<Building>,
    next_msn: u64,
    discontinuity: bool,
    finished_parts: u64,
}

impl Packager {
    pub fn new(config: PackagerConfig) -> Self {
        Self {
            config,
            decoder: None,
            first_pts: None,
            last_pts: 0,
            gop: Vec::new(),
            segments: VecDeque::new(),
            building: None,
            next_msn: 0,
            discontinuity: false,
            finished_parts: 0,
        }
    }

    /// Parts finished so far (each segment's last part finishes with it).
    pub fn finished_parts(&self) -> u64 {
        self.finished_parts
    }

    /// A new publisher takes over the room: what follows is a new stream after a discontinuity.
    pub fn restart(&mut self) {
        self.close_segment(self.last_pts);
        self.first_pts = None;
        self.decoder = None;
        self.gop.clear();
        self.discontinuity = true;
    }

    /// Takes a frame; returns the FLV tags it became (empty until the first key frame).
    pub fn push(&mut self, frame: &LiveFrame) -> Vec<u8> {
        let mut flv_bytes = Vec::new();
        if frame.keyframe {
            if let Some(config) = DecoderConfig::from_annexb(&frame.annexb) {
                if self.decoder.as_ref() != Some(&config) {
                    flv::write_tag(
                        &flv::avc_config_tag(&config, self.flv_ms(frame.pts_90k)),
                        &mut flv_bytes,
                    );
                    self.decoder = Some(config);
                }
            }
        }
        if self.decoder.is_none() {
            return flv_bytes;
        }
        self.first_pts.get_or_insert(frame.pts_90k);
        let pts = frame.pts_90k.max(self.last_pts);
        self.last_pts = pts;
        let nal_units = annexb_to_length_prefixed(&frame.annexb);
        let mut tag = Vec::with_capacity(nal_units.len() + 32);
        flv::write_tag(
            &flv::avc_frame_tag(frame.keyframe, self.flv_ms(pts), 0, &nal_units),
            &mut tag,
        );
        if frame.keyframe || self.gop.len() + tag.len() > self.config.max_gop_bytes {
            self.gop.clear();
        }
        if frame.keyframe || !self.gop.is_empty() {
            self.gop.extend_from_slice(&tag);
        }
        flv_bytes.extend_from_slice(&tag);
        self.package_hls(frame, pts);
        flv_bytes
    }

    fn flv_ms(&self, pts_90k: u64) -> u32 {
        (pts_90k.saturating_sub(self.first_pts.unwrap_or(pts_90k)) / 90) as u32
    }

    /// Whether a key frame has come, so viewers can start.
    pub fn has_started(&self) -> bool {
        self.decoder.is_some()
    }

    /// What a new HTTP-FLV viewer is sent first: the header, the decoder configuration and
    /// the frames since the last key frame. `None` before the first key frame.
    pub fn flv_start(&self) -> Option<Vec<u8>> {
        let config = self.decoder.as_ref()?;
        let mut out = flv::header(false, true);
        flv::write_tag(&flv::avc_config_tag(config, 0), &mut out);
        out.extend_from_slice(&self.gop);
        Some(out)
    }

    fn package_hls(&mut self, frame: &LiveFrame, pts: u64) {
        let long_enough = self
            .building
            .as_ref()
            .is_some_and(|b| pts.saturating_sub(b.start_pts) * 100 / 9 >= self.config.segment_us);
        if frame.keyframe && (long_enough || self.building.is_none()) {
            self.close_segment(pts);
            let mut b = Building {
                msn: self.next_msn,
                start_pts: pts,
                muxer: Muxer::default(),
                bytes: Vec::new(),
                discontinuity: std::mem::take(&mut self.discontinuity),
                parts: Vec::new(),
                part: None,
                part_muxer: Muxer::default(),
            };
            b.muxer.tables(&mut b.bytes);
            self.next_msn += 1;
            self.building = Some(b);
        }
        let Some(b) = self.building.as_mut() else {
            return;
        };
        let part_us = self.config.part_us;
        if let Some((start, _, _)) = &b.part {
            if pts.saturating_sub(*start) * 100 / 9 >= part_us {
                close_part(b, pts);
                self.finished_parts += 1;
            }
        }
        let ts_frame = TsFrame {
            pts,
            dts: pts,
            keyframe: frame.keyframe,
            data: frame.annexb.clone(),
        };
        b.muxer.frame(&ts_frame, &mut b.bytes);
        let part = b.part.get_or_insert_with(|| {
            let mut bytes = Vec::new();
            b.part_muxer.tables(&mut bytes);
            (pts, bytes, frame.keyframe)
        });
        b.part_muxer.frame(&ts_frame, &mut part.1);
    }

    fn close_segment(&mut self, end_pts: u64) {
        let Some(mut b) = self.building.take() else {
            return;
        };
        close_part(&mut b, end_pts);
        self.finished_parts += 1;
        self.segments.push_back(StoredSegment {
            msn: b.msn,
            bytes: Bytes::from(b.bytes),
            duration_us: end_pts.saturating_sub(b.start_pts) * 100 / 9,
            discontinuity: b.discontinuity,
            parts: b.parts,
        });
        while self.segments.len() > self.config.window {
            self.segments.pop_front();
        }
    }

    pub fn segment(&self, msn: u64) -> Option<Bytes> {
        self.segments
            .iter()
            .find(|s| s.msn == msn)
            .map(|s| s.bytes.clone())
    }

    pub fn part(&self, msn: u64, index: usize) -> Option<Bytes> {
        if let Some(b) = self.building.as_ref().filter(|b| b.msn == msn) {
            return b.parts.get(index).map(|p| p.bytes.clone());
        }
        let segment = self.segments.iter().find(|s| s.msn == msn)?;
        segment.parts.get(index).map(|p| p.bytes.clone())
    }

    /// Whether a request held for part `index` of segment `msn` (or for the whole segment) can
    /// be answered: it exists, or segment `msn` is complete and never will have that part.
    pub fn can_answer(&self, msn: u64, index: Option<usize>) -> bool {
        let complete = self.segments.back().is_some_and(|s| s.msn >= msn);
        complete || index.is_some_and(|i| self.part(msn, i).is_some())
    }

    /// Whether the stream has moved so far past `msn` that waiting for it is pointless.
    pub fn is_past(&self, msn: u64) -> bool {
        self.segments.front().is_some_and(|s| s.msn > msn)
    }

    /// The media playlist; with `low_latency`, its parts, hold-back and preload hint.
    pub fn playlist(&self, low_latency: bool) -> String {
        let part_uris = |msn: u64, parts: &[StoredPart]| -> Vec<Part> {
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| Part {
                    uri: format!("{msn}.{i}.ts"),
                    duration_us: p.duration_us,
                    independent: p.independent,
                })
                .collect()
        };
        let listed = |s: &StoredSegment| Segment {
            init: None,
            sequence: s.msn,
            uri: format!("{}.ts", s.msn),
            duration_us: s.duration_us,
            discontinuity: s.discontinuity,
            parts: if low_latency {
                part_uris(s.msn, &s.parts)
            } else {
                Vec::new()
            },
        };
        let target = self
            .segments
            .iter()
            .map(|s| s.duration_us)
            .max()
            .unwrap_or(self.config.segment_us)
            .max(self.config.segment_us);
        let mut playlist = MediaPlaylist {
            target_duration_us: target,
            media_sequence: self
                .segments
                .front()
                .map_or(self.next_msn.saturating_sub(1), |s| s.msn),
            segments: self.segments.iter().map(listed).collect(),
            ..Default::default()
        };
        if low_latency {
            playlist.low_latency = Some(LowLatency {
                part_target_us: self.config.part_us,
                can_block_reload: true,
                part_hold_back_us: Some(3 * self.config.part_us),
                hold_back_us: None,
            });
            if let Some(b) = &self.building {
                playlist.pending_parts = part_uris(b.msn, &b.parts);
                playlist.preload_hint = Some(format!("{}.{}.ts", b.msn, b.parts.len()));
            }
        }
        write_media(&playlist)
    }
}

fn close_part(b: &mut Building, end_pts: u64) {
    if let Some((start, bytes, independent)) = b.part.take() {
        b.parts.push(StoredPart {
            bytes: Bytes::from(bytes),
            duration_us: end_pts.saturating_sub(start) * 100 / 9,
            independent,
        });
    }
}

#[cfg(test)]
mod tests;
