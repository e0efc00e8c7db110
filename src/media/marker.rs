//! The frame marker: frame number and capture time, carried two ways.
//!
//! * In pixels: a strip of black/white blocks across the top of the picture that survives
//!   lossy coding, transcoding and scaling (the block size follows the picture width).
//! * In-band without decoding: an H.264 SEI "user data unregistered" NAL unit, which decoders
//!   skip and forwarding servers pass untouched.

use super::frame::I420Frame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMarker {
    pub frame: u32,
    /// Capture instant, microseconds on the sender's media clock.
    pub capture_us: u64,
}

impl FrameMarker {
    /// The capture time of a frame played from a clip: whoever plays it does not tell us when.
    pub const CAPTURE_UNKNOWN: u64 = u64::MAX;
}

const BLOCKS_PER_ROW: usize = 80;
const ROWS: usize = 2;
const SYNC_HEAD: u16 = 0xB4C3;
const SYNC_TAIL: u16 = 0x4B3C;
const LEVEL_ONE: u8 = 224;
const LEVEL_ZERO: u8 = 32;

/// Block edge in pixels for a picture `width` wide.
pub fn block_size(width: usize) -> usize {
    (width / BLOCKS_PER_ROW).max(2)
}

/// Picture rows the pixel marker covers; quality metrics leave them out.
pub fn strip_height(width: usize) -> usize {
    block_size(width) * ROWS
}

fn bits_of(marker: FrameMarker) -> [bool; BLOCKS_PER_ROW * ROWS] {
    let mut payload = [0u8; 12];
    payload[..4].copy_from_slice(&marker.frame.to_be_bytes());
    payload[4..].copy_from_slice(&marker.capture_us.to_be_bytes());
    let crc = crc32fast::hash(&payload);
    let mut bytes = Vec::with_capacity(20);
    bytes.extend_from_slice(&SYNC_HEAD.to_be_bytes());
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes.extend_from_slice(&SYNC_TAIL.to_be_bytes());
    let mut bits = [false; BLOCKS_PER_ROW * ROWS];
    for (i, bit) in bits.iter_mut().enumerate() {
        *bit = bytes[i / 8] >> (7 - i % 8) & 1 == 1;
    }
    bits
}

/// Draws the marker over the top rows of `frame`.
pub fn draw_pixel_marker(frame: &mut I420Frame, marker: FrameMarker) {
    let block = block_size(frame.width);
    let bits = bits_of(marker);
    for row in 0..ROWS * block {
        let bit_row = row / block;
        for x in 0..frame.width {
            let col = x / block;
            let level = if col < BLOCKS_PER_ROW && bits[bit_row * BLOCKS_PER_ROW + col] {
                LEVEL_ONE
            } else {
                LEVEL_ZERO
            };
            frame.y[row * frame.width + x] = level;
        }
    }
    let cw = frame.width / 2;
    for row in 0..(ROWS * block) / 2 {
        frame.u[row * cw..(row + 1) * cw].fill(128);
        frame.v[row * cw..(row + 1) * cw].fill(128);
    }
}

/// Reads the pixel marker; `None` when the strip is missing or damaged (checked by CRC).
pub fn read_pixel_marker(frame: &I420Frame) -> Option<FrameMarker> {
    let block = block_size(frame.width);
    if frame.height < ROWS * block || frame.width < BLOCKS_PER_ROW * block {
        return None;
    }
    // Sample the centre of each block, away from edges that coding smears.
    let inset = block / 4;
    let threshold = (LEVEL_ONE as u32 + LEVEL_ZERO as u32) / 2;
    let mut bytes = [0u8; 20];
    for i in 0..BLOCKS_PER_ROW * ROWS {
        let (by, bx) = (i / BLOCKS_PER_ROW * block, i % BLOCKS_PER_ROW * block);
        let (mut sum, mut count) = (0u32, 0u32);
        for y in by + inset..by + block - inset {
            for x in bx + inset..bx + block - inset {
                sum += frame.y[y * frame.width + x] as u32;
                count += 1;
            }
        }
        if sum > threshold * count.max(1) {
            bytes[i / 8] |= 1 << (7 - i % 8);
        }
    }
    let head = u16::from_be_bytes([bytes[0], bytes[1]]);
    let tail = u16::from_be_bytes([bytes[18], bytes[19]]);
    let crc = u32::from_be_bytes(bytes[14..18].try_into().ok()?);
    if head != SYNC_HEAD || tail != SYNC_TAIL || crc32fast::hash(&bytes[2..14]) != crc {
        return None;
    }
    Some(FrameMarker {
        frame: u32::from_be_bytes(bytes[2..6].try_into().ok()?),
        capture_us: u64::from_be_bytes(bytes[6..14].try_into().ok()?),
    })
}

/// Identifies our SEI payload among any others a server or encoder adds.
pub const SEI_UUID: [u8; 16] = *b"rtcbench:marker1";
const NAL_SEI: u8 = 6;
const SEI_USER_DATA_UNREGISTERED: u8 = 5;

/// The SEI NAL unit (without start code) that carries `marker`.
pub fn sei_nal(marker: FrameMarker) -> Vec<u8> {
    let mut rbsp = Vec::with_capacity(32);
    rbsp.push(SEI_USER_DATA_UNREGISTERED);
    rbsp.push(28); // payload size: uuid + frame + capture time
    rbsp.extend_from_slice(&SEI_UUID);
    rbsp.extend_from_slice(&marker.frame.to_be_bytes());
    rbsp.extend_from_slice(&marker.capture_us.to_be_bytes());
    rbsp.push(0x80); // rbsp trailing bits
    let mut nal = vec![NAL_SEI];
    add_emulation_prevention(&rbsp, &mut nal);
    nal
}

/// Finds our marker in an SEI NAL unit (without start code); other SEI messages are skipped.
pub fn parse_sei_nal(nal: &[u8]) -> Option<FrameMarker> {
    if nal.first()? & 0x1F != NAL_SEI {
        return None;
    }
    let rbsp = remove_emulation_prevention(&nal[1..]);
    let mut at = 0;
    while at < rbsp.len() && rbsp[at] != 0x80 {
        let (kind, next) = read_sei_number(&rbsp, at)?;
        let (size, next) = read_sei_number(&rbsp, next)?;
        let body = rbsp.get(next..next + size)?;
        if kind == SEI_USER_DATA_UNREGISTERED as usize && size >= 28 && body[..16] == SEI_UUID {
            return Some(FrameMarker {
                frame: u32::from_be_bytes(body[16..20].try_into().ok()?),
                capture_us: u64::from_be_bytes(body[20..28].try_into().ok()?),
            });
        }
        at = next + size;
    }
    None
}

fn read_sei_number(b: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    loop {
        let byte = *b.get(at)?;
        at += 1;
        value += byte as usize;
        if byte != 0xFF {
            return Some((value, at));
        }
    }
}

fn add_emulation_prevention(rbsp: &[u8], out: &mut Vec<u8>) {
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
}

fn remove_emulation_prevention(ebsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ebsp.len());
    let mut zeros = 0;
    for &b in ebsp {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// Splits an Annex B byte stream into NAL units without their start codes.
pub fn annexb_nals(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    openh264::nal_units(stream).map(|unit| {
        let start = unit
            .iter()
            .position(|&b| b != 0)
            .map(|p| p + 1)
            .unwrap_or(unit.len());
        let body = &unit[start.min(unit.len())..];
        // The next unit's leading zero bytes belong to its start code, not to this NAL.
        let end = body.len() - body.iter().rev().take_while(|&&b| b == 0).count();
        &body[..end]
    })
}

/// The type of the first slice NAL (1: non-IDR, 5: IDR) of an Annex B access unit, read without
/// walking the slice itself: only the bytes up to its start code are scanned (the parameter
/// sets and SEI before it), where finding whole NAL units would scan the entire frame.
pub fn first_slice_kind(stream: &[u8]) -> Option<u8> {
    let mut zeros = 0;
    for (i, &b) in stream.iter().enumerate() {
        if b == 1 && zeros >= 2 {
            let kind = stream.get(i + 1)? & 0x1F;
            if kind == 1 || kind == 5 {
                return Some(kind);
            }
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    None
}

/// The marker carried in an Annex B access unit's SEI, if any.
pub fn find_sei_marker(access_unit: &[u8]) -> Option<FrameMarker> {
    annexb_nals(access_unit).find_map(parse_sei_nal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::source::VideoSource;

    #[test]
    fn pixel_marker_round_trips_on_a_clean_picture() {
        let mut f = VideoSource::new(3, 640, 360).frame(5);
        let m = FrameMarker {
            frame: 0xDEAD_BEEF,
            capture_us: 1_764_000_000_123_456,
        };
        draw_pixel_marker(&mut f, m);
        assert_eq!(read_pixel_marker(&f), Some(m));
    }

    #[test]
    fn a_damaged_pixel_marker_is_rejected_not_misread() {
        let mut f = VideoSource::new(3, 640, 360).frame(5);
        draw_pixel_marker(
            &mut f,
            FrameMarker {
                frame: 9,
                capture_us: 99,
            },
        );
        let block = block_size(640);
        for y in 0..block {
            for x in 40 * block..41 * block {
                f.y[y * 640 + x] = 255 - f.y[y * 640 + x];
            }
        }
        assert_eq!(read_pixel_marker(&f), None);
    }

    #[test]
    fn sei_round_trips_with_emulation_prevention() {
        // Zero bytes in the payload force emulation prevention bytes.
        let m = FrameMarker {
            frame: 0,
            capture_us: 0x0000_0001_0000_0000,
        };
        let nal = sei_nal(m);
        assert!(nal
            .windows(3)
            .all(|w| !(w[0] == 0 && w[1] == 0 && w[2] <= 2)));
        assert!(
            nal.windows(3).any(|w| w == [0, 0, 3]),
            "the payload needed escaping"
        );
        assert_eq!(parse_sei_nal(&nal), Some(m));
        let mut au = vec![0, 0, 0, 1, 0x67, 1, 2, 3, 0, 0, 1];
        au.extend_from_slice(&nal);
        au.extend_from_slice(&[0, 0, 0, 1, 0x65, 9, 9]);
        assert_eq!(find_sei_marker(&au), Some(m));
        assert_eq!(first_slice_kind(&au), Some(5));
        let p_frame: Vec<u8> = [&au[..au.len() - 3], &[0x41, 9, 9]].concat();
        assert_eq!(first_slice_kind(&p_frame), Some(1));
        assert_eq!(first_slice_kind(&au[..11]), None, "parameter sets only");
    }
}
