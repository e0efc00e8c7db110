//! H.264 as FLV and MP4 carry it: NAL units with a length prefix instead of Annex B start codes,
//! and the parameter sets apart in an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3).

use crate::media::marker::{annexb_nals, parse_sei_nal, FrameMarker};

const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
/// NAL length prefix size this crate writes (lengthSizeMinusOne = 3).
pub const LENGTH_SIZE: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvcError {
    #[error("AVC decoder configuration: {0}")]
    Config(&'static str),
    #[error("length-prefixed NAL unit of {declared} bytes runs past the {left} bytes left")]
    NalPastEnd { declared: usize, left: usize },
}

/// The stream's parameter sets, as a decoder needs them before the first picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderConfig {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub length_size: usize,
}

impl DecoderConfig {
    /// The parameter sets of an Annex B access unit (a key frame carries them).
    pub fn from_annexb(access_unit: &[u8]) -> Option<Self> {
        let mut sps = None;
        let mut pps = None;
        for nal in annexb_nals(access_unit) {
            match nal.first().map(|b| b & 0x1F) {
                Some(NAL_SPS) if nal.len() >= 4 => sps = Some(nal.to_vec()),
                Some(NAL_PPS) => pps = Some(nal.to_vec()),
                _ => {}
            }
        }
        Some(Self {
            sps: sps?,
            pps: pps?,
            length_size: LENGTH_SIZE,
        })
    }

    /// The AVCDecoderConfigurationRecord.
    pub fn to_record(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(11 + self.sps.len() + self.pps.len());
        out.extend_from_slice(&[1, self.sps[1], self.sps[2], self.sps[3]]);
        out.push(0xFC | (self.length_size as u8 - 1));
        out.push(0xE1);
        out.extend_from_slice(&(self.sps.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.sps);
        out.push(1);
        out.extend_from_slice(&(self.pps.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.pps);
        out
    }

    /// Reads a record's first SPS and PPS.
    pub fn parse_record(record: &[u8]) -> Result<Self, AvcError> {
        let mut r = Reader(record);
        if r.take(1)?[0] != 1 {
            return Err(AvcError::Config("configurationVersion is not 1"));
        }
        r.take(3)?;
        let length_size = (r.take(1)?[0] & 3) as usize + 1;
        if length_size == 3 {
            return Err(AvcError::Config("a 3-byte NAL length is not allowed"));
        }
        if r.take(1)?[0] & 0x1F == 0 {
            return Err(AvcError::Config("no sequence parameter set"));
        }
        let sps = r.sized()?.to_vec();
        if r.take(1)?[0] == 0 {
            return Err(AvcError::Config("no picture parameter set"));
        }
        let pps = r.sized()?.to_vec();
        if sps.len() < 4 {
            return Err(AvcError::Config("sequence parameter set too short"));
        }
        Ok(Self {
            sps,
            pps,
            length_size,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AvcError> {
        if self.0.len() < n {
            return Err(AvcError::Config("record cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn sized(&mut self) -> Result<&'a [u8], AvcError> {
        let len = u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]]) as usize;
        self.take(len)
    }
}

/// An Annex B access unit as length-prefixed NAL units, leaving out the parameter sets (they
/// travel in the decoder configuration).
pub fn annexb_to_length_prefixed(access_unit: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(access_unit.len() + 8);
    for nal in annexb_nals(access_unit) {
        if nal.is_empty() || matches!(nal[0] & 0x1F, NAL_SPS | NAL_PPS) {
            continue;
        }
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// The NAL units of length-prefixed data; a length that runs past the end is an error.
pub fn length_prefixed_nals(
    data: &[u8],
    length_size: usize,
) -> impl Iterator<Item = Result<&[u8], AvcError>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < length_size {
            let left = rest.len();
            rest = &[];
            return Some(Err(AvcError::NalPastEnd { declared: 0, left }));
        }
        let declared = rest[..length_size]
            .iter()
            .fold(0usize, |n, b| (n << 8) | *b as usize);
        let body = &rest[length_size..];
        if declared > body.len() {
            let left = body.len();
            rest = &[];
            return Some(Err(AvcError::NalPastEnd { declared, left }));
        }
        let (nal, after) = body.split_at(declared);
        rest = after;
        Some(Ok(nal))
    })
}

/// Whether length-prefixed data holds an IDR slice.
pub fn has_idr(data: &[u8], length_size: usize) -> bool {
    length_prefixed_nals(data, length_size)
        .any(|nal| nal.is_ok_and(|n| n.first().is_some_and(|b| b & 0x1F == 5)))
}

/// Our marker in length-prefixed data, if a whole SEI carries it.
pub fn find_marker(data: &[u8], length_size: usize) -> Option<FrameMarker> {
    length_prefixed_nals(data, length_size)
        .map_while(Result::ok)
        .find_map(parse_sei_nal)
}

/// Length-prefixed data back to Annex B, with the parameter sets in front (for a decoder).
pub fn to_annexb(data: &[u8], config: &DecoderConfig, with_parameter_sets: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    if with_parameter_sets {
        for nal in [&config.sps, &config.pps] {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
    for nal in length_prefixed_nals(data, config.length_size).map_while(Result::ok) {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::marker::sei_nal;

    fn access_unit(marker: FrameMarker) -> Vec<u8> {
        let mut au = vec![
            0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F, 0xAA, 0, 0, 0, 1, 0x68, 0xCE,
        ];
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(&sei_nal(marker));
        au.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21]);
        au
    }

    #[test]
    fn a_key_frame_becomes_a_record_and_length_prefixed_slices_that_keep_the_marker() {
        let marker = FrameMarker {
            frame: 7,
            capture_us: 1_700_000_000_000_000,
        };
        let au = access_unit(marker);
        let config = DecoderConfig::from_annexb(&au).expect("parameter sets");
        let record = config.to_record();
        assert_eq!(&record[..4], &[1, 0x42, 0xC0, 0x1F]);
        assert_eq!(DecoderConfig::parse_record(&record), Ok(config.clone()));
        let data = annexb_to_length_prefixed(&au);
        assert!(has_idr(&data, 4));
        assert_eq!(find_marker(&data, 4), Some(marker));
        let back = to_annexb(&data, &config, true);
        assert_eq!(DecoderConfig::from_annexb(&back), Some(config));
        assert_eq!(crate::media::marker::find_sei_marker(&back), Some(marker));
    }

    #[test]
    fn cut_records_and_lengths_past_the_end_are_errors() {
        let config = DecoderConfig::from_annexb(&access_unit(FrameMarker {
            frame: 1,
            capture_us: 2,
        }))
        .unwrap();
        let record = config.to_record();
        for cut in 0..record.len() {
            assert!(
                DecoderConfig::parse_record(&record[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let nals: Vec<_> = length_prefixed_nals(&[0, 0, 0, 9, 1, 2], 4).collect();
        assert_eq!(
            nals,
            vec![Err(AvcError::NalPastEnd {
                declared: 9,
                left: 2
            })]
        );
    }
}
