//! Which picture size a viewer is shown, over time: from the SPS each key frame carries, so it
//! works on any provider and for light viewers that decode nothing. A simulcast viewer's layer
//! is its picture size; a switch is a change of size.

use crate::base::Micros;
pub use crate::record::{LayerChange, LayersShown, ResolutionTime};
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{decode_nal, BitReader};

/// Changes of size kept for the timeline; a session switching more often than this keeps its
/// totals but not every step.
const MAX_SPANS: usize = 512;

/// The width and height an SPS NAL unit (header byte first) declares.
pub fn sps_dimensions(nal: &[u8]) -> Option<(u32, u32)> {
    if nal.first().map(|b| b & 0x1F) != Some(7) {
        return None;
    }
    let rbsp = decode_nal(nal).ok()?;
    let sps = SeqParameterSet::from_bits(BitReader::new(&rbsp[..])).ok()?;
    sps.pixel_dimensions().ok()
}

/// The sizes shown and when they changed.
#[derive(Debug, Default, Clone)]
pub struct LayerTrack {
    /// The size the stream's latest SPS declared.
    declared: Option<(u32, u32)>,
    /// The size shown now, and since when.
    shown: Option<((u32, u32), Micros)>,
    last_frame: Option<Micros>,
    times: Vec<ResolutionTime>,
    /// (first frame, width, height) of each size shown.
    spans: Vec<(Micros, u32, u32)>,
    pub switches_down: u64,
    pub switches_up: u64,
    /// The source's number of the last frame shown.
    last_number: Option<u32>,
    /// Frames of the source never shown across the changes of size.
    skipped_at_switches: u64,
    /// Instants the viewer's network changed (a schedule's phases) or it asked for a layer.
    changes: Vec<Micros>,
    /// PSNR sums and counts per size, for probes.
    psnr: Vec<((u32, u32), f64, u64)>,
}

impl LayerTrack {
    /// An SPS in the stream: frames from here on are this size.
    pub fn on_sps(&mut self, nal: &[u8]) {
        if let Some(size) = sps_dimensions(nal) {
            self.declared = Some(size);
        }
    }

    /// Switch times are measured from these instants (the viewer's network changing, or the
    /// viewer asking for a layer), in time order.
    pub fn watch_changes(&mut self, at: Vec<Micros>) {
        self.changes = at;
    }

    /// A frame shown at `now` (the source's frame `number`, if its marker was read): the time
    /// since the last frame counts for the size shown then.
    pub fn on_frame(&mut self, now: Micros, number: Option<u32>) {
        let Some(size) = self.declared else {
            return;
        };
        self.account(now);
        match self.shown {
            Some((before, _)) if before == size => {}
            Some((before, _)) => {
                if area(size) < area(before) {
                    self.switches_down += 1;
                } else {
                    self.switches_up += 1;
                }
                if let (Some(last), Some(n)) = (self.last_number, number) {
                    self.skipped_at_switches += n.saturating_sub(last).saturating_sub(1) as u64;
                }
                self.open_span(size, now);
            }
            None => self.open_span(size, now),
        }
        self.last_frame = Some(now);
        self.last_number = number.or(self.last_number);
    }

    /// A probe scored a frame of the size the stream declares now.
    pub fn on_psnr(&mut self, db: f64) {
        let Some(size) = self.declared else {
            return;
        };
        match self.psnr.iter_mut().find(|(s, _, _)| *s == size) {
            Some((_, sum, n)) => {
                *sum += db;
                *n += 1;
            }
            None => self.psnr.push((size, db, 1)),
        }
    }

    /// Change (network or ask) → the first frame of another size, for each change followed by
    /// one before the next change.
    fn switch_times_ms(&self) -> Vec<f64> {
        let mut out = Vec::new();
        for (i, &change) in self.changes.iter().enumerate() {
            let next = self.changes.get(i + 1).copied().unwrap_or(Micros::MAX);
            // The first span is the first frame, not a switch.
            let switched = self
                .spans
                .iter()
                .skip(1)
                .find(|&&(at, _, _)| at >= change && at < next);
            if let Some(&(at, _, _)) = switched {
                out.push((at - change) as f64 / 1000.0);
            }
        }
        out
    }

    fn account(&mut self, now: Micros) {
        let (Some((size, _)), Some(last)) = (self.shown, self.last_frame) else {
            return;
        };
        let ms = now.saturating_sub(last) as f64 / 1000.0;
        match self.times.iter_mut().find(|t| (t.width, t.height) == size) {
            Some(t) => t.ms += ms,
            None => self.times.push(ResolutionTime {
                width: size.0,
                height: size.1,
                ms,
                psnr_db: None,
            }),
        }
    }

    fn open_span(&mut self, size: (u32, u32), now: Micros) {
        self.shown = Some((size, now));
        if self.spans.len() < MAX_SPANS {
            self.spans.push((now, size.0, size.1));
        }
    }

    /// Time shown at each size, largest first.
    pub fn times(&self) -> Vec<ResolutionTime> {
        let mut times = self.times.clone();
        for t in &mut times {
            t.psnr_db = self
                .psnr
                .iter()
                .find(|(s, _, _)| *s == (t.width, t.height))
                .map(|&(_, sum, n)| sum / n as f64);
        }
        times.sort_by_key(|t| std::cmp::Reverse(area((t.width, t.height))));
        times
    }

    /// What was shown, with instants as seconds from `origin` (the run's start); `None` if
    /// no frame of known size was.
    pub fn summary(&self, origin: Micros) -> Option<LayersShown> {
        self.shown?;
        Some(LayersShown {
            resolutions: self.times(),
            switches_down: self.switches_down,
            switches_up: self.switches_up,
            switch_ms: self.switch_times_ms(),
            frames_skipped_at_switches: self.skipped_at_switches,
            changes: self
                .spans
                .iter()
                .map(|&(at, width, height)| LayerChange {
                    at_s: at.saturating_sub(origin) as f64 / 1e6,
                    width,
                    height,
                })
                .collect(),
        })
    }

    /// The size shown now.
    pub fn shown(&self) -> Option<(u32, u32)> {
        self.shown.map(|(size, _)| size)
    }
}

fn area((w, h): (u32, u32)) -> u64 {
    w as u64 * h as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::VideoEncoder;
    use crate::media::frame::I420Frame;
    use crate::media::marker::{annexb_nals, FrameMarker};

    fn sps_of(width: usize, height: usize) -> Vec<u8> {
        let mut encoder = VideoEncoder::new(30, 300_000, 30).unwrap();
        let marker = FrameMarker {
            frame: 0,
            capture_us: 0,
        };
        let encoded = encoder
            .encode(&I420Frame::new(width, height), marker)
            .unwrap();
        let sps = annexb_nals(&encoded.data)
            .find(|n| n[0] & 0x1F == 7)
            .unwrap()
            .to_vec();
        sps
    }

    #[test]
    fn the_size_comes_from_the_encoders_sps() {
        assert_eq!(sps_dimensions(&sps_of(640, 360)), Some((640, 360)));
        assert_eq!(sps_dimensions(&sps_of(160, 90)), Some((160, 90)));
        assert_eq!(sps_dimensions(&[0x67]), None);
        assert_eq!(sps_dimensions(&[0x68, 1, 2]), None);
    }

    #[test]
    fn time_at_each_size_and_the_switches_are_counted_from_frames() {
        let (big, small) = (sps_of(640, 360), sps_of(320, 180));
        let mut track = LayerTrack::default();
        track.watch_changes(vec![1_500_000, 3_000_000, 5_000_000]);
        track.on_frame(0, Some(0)); // no SPS yet: not counted
        track.on_sps(&big);
        for n in 0..=30 {
            track.on_frame(1_000_000 + n * 33_333, Some(n as u32));
            track.on_psnr(40.0);
        }
        track.on_sps(&small);
        // Frames 31 to 32 never shown: the switch waited for a key frame.
        for n in 1..=60 {
            track.on_frame(2_000_000 + n * 33_333, Some(32 + n as u32));
            track.on_psnr(34.0 + (n % 2) as f64);
        }
        track.on_sps(&big);
        track.on_frame(4_100_000, Some(100));
        assert_eq!((track.switches_down, track.switches_up), (1, 1));
        let times = track.times();
        assert_eq!((times[0].width, times[1].width), (640, 320));
        assert!((times[0].ms - 1033.3).abs() < 1.0, "{:?}", times);
        assert!((times[1].ms - 2066.7).abs() < 1.0, "{:?}", times);
        let shown = track.summary(1_000_000).unwrap();
        let changes: Vec<_> = shown.changes.iter().map(|c| (c.at_s, c.height)).collect();
        assert_eq!(changes, [(0.0, 360), (1.033333, 180), (3.1, 360)]);
        assert_eq!(
            shown.switch_ms,
            [533.333, 1100.0],
            "the last change had no switch"
        );
        assert_eq!(shown.frames_skipped_at_switches, 2 + 7);
        assert_eq!(shown.resolutions[0].psnr_db, Some(40.0));
        assert_eq!(shown.resolutions[1].psnr_db, Some(34.5));
        assert_eq!(LayerTrack::default().summary(0), None);
        assert_eq!(track.shown(), Some((640, 360)));
    }
}
