//! RTP packets on the wire (RFC 3550) with the abs-capture-time header extension carried in the
//! RFC 8285 one-byte form. The WebRTC transport negotiates extension ids itself; the simulated
//! link uses the fixed id below.

use super::Micros;

pub const ABS_CAPTURE_TIME_ID: u8 = 7;
pub const VIDEO_PAYLOAD_TYPE: u8 = 102;
pub const AUDIO_PAYLOAD_TYPE: u8 = 111;
pub const VIDEO_CLOCK_RATE: u32 = 90_000;
pub const AUDIO_CLOCK_RATE: u32 = 48_000;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Capture instant (µs since the Unix epoch) from abs-capture-time, when present.
    pub abs_capture_us: Option<Micros>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet of {0} bytes is shorter than an RTP header")]
    TooShort(usize),
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    #[error("header extension or CSRC list runs past the end of the packet")]
    Truncated,
    #[error("padding length {0} is larger than the payload")]
    Padding(usize),
}

/// abs-capture-time's 64-bit NTP UQ32.32 form of a Unix-epoch microsecond instant.
pub fn micros_to_ntp(us: Micros) -> u64 {
    let secs = us / 1_000_000 + NTP_UNIX_OFFSET_SECS;
    let frac = ((us % 1_000_000) << 32) / 1_000_000;
    (secs << 32) | frac
}

pub fn ntp_to_micros(ntp: u64) -> Micros {
    let secs = (ntp >> 32).saturating_sub(NTP_UNIX_OFFSET_SECS);
    let frac_us = ((ntp & 0xFFFF_FFFF) * 1_000_000 + (1 << 31)) >> 32;
    secs * 1_000_000 + frac_us
}

impl RtpPacket {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + 12 + self.payload.len());
        let has_ext = self.abs_capture_us.is_some();
        out.push(0x80 | if has_ext { 0x10 } else { 0 });
        out.push((self.marker as u8) << 7 | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        if let Some(us) = self.abs_capture_us {
            out.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x03]); // 3 words follow
            out.push(ABS_CAPTURE_TIME_ID << 4 | 7); // 8 bytes of data
            out.extend_from_slice(&micros_to_ntp(us).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0]); // pad to a word
        }
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn parse(b: &[u8]) -> Result<Self, RtpError> {
        if b.len() < 12 {
            return Err(RtpError::TooShort(b.len()));
        }
        let version = b[0] >> 6;
        if version != 2 {
            return Err(RtpError::Version(version));
        }
        let padding = b[0] & 0x20 != 0;
        let has_ext = b[0] & 0x10 != 0;
        let csrc_count = (b[0] & 0x0F) as usize;
        let mut at = 12 + 4 * csrc_count;
        let mut abs_capture_us = None;
        if has_ext {
            let header = b.get(at..at + 4).ok_or(RtpError::Truncated)?;
            let profile = u16::from_be_bytes([header[0], header[1]]);
            let words = u16::from_be_bytes([header[2], header[3]]) as usize;
            let body = b
                .get(at + 4..at + 4 + words * 4)
                .ok_or(RtpError::Truncated)?;
            if profile == 0xBEDE {
                abs_capture_us = find_abs_capture_time(body);
            }
            at += 4 + words * 4;
        }
        let mut end = b.len();
        if padding {
            let pad = *b.last().ok_or(RtpError::Truncated)? as usize;
            if pad == 0 || at + pad > end {
                return Err(RtpError::Padding(pad));
            }
            end -= pad;
        }
        if at > end {
            return Err(RtpError::Truncated);
        }
        Ok(Self {
            payload_type: b[1] & 0x7F,
            marker: b[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([b[2], b[3]]),
            timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            abs_capture_us,
            payload: b[at..end].to_vec(),
        })
    }
}

/// The 64-bit sequence number nearest `highest` whose low 16 bits are `seq`.
pub fn extend_seq(highest: u64, seq: u16) -> u64 {
    let delta = seq.wrapping_sub(highest as u16) as i16 as i64;
    (highest as i64 + delta).max(0) as u64
}

/// The length of an RTP packet's header: fixed part, CSRCs and header extension; None when
/// the packet is shorter than its header says.
pub fn header_len(packet: &[u8]) -> Option<usize> {
    let first = *packet.first()?;
    let mut len = 12 + 4 * usize::from(first & 0x0F);
    if first & 0x10 != 0 {
        let words = packet.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (len <= packet.len()).then_some(len)
}

fn find_abs_capture_time(body: &[u8]) -> Option<Micros> {
    let (_, data) =
        one_byte_elements(body).find(|(id, d)| *id == ABS_CAPTURE_TIME_ID && d.len() >= 8)?;
    Some(ntp_to_micros(u64::from_be_bytes(
        data[..8].try_into().ok()?,
    )))
}

/// The elements (id, data) of a one-byte header extension block (RFC 8285), padding skipped,
/// up to the end of the block or the first malformed element.
fn one_byte_elements(mut body: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || loop {
        let (&first, rest) = body.split_first()?;
        if first == 0 {
            body = rest; // padding byte
            continue;
        }
        let (id, len) = (first >> 4, (first & 0x0F) as usize + 1);
        if id == 15 {
            return None;
        }
        let data = rest.get(..len)?;
        body = &rest[len..];
        return Some((id, data));
    })
}

/// The data of one-byte header extension `id` in a whole RTP packet, if it carries one.
pub fn one_byte_extension(packet: &[u8], id: u8) -> Option<&[u8]> {
    if packet.first()? & 0x10 == 0 {
        return None;
    }
    let start = 12 + 4 * usize::from(packet[0] & 0x0F);
    let header = packet.get(start..start + 4)?;
    if header[..2] != [0xBE, 0xDE] {
        return None;
    }
    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let block = packet.get(start + 4..start + 4 + 4 * words)?;
    one_byte_elements(block)
        .find(|(this, _)| *this == id)
        .map(|(_, data)| data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_with_and_without_capture_time() {
        let mut p = RtpPacket {
            payload_type: VIDEO_PAYLOAD_TYPE,
            marker: true,
            sequence: 65_535,
            timestamp: 0xFFFF_FFF0,
            ssrc: 0x1234_5678,
            abs_capture_us: Some(1_764_111_222_333_444),
            payload: vec![0x7C, 0x85, 1, 2, 3],
        };
        assert_eq!(RtpPacket::parse(&p.to_bytes()).unwrap(), p);
        p.abs_capture_us = None;
        assert_eq!(RtpPacket::parse(&p.to_bytes()).unwrap(), p);
    }

    #[test]
    fn ntp_conversion_keeps_microseconds() {
        for us in [0, 1, 999_999, 1_764_111_222_333_444] {
            assert_eq!(ntp_to_micros(micros_to_ntp(us)), us);
        }
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        assert_eq!(RtpPacket::parse(&[0x80; 5]), Err(RtpError::TooShort(5)));
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(RtpError::Version(1)));
        let mut p = vec![0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 9];
        assert_eq!(RtpPacket::parse(&p), Err(RtpError::Truncated));
        p = vec![0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 200];
        assert_eq!(RtpPacket::parse(&p), Err(RtpError::Padding(200)));
    }
}
