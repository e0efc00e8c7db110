//! Decoding shared by the quality probes of a process. Probes of one room receive the same
//! access units; a decoder fed the same access units since a self-contained key frame gives the
//! same pictures, so those pictures are decoded once and handed to every probe that reaches the
//! same point of the same stream. A probe whose stream differs (a frame it lost, a layer of its
//! own) is on a chain of its own and decodes it alone, exactly as a decoder of its own would:
//! decoding was half of a probe's CPU (docs/measurement.md, "A viewer's receive path").
//!
//! A chain is named by the SHA-256 of its access units since the key frame, so two probes share
//! a picture only when they were fed the same bytes, whatever the provider sends.

use crate::media::codec::{is_keyframe, CodecError, VideoDecoder};
use crate::media::frame::I420Frame;
use crate::media::marker::annexb_nals;
use openssl::sha::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What decoding one access unit gave: a picture, nothing yet, or an error.
pub type Decoded = Result<Option<Arc<Picture>>, CodecError>;

/// A decoded picture and the scores probes gave it. Every probe that reaches it scores it the
/// same, so the first to score it does so for all: in a room of probes, all scoring the same frame
/// number, scoring it once each put the last probe's frame tens of milliseconds late.
pub struct Picture {
    pub frame: I420Frame,
    scores: Mutex<Vec<(ScoreKey, Option<Scores>)>>,
}

/// (PSNR in dB, SSIM).
pub type Scores = (f64, f64);

/// What a score depends on besides the picture: the reference source's seed and size, the
/// frame number and the scale.
pub type ScoreKey = (u64, (usize, usize), u64, usize);

impl Picture {
    fn new(frame: I420Frame) -> Self {
        Self {
            frame,
            scores: Mutex::new(Vec::new()),
        }
    }

    /// The picture's (PSNR, SSIM) against the reference `key` names, computed by `score` for the
    /// first probe that asks.
    pub fn scores(&self, key: ScoreKey, score: impl FnOnce() -> Option<Scores>) -> Option<Scores> {
        let mut scores = self.scores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, known)) = scores.iter().find(|(k, _)| *k == key) {
            return *known;
        }
        let scored = score();
        scores.push((key, scored));
        scored
    }
}

/// A point of a stream: the hash of every access unit since its key frame.
type Position = [u8; 32];

/// What the pictures kept in one shard may hold; below `MAX_RESULTS` only for large pictures
/// (2 of 1080p). A probe further behind than what is kept decodes on a decoder of its own.
const SHARD_PICTURE_BYTES: usize = 8 << 20;
/// Kept whatever their size.
const MIN_PICTURES: usize = 2;
/// Results kept at most, pictures or not (a stream of undecodable units holds no bytes): a
/// quarter of a second at 30 fps. Probes of one room on one machine take each frame within
/// milliseconds of each other. Keeping 32 made a one-probe run's memory grow by up to 2.1 MB
/// over 15 s, against up to 1.3 MB without shared decoding (`run_guards::memory_...`).
const MAX_RESULTS: usize = 8;
/// A decoder not moved on for this long belongs to no probe any more: one a lagging or lossy
/// probe rebuilt, left behind when its probe went away or met the others at a key frame.
const DECODER_IDLE: Duration = Duration::from_secs(3);
/// How often a shard looks for such decoders.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// The access units a probe keeps since its key frame to rebuild a decoder of its own; past
/// this (a key frame interval of tens of seconds) it stops sharing until the next key frame.
const HISTORY_BYTES: usize = 4 << 20;
const SHARDS: usize = 16;

struct Shard {
    pictures: VecDeque<(Position, Decoded)>,
    /// Decoders by the point of the stream they have decoded up to, with their last use.
    decoders: HashMap<Position, (VideoDecoder, Instant)>,
    last_sweep: Instant,
}

/// Pictures and decoders shared by probes, in shards so unrelated streams do not wait on each
/// other's decoding.
pub struct DecodeShare {
    shards: Vec<Mutex<Shard>>,
    history_limit: usize,
    /// Access units decoded (not looked up): what sharing saves is counted against this.
    decodes: std::sync::atomic::AtomicU64,
}

impl DecodeShare {
    pub fn new() -> Self {
        Self::with_history_limit(HISTORY_BYTES)
    }

    /// A share whose probes keep at most `bytes` of their stream since its key frame.
    pub fn with_history_limit(bytes: usize) -> Self {
        let now = Instant::now();
        Self {
            history_limit: bytes,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        pictures: VecDeque::new(),
                        decoders: HashMap::new(),
                        last_sweep: now,
                    })
                })
                .collect(),
            decodes: 0.into(),
        }
    }

    /// The process's share, used by every probe.
    pub fn process() -> &'static DecodeShare {
        static SHARED: std::sync::OnceLock<DecodeShare> = std::sync::OnceLock::new();
        SHARED.get_or_init(DecodeShare::new)
    }

    pub fn decodes(&self) -> u64 {
        self.decodes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A decoder that panicked leaves its shard's lock poisoned; what the shard holds is still
    /// whole (a decoder is taken out while it decodes), so the lock is taken over.
    fn shard(&self, stream: u64) -> MutexGuard<'_, Shard> {
        self.shards[(stream % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn count_decode(&self) {
        self.decodes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Default for DecodeShare {
    fn default() -> Self {
        Self::new()
    }
}

/// Where one probe is in its stream, and what it needs to decode alone.
struct Chain {
    at: Position,
    /// The access units since the key frame, to rebuild a decoder at `at`.
    history: Vec<Box<[u8]>>,
    history_bytes: usize,
}

/// One probe's decoder: shared pictures while its stream is the others', a decoder of its own
/// when it is not.
pub struct ProbeDecoder {
    share: &'static DecodeShare,
    /// Picks the shard: a stream stays in one, so its old pictures and decoders make way for
    /// its new ones.
    stream: u64,
    chain: Option<Chain>,
    /// A decoder that is this probe's alone: its stream since the key frame outgrew the
    /// history, or it has no key frame yet that starts a chain.
    private: Option<VideoDecoder>,
}

impl ProbeDecoder {
    /// A decoder for a probe of `stream` (any number naming the stream the probe expects;
    /// only which probes compete for a lock depends on it).
    pub fn new(share: &'static DecodeShare, stream: u64) -> Self {
        Self {
            share,
            stream,
            chain: None,
            private: None,
        }
    }

    /// Decodes `access_unit`, the next in decoding order of this probe's stream.
    pub fn decode(&mut self, access_unit: &[u8]) -> Decoded {
        let mut before = None;
        if starts_chain(access_unit) {
            self.private = None;
            before = self.chain.as_ref().map(|c| c.at);
            self.chain = Some(Chain {
                at: [0; 32],
                history: Vec::new(),
                history_bytes: 0,
            });
        }
        if let Some(decoder) = self.private.as_mut() {
            self.share.count_decode();
            return decode_to_arc(decoder, access_unit);
        }
        let Some(chain) = self.chain.as_mut() else {
            // No self-contained key frame yet: decode alone, as a decoder of its own would.
            let mut decoder = VideoDecoder::new()?;
            self.share.count_decode();
            let decoded = decode_to_arc(&mut decoder, access_unit);
            self.private = Some(decoder);
            return decoded;
        };
        let decoded = shared_step(self.share, self.stream, chain, before, access_unit);
        if chain.history_bytes > self.share.history_limit {
            self.private = Some(rebuild(self.share, &chain.history)?);
            self.chain = None;
        }
        decoded
    }
}

/// One access unit on a shared chain: the picture if another probe decoded it, else decoded on
/// the decoder at this probe's point (rebuilt from its history when there is none). A key frame
/// that starts a chain takes the decoder where the probe's last chain ended, if it is still
/// there: its pictures from the key frame on do not depend on what the decoder held, and a new
/// decoder for every key frame made the process grow (a memory test caught it).
fn shared_step(
    share: &DecodeShare,
    stream: u64,
    chain: &mut Chain,
    before: Option<Position>,
    access_unit: &[u8],
) -> Decoded {
    let from = chain.at;
    let to = hash(&from, access_unit);
    let unit: Box<[u8]> = Box::from(access_unit);
    chain.history_bytes += unit.len();
    chain.history.push(unit);
    chain.at = to;
    let mut shard = share.shard(stream);
    if let Some((_, decoded)) = shard.pictures.iter().find(|(p, _)| *p == to) {
        return decoded.clone();
    }
    let now = Instant::now();
    let found = match before {
        Some(last) => shard.decoders.remove(&last),
        None => shard.decoders.remove(&from),
    };
    let mut decoder = match found {
        Some((decoder, _)) => decoder,
        None => rebuild(share, &chain.history[..chain.history.len() - 1])?,
    };
    share.count_decode();
    let decoded = decode_to_arc(&mut decoder, access_unit);
    shard.decoders.entry(to).or_insert((decoder, now));
    shard.pictures.push_back((to, decoded.clone()));
    keep_within_budget(&mut shard.pictures);
    sweep(&mut shard, now);
    decoded
}

/// A decoder that has decoded `history`, in order.
fn rebuild(share: &DecodeShare, history: &[Box<[u8]>]) -> Result<VideoDecoder, CodecError> {
    let mut decoder = VideoDecoder::new()?;
    for unit in history {
        share.count_decode();
        // Its pictures and errors were had when the probe reached them.
        let _ = decoder.decode(unit);
    }
    Ok(decoder)
}

fn keep_within_budget(pictures: &mut VecDeque<(Position, Decoded)>) {
    let size = |d: &Decoded| match d {
        Ok(Some(p)) => p.frame.y.len() + p.frame.u.len() + p.frame.v.len(),
        _ => 0,
    };
    let mut bytes: usize = pictures.iter().map(|(_, d)| size(d)).sum();
    while pictures.len() > MAX_RESULTS
        || (pictures.len() > MIN_PICTURES && bytes > SHARD_PICTURE_BYTES)
    {
        if let Some((_, d)) = pictures.pop_front() {
            bytes -= size(&d);
        }
    }
}

fn sweep(shard: &mut Shard, now: Instant) {
    if now.duration_since(shard.last_sweep) < SWEEP_EVERY {
        return;
    }
    shard.last_sweep = now;
    shard
        .decoders
        .retain(|_, (_, used)| now.duration_since(*used) < DECODER_IDLE);
}

fn decode_to_arc(decoder: &mut VideoDecoder, access_unit: &[u8]) -> Decoded {
    decoder
        .decode(access_unit)
        .map(|picture| picture.map(|frame| Arc::new(Picture::new(frame))))
}

/// An IDR access unit that carries its own sequence and picture parameter sets: a decoder's
/// pictures from it on do not depend on anything it decoded before.
fn starts_chain(access_unit: &[u8]) -> bool {
    if !is_keyframe(access_unit) {
        return false;
    }
    let kinds = || annexb_nals(access_unit).filter_map(|n| n.first().map(|b| b & 0x1F));
    kinds().any(|k| k == 7) && kinds().any(|k| k == 8)
}

fn hash(from: &Position, access_unit: &[u8]) -> Position {
    let mut h = Sha256::new();
    h.update(from);
    h.update(access_unit);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::VideoEncoder;
    use crate::media::marker::FrameMarker;
    use crate::media::source::VideoSource;

    /// `frames` access units of a 320x180 stream with a key frame every 30.
    fn stream(frames: u64) -> Vec<Vec<u8>> {
        let source = VideoSource::new(3, 320, 180);
        let mut encoder = VideoEncoder::new(30, 300_000, 30).expect("encoder");
        (0..frames)
            .map(|n| {
                let marker = FrameMarker {
                    frame: n as u32,
                    capture_us: n * 33_333,
                };
                encoder
                    .encode(&source.frame(n), marker)
                    .expect("encode")
                    .data
            })
            .collect()
    }

    /// What a decoder of its own gives for each access unit, as the probes used to decode.
    fn alone(units: &[&Vec<u8>]) -> Vec<Option<I420Frame>> {
        let mut decoder = VideoDecoder::new().expect("decoder");
        units
            .iter()
            .map(|u| decoder.decode(u).expect("decode"))
            .collect()
    }

    fn pictures(decoded: Vec<Decoded>) -> Vec<Option<I420Frame>> {
        decoded
            .into_iter()
            .map(|d| d.expect("decode").map(|p| p.frame.clone()))
            .collect()
    }

    fn share(history_limit: usize) -> &'static DecodeShare {
        Box::leak(Box::new(DecodeShare::with_history_limit(history_limit)))
    }

    #[test]
    fn probes_fed_the_same_stream_decode_each_unit_once_and_see_what_a_decoder_of_their_own_sees() {
        let units = stream(75);
        let share = share(HISTORY_BYTES);
        let mut probes: Vec<ProbeDecoder> = (0..3).map(|_| ProbeDecoder::new(share, 1)).collect();
        let mut seen: Vec<Vec<Decoded>> = vec![Vec::new(); 3];
        for unit in &units {
            for (probe, seen) in probes.iter_mut().zip(seen.iter_mut()) {
                seen.push(probe.decode(unit));
            }
        }
        let expected = alone(&units.iter().collect::<Vec<_>>());
        assert!(expected.iter().all(Option::is_some));
        for seen in seen {
            assert!(pictures(seen) == expected, "a probe's pictures differ");
        }
        assert_eq!(
            share.decodes(),
            75,
            "each access unit decoded once for three probes"
        );
    }

    #[test]
    fn a_probe_that_lost_frames_or_fell_behind_sees_exactly_what_a_decoder_of_its_own_sees() {
        let units = stream(70);
        let share = share(HISTORY_BYTES);
        let (mut full, mut lossy, mut late) = (
            ProbeDecoder::new(share, 1),
            ProbeDecoder::new(share, 1),
            ProbeDecoder::new(share, 1),
        );
        // The lossy probe misses frame 12 and decodes on (a broken picture until the key
        // frame at 30, as a real decoder gives); the late probe starts 40 frames behind.
        let lossy_units: Vec<&Vec<u8>> = units
            .iter()
            .enumerate()
            .filter(|(n, _)| *n != 12)
            .map(|(_, u)| u)
            .collect();
        let (mut seen_full, mut seen_lossy, mut seen_late) = (Vec::new(), Vec::new(), Vec::new());
        let mut lossy_next = lossy_units.iter();
        for (n, unit) in units.iter().enumerate() {
            seen_full.push(full.decode(unit));
            if let Some(u) = lossy_next.next() {
                seen_lossy.push(lossy.decode(u));
            }
            if n >= 40 {
                seen_late.push(late.decode(&units[n - 40]));
            }
        }
        let all: Vec<&Vec<u8>> = units.iter().collect();
        let lossy_seen: Vec<&Vec<u8>> = lossy_units[..seen_lossy.len()].to_vec();
        assert!(pictures(seen_full) == alone(&all));
        let lossy_pictures: Vec<_> = seen_lossy
            .into_iter()
            .map(|d| d.ok().flatten().map(|p| p.frame.clone()))
            .collect();
        let mut decoder = VideoDecoder::new().expect("decoder");
        let lossy_alone: Vec<_> = lossy_seen
            .iter()
            .map(|u| decoder.decode(u).ok().flatten())
            .collect();
        assert!(
            lossy_pictures == lossy_alone,
            "the lossy probe's pictures differ"
        );
        // The loss shows: the same access units after it decode to other pictures.
        let full_alone = alone(&all);
        assert!(lossy_alone[12..29] != full_alone[13..30]);
        assert!(pictures(seen_late) == alone(&all[..30]));
    }

    #[test]
    fn a_probe_whose_stream_outgrows_its_history_decodes_alone_until_the_next_key_frame() {
        let units = stream(65);
        let share = share(20_000);
        let mut probe = ProbeDecoder::new(share, 1);
        let seen: Vec<Decoded> = units.iter().map(|u| probe.decode(u)).collect();
        assert!(pictures(seen) == alone(&units.iter().collect::<Vec<_>>()));
        assert!(share.decodes() > 65, "rebuilt once its history was full");
    }

    #[test]
    fn a_picture_is_scored_once_for_each_reference_it_is_held_to() {
        let picture = Picture::new(I420Frame::new(16, 16));
        let mut computed = 0;
        let mut score = |key, value| {
            picture.scores(key, || {
                computed += 1;
                Some((value, 0.9))
            })
        };
        assert_eq!(score((1, (16, 16), 4, 1), 40.0), Some((40.0, 0.9)));
        assert_eq!(score((1, (16, 16), 4, 1), 99.0), Some((40.0, 0.9)));
        assert_eq!(score((1, (16, 16), 8, 1), 35.0), Some((35.0, 0.9)));
        assert_eq!(computed, 2);
    }

    #[test]
    fn only_a_key_frame_with_its_parameter_sets_starts_a_chain() {
        let units = stream(2);
        assert!(starts_chain(&units[0]));
        assert!(!starts_chain(&units[1]));
        let slices_only: Vec<u8> = annexb_nals(&units[0])
            .filter(|n| n.first().is_some_and(|b| b & 0x1F == 5))
            .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
            .collect();
        assert!(is_keyframe(&slices_only));
        assert!(!starts_chain(&slices_only));
    }
}
