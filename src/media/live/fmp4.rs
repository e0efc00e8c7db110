//! Fragmented MP4 (CMAF) as HLS serves it: an init segment (`EXT-X-MAP`: ftyp + moov with the
//! avcC and the track's timescale) and media segments of moof + mdat. Boxes are decoded by
//! mp4-atom; here the samples of the H.264 track are cut out of the mdat by the trun's sizes
//! and offsets, given their decode and presentation times, and turned back into Annex B.

use super::avc::{to_annexb, DecoderConfig};
use super::ts::TsFrame;
use mp4_atom::{Any, Codec, Decode, Moof, Moov};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fmp4Error {
    #[error("fMP4: {0}")]
    Box(String),
    #[error("fMP4 init segment: {0}")]
    Init(String),
    #[error("fMP4 fragment: {0}")]
    Fragment(String),
}

/// Bit of a sample's flags that marks it as not a sync sample (ISO/IEC 14496-12 §8.8.3.1).
const NON_SYNC: u32 = 0x0001_0000;

/// What the init segment says about the H.264 track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSegment {
    pub track_id: u32,
    pub timescale: u32,
    pub config: DecoderConfig,
    /// Sample duration and flags when a fragment gives none (trex).
    default_duration: u32,
    default_flags: u32,
}

fn box_error(e: mp4_atom::Error) -> Fmp4Error {
    Fmp4Error::Box(e.to_string())
}

/// Reads the init segment's first H.264 track.
pub fn parse_init(bytes: &[u8]) -> Result<InitSegment, Fmp4Error> {
    let mut buf = bytes;
    while !buf.is_empty() {
        if let Any::Moov(moov) = Any::decode(&mut buf).map_err(box_error)? {
            return init_from(&moov);
        }
    }
    Err(Fmp4Error::Init("no moov box".into()))
}

fn init_from(moov: &Moov) -> Result<InitSegment, Fmp4Error> {
    for trak in &moov.trak {
        let avc = trak
            .mdia
            .minf
            .stbl
            .stsd
            .codecs
            .iter()
            .find_map(|c| match c {
                Codec::Avc1(avc1) => Some(&avc1.avcc),
                _ => None,
            });
        let Some(avcc) = avc else { continue };
        let (Some(sps), Some(pps)) = (
            avcc.sequence_parameter_sets.first(),
            avcc.picture_parameter_sets.first(),
        ) else {
            return Err(Fmp4Error::Init("avcC without SPS and PPS".into()));
        };
        let track_id = trak.tkhd.track_id;
        let trex = moov
            .mvex
            .as_ref()
            .and_then(|m| m.trex.iter().find(|t| t.track_id == track_id));
        let timescale = trak.mdia.mdhd.timescale;
        if timescale == 0 {
            return Err(Fmp4Error::Init("a timescale of 0".into()));
        }
        return Ok(InitSegment {
            track_id,
            timescale,
            config: DecoderConfig {
                sps: sps.clone(),
                pps: pps.clone(),
                length_size: usize::from(avcc.length_size),
            },
            default_duration: trex.map_or(0, |t| t.default_sample_duration),
            default_flags: trex.map_or(0, |t| t.default_sample_flags),
        });
    }
    Err(Fmp4Error::Init("no H.264 (avc1) track".into()))
}

/// The H.264 frames of one media segment, times in the track's timescale.
pub fn demux(segment: &[u8], init: &InitSegment) -> Result<Vec<TsFrame>, Fmp4Error> {
    let mut frames = Vec::new();
    let mut buf = segment;
    while !buf.is_empty() {
        let at = segment.len() - buf.len();
        match Any::decode(&mut buf).map_err(box_error)? {
            Any::Moof(moof) => frames.extend(fragment(&moof, segment, at, init)?),
            _ => continue,
        }
    }
    Ok(frames)
}

/// The samples a moof (starting at `moof_at` in `segment`) describes, cut out of the segment.
fn fragment(
    moof: &Moof,
    segment: &[u8],
    moof_at: usize,
    init: &InitSegment,
) -> Result<Vec<TsFrame>, Fmp4Error> {
    let bad = |what: String| Fmp4Error::Fragment(what);
    let mut frames = Vec::new();
    for traf in moof
        .traf
        .iter()
        .filter(|t| t.tfhd.track_id == init.track_id)
    {
        let tfhd = &traf.tfhd;
        // Offsets count from the moof unless the tfhd gives a base (default-base-is-moof).
        let base = tfhd.base_data_offset.map_or(moof_at as u64, |b| b);
        let mut dts = traf.tfdt.as_ref().map_or(0, |t| t.base_media_decode_time);
        let mut next = base;
        for trun in &traf.trun {
            if let Some(offset) = trun.data_offset {
                next = base
                    .checked_add_signed(i64::from(offset))
                    .ok_or_else(|| bad(format!("data offset {offset} before the file")))?;
            }
            for (i, entry) in trun.entries.iter().enumerate() {
                let size = entry
                    .size
                    .or(tfhd.default_sample_size)
                    .ok_or_else(|| bad("a sample without a size".into()))?
                    as u64;
                let start = usize::try_from(next).map_err(|_| bad("offset too large".into()))?;
                let end = start.saturating_add(size as usize);
                let data = segment.get(start..end).ok_or_else(|| {
                    bad(format!(
                        "sample {i} at bytes {start}..{end} is past the segment's {}",
                        segment.len()
                    ))
                })?;
                next += size;
                let flags = entry
                    .flags
                    .or(tfhd.default_sample_flags)
                    .unwrap_or(init.default_flags);
                let keyframe = flags & NON_SYNC == 0;
                let cts = i64::from(entry.cts.unwrap_or(0));
                frames.push(TsFrame {
                    pts: dts.saturating_add_signed(cts),
                    dts,
                    keyframe,
                    data: to_annexb(data, &init.config, keyframe),
                });
                let duration = entry
                    .duration
                    .or(tfhd.default_sample_duration)
                    .unwrap_or(init.default_duration);
                dts += u64::from(duration);
            }
        }
    }
    Ok(frames)
}
