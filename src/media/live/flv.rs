//! FLV as HTTP-FLV carries it (Adobe FLV v10.1, Annex E): a header, then tags each followed by
//! the size of the tag before. Video is AVC: a sequence header with the decoder configuration,
//! then length-prefixed access units with their composition offset. The demuxer is fed bytes as
//! they come off a connection and holds at most one tag of `max_tag_bytes`.

use super::avc::{AvcError, DecoderConfig};

pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;
pub const TAG_SCRIPT: u8 = 18;
const HEADER_LEN: usize = 9;
const TAG_HEADER_LEN: usize = 11;
const CODEC_AVC: u8 = 7;
const AVC_SEQUENCE_HEADER: u8 = 0;
const AVC_NALU: u8 = 1;
const AVC_END_OF_SEQUENCE: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    #[error("not an FLV stream: it starts {0:02x?}, not \"FLV\" version 1")]
    Signature(Vec<u8>),
    #[error("tag at byte {offset} declares {size} bytes, more than the {limit} allowed")]
    TagTooLarge {
        offset: u64,
        size: usize,
        limit: usize,
    },
    #[error("tag at byte {offset} has unknown type {kind}")]
    UnknownTag { offset: u64, kind: u8 },
    #[error("stream ends inside a tag at byte {offset} ({have} of {need} bytes)")]
    CutTag {
        offset: u64,
        have: usize,
        need: usize,
    },
    #[error("video tag: {0}")]
    Video(String),
    #[error("video tag: {0}")]
    Avc(#[from] AvcError),
}

/// One tag: type, timestamp (decode time, ms) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub kind: u8,
    pub timestamp_ms: u32,
    pub data: Vec<u8>,
}

/// The stream header and the zero size of the tag before the first.
pub fn header(audio: bool, video: bool) -> Vec<u8> {
    let flags = (u8::from(audio) << 2) | u8::from(video);
    let mut out = vec![b'F', b'L', b'V', 1, flags, 0, 0, 0, HEADER_LEN as u8];
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// A tag and the size-of-previous-tag that follows it.
pub fn write_tag(tag: &Tag, out: &mut Vec<u8>) {
    let size = tag.data.len() as u32;
    out.push(tag.kind);
    out.extend_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(&(tag.timestamp_ms & 0x00FF_FFFF).to_be_bytes()[1..]);
    out.push((tag.timestamp_ms >> 24) as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&tag.data);
    out.extend_from_slice(&(size + TAG_HEADER_LEN as u32).to_be_bytes());
}

/// The AVC sequence header tag.
pub fn avc_config_tag(config: &DecoderConfig, timestamp_ms: u32) -> Tag {
    let mut data = vec![(1 << 4) | CODEC_AVC, AVC_SEQUENCE_HEADER, 0, 0, 0];
    data.extend_from_slice(&config.to_record());
    Tag {
        kind: TAG_VIDEO,
        timestamp_ms,
        data,
    }
}

/// A tag carrying one access unit (length-prefixed NAL units).
pub fn avc_frame_tag(keyframe: bool, dts_ms: u32, cts_ms: i32, nal_units: &[u8]) -> Tag {
    let frame_type = if keyframe { 1 } else { 2 };
    let mut data = Vec::with_capacity(5 + nal_units.len());
    data.push((frame_type << 4) | CODEC_AVC);
    data.push(AVC_NALU);
    data.extend_from_slice(&cts_ms.to_be_bytes()[1..]);
    data.extend_from_slice(nal_units);
    Tag {
        kind: TAG_VIDEO,
        timestamp_ms: dts_ms,
        data,
    }
}

/// What a video tag holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Video<'a> {
    Config(DecoderConfig),
    Frame {
        keyframe: bool,
        pts_ms: i64,
        nal_units: &'a [u8],
    },
    EndOfSequence,
    /// Another codec (enhanced RTMP's HEVC or AV1, or an old one): not played here.
    OtherCodec(u8),
}

/// Reads a video tag's body.
pub fn parse_video(tag: &Tag) -> Result<Video<'_>, FlvError> {
    let data = &tag.data;
    let Some(&first) = data.first() else {
        return Err(FlvError::Video("empty video tag".into()));
    };
    if first & 0x80 != 0 || first & 0x0F != CODEC_AVC {
        return Ok(Video::OtherCodec(first & 0x0F));
    }
    if data.len() < 5 {
        return Err(FlvError::Video(format!("AVC tag of {} bytes", data.len())));
    }
    let cts = i32::from_be_bytes([0, data[2], data[3], data[4]]) << 8 >> 8;
    match data[1] {
        AVC_SEQUENCE_HEADER => Ok(Video::Config(DecoderConfig::parse_record(&data[5..])?)),
        AVC_NALU => Ok(Video::Frame {
            keyframe: first >> 4 == 1,
            pts_ms: tag.timestamp_ms as i64 + cts as i64,
            nal_units: &data[5..],
        }),
        AVC_END_OF_SEQUENCE => Ok(Video::EndOfSequence),
        other => Err(FlvError::Video(format!("AVCPacketType {other}"))),
    }
}

/// Splits a byte stream into tags as it arrives.
#[derive(Debug)]
pub struct Demuxer {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    at: usize,
    /// Stream offset of `buf[0]`.
    offset: u64,
    header_seen: bool,
    max_tag_bytes: usize,
}

impl Demuxer {
    pub fn new(max_tag_bytes: usize) -> Self {
        Self {
            buf: Vec::new(),
            at: 0,
            offset: 0,
            header_seen: false,
            max_tag_bytes,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.at > 0 && self.at >= self.buf.len() / 2 {
            self.buf.drain(..self.at);
            self.offset += self.at as u64;
            self.at = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.at..]
    }

    /// The next whole tag, `None` until more bytes come. An error is final for the stream.
    pub fn next_tag(&mut self) -> Option<Result<Tag, FlvError>> {
        if !self.header_seen {
            let pending = self.pending();
            if pending.len() < HEADER_LEN + 4 {
                return None;
            }
            if &pending[..3] != b"FLV" || pending[3] != 1 {
                return Some(Err(FlvError::Signature(pending[..4].to_vec())));
            }
            let data_offset = u32::from_be_bytes(pending[5..9].try_into().ok()?) as usize;
            let skip = data_offset.max(HEADER_LEN) + 4;
            if pending.len() < skip {
                return None;
            }
            self.at += skip;
            self.header_seen = true;
        }
        let pending = self.pending();
        if pending.len() < TAG_HEADER_LEN {
            return None;
        }
        let offset = self.offset + self.at as u64;
        let kind = pending[0] & 0x1F;
        let size = u32::from_be_bytes([0, pending[1], pending[2], pending[3]]) as usize;
        if size > self.max_tag_bytes {
            let limit = self.max_tag_bytes;
            return Some(Err(FlvError::TagTooLarge {
                offset,
                size,
                limit,
            }));
        }
        if !matches!(kind, TAG_AUDIO | TAG_VIDEO | TAG_SCRIPT) {
            return Some(Err(FlvError::UnknownTag { offset, kind }));
        }
        let whole = TAG_HEADER_LEN + size + 4;
        if pending.len() < whole {
            return None;
        }
        let timestamp_ms = u32::from_be_bytes([pending[7], pending[4], pending[5], pending[6]]);
        let data = pending[TAG_HEADER_LEN..TAG_HEADER_LEN + size].to_vec();
        self.at += whole;
        Some(Ok(Tag {
            kind,
            timestamp_ms,
            data,
        }))
    }

    /// The stream has ended: bytes of a tag left over mean it was cut.
    pub fn finish(&self) -> Result<(), FlvError> {
        let pending = self.pending();
        if pending.is_empty() {
            return Ok(());
        }
        let need = if pending.len() >= 4 && self.header_seen {
            TAG_HEADER_LEN
                + u32::from_be_bytes([0, pending[1], pending[2], pending[3]]) as usize
                + 4
        } else {
            TAG_HEADER_LEN
        };
        Err(FlvError::CutTag {
            offset: self.offset + self.at as u64,
            have: pending.len(),
            need,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::live::avc::LENGTH_SIZE;

    fn config() -> DecoderConfig {
        DecoderConfig {
            sps: vec![0x67, 0x42, 0xC0, 0x1F, 0xAA],
            pps: vec![0x68, 0xCE],
            length_size: LENGTH_SIZE,
        }
    }

    fn stream() -> Vec<u8> {
        let mut out = header(false, true);
        write_tag(&avc_config_tag(&config(), 0), &mut out);
        for (i, key) in [true, false, false].into_iter().enumerate() {
            let nal = [0, 0, 0, 2, if key { 0x65 } else { 0x41 }, i as u8];
            write_tag(
                &avc_frame_tag(key, 40 * i as u32 + 0x0100_0000, -40, &nal),
                &mut out,
            );
        }
        out
    }

    #[test]
    fn tags_come_out_whole_however_the_bytes_are_split() {
        let bytes = stream();
        for chunk in [1, 3, 7, 64, bytes.len()] {
            let mut demuxer = Demuxer::new(1 << 20);
            let mut tags = Vec::new();
            for piece in bytes.chunks(chunk) {
                demuxer.push(piece);
                while let Some(tag) = demuxer.next_tag() {
                    tags.push(tag.expect("valid"));
                }
            }
            assert_eq!(demuxer.finish(), Ok(()));
            assert_eq!(tags.len(), 4, "chunks of {chunk}");
            assert_eq!(parse_video(&tags[0]), Ok(Video::Config(config())));
            match parse_video(&tags[3]).unwrap() {
                Video::Frame {
                    keyframe,
                    pts_ms,
                    nal_units,
                } => {
                    assert!(!keyframe);
                    assert_eq!(
                        pts_ms,
                        0x0100_0000 + 80 - 40,
                        "extended timestamp, negative cts"
                    );
                    assert_eq!(nal_units, &[0, 0, 0, 2, 0x41, 2]);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_cut_stream_a_huge_tag_and_a_wrong_signature_are_named() {
        let bytes = stream();
        let mut demuxer = Demuxer::new(1 << 20);
        demuxer.push(&bytes[..bytes.len() - 3]);
        while let Some(tag) = demuxer.next_tag() {
            tag.unwrap();
        }
        let cut = demuxer.finish().unwrap_err();
        assert!(
            matches!(
                cut,
                FlvError::CutTag {
                    need: 26,
                    have: 23,
                    ..
                }
            ),
            "{cut}"
        );

        let mut small = Demuxer::new(8);
        small.push(&bytes);
        let err = small.next_tag().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "tag at byte 13 declares 23 bytes, more than the 8 allowed"
        );

        let mut html = Demuxer::new(8);
        html.push(b"<html><body>404</body></html>");
        assert!(matches!(html.next_tag(), Some(Err(FlvError::Signature(_)))));
    }
}
