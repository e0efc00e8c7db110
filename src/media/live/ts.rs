//! MPEG-2 transport stream (ISO/IEC 13818-1) as HLS carries H.264: a PAT and a PMT at the start
//! of every segment, then each access unit as one PES with its PTS and DTS on a 90 kHz clock.
//! The muxer writes what a packager writes; the demuxer takes any packager's segment (it finds
//! the H.264 stream through the PMT) and is bounded in what it holds.

const PACKET: usize = 188;
const SYNC: u8 = 0x47;
const PID_PAT: u16 = 0;
const PID_PMT: u16 = 0x1000;
pub const PID_VIDEO: u16 = 0x100;
const STREAM_TYPE_H264: u8 = 0x1B;
const AUD: [u8; 6] = [0, 0, 0, 1, 0x09, 0xF0];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    #[error("byte {offset}: lost sync (0x{found:02x} where a packet starts with 0x47)")]
    Sync { offset: usize, found: u8 },
    #[error("{0} bytes is not a whole number of 188-byte packets")]
    Length(usize),
    #[error("byte {offset}: {what}")]
    Malformed { offset: usize, what: &'static str },
    #[error("a PES of more than {0} bytes")]
    PesTooLarge(usize),
    #[error("no H.264 stream in the PMT")]
    NoVideo,
}

/// One access unit: Annex B bytes with their presentation and decode times (90 kHz).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsFrame {
    pub pts: u64,
    pub dts: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Writes segments of one H.264 stream; continuity counters run on across segments.
#[derive(Debug, Default)]
pub struct Muxer {
    counters: [u8; 3],
}

impl Muxer {
    /// PAT and PMT, which open every segment so each can be played alone.
    pub fn tables(&mut self, out: &mut Vec<u8>) {
        let pat = psi(
            0x00,
            1,
            &[0x00, 0x01, 0xE0 | (PID_PMT >> 8) as u8, PID_PMT as u8],
        );
        let mut pmt_body = vec![0xE0 | (PID_VIDEO >> 8) as u8, PID_VIDEO as u8, 0xF0, 0x00];
        pmt_body.extend_from_slice(&[
            STREAM_TYPE_H264,
            0xE0 | (PID_VIDEO >> 8) as u8,
            PID_VIDEO as u8,
            0xF0,
            0x00,
        ]);
        let pmt = psi(0x02, 1, &pmt_body);
        self.packetise(PID_PAT, &pat, None, out);
        self.packetise(PID_PMT, &pmt, None, out);
    }

    /// One access unit as a PES; a key frame carries the PCR and the random-access flag.
    pub fn frame(&mut self, frame: &TsFrame, out: &mut Vec<u8>) {
        let mut pes = vec![0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 10];
        pes.extend_from_slice(&timestamp(0x3, frame.pts));
        pes.extend_from_slice(&timestamp(0x1, frame.dts));
        pes.extend_from_slice(&AUD);
        pes.extend_from_slice(&frame.data);
        let pcr = frame.keyframe.then_some(frame.dts);
        self.packetise(PID_VIDEO, &pes, pcr, out);
    }

    fn counter(&mut self, pid: u16) -> u8 {
        let slot = match pid {
            PID_PAT => 0,
            PID_PMT => 1,
            _ => 2,
        };
        let c = self.counters[slot];
        self.counters[slot] = (c + 1) & 0x0F;
        c
    }

    fn packetise(&mut self, pid: u16, payload: &[u8], pcr: Option<u64>, out: &mut Vec<u8>) {
        let mut rest = payload;
        let mut first = true;
        while !rest.is_empty() || first {
            let mut adaptation = Vec::new();
            if let Some(pcr) = pcr.filter(|_| first) {
                adaptation.push(0x50); // random access, PCR
                let base = pcr & 0x1_FFFF_FFFF;
                adaptation.extend_from_slice(&[
                    (base >> 25) as u8,
                    (base >> 17) as u8,
                    (base >> 9) as u8,
                    (base >> 1) as u8,
                    ((base & 1) << 7) as u8 | 0x7E,
                    0,
                ]);
            }
            let header_room = 4 + if adaptation.is_empty() {
                0
            } else {
                1 + adaptation.len()
            };
            let take = rest.len().min(PACKET - header_room);
            let stuffing = PACKET - header_room - take;
            if stuffing > 0 && adaptation.is_empty() {
                // The adaptation field's own length byte takes one of the stuffing bytes.
                if stuffing > 1 {
                    adaptation.push(0x00);
                    adaptation.resize(stuffing - 1, 0xFF);
                }
            } else {
                adaptation.resize(adaptation.len() + stuffing, 0xFF);
            }
            let has_adaptation = !adaptation.is_empty() || stuffing == 1;
            let start = out.len();
            out.push(SYNC);
            out.push(if first { 0x40 } else { 0 } | (pid >> 8) as u8 & 0x1F);
            out.push(pid as u8);
            let control = if has_adaptation { 0x30 } else { 0x10 };
            out.push(control | self.counter(pid));
            if has_adaptation {
                out.push(adaptation.len() as u8);
                out.extend_from_slice(&adaptation);
            }
            out.extend_from_slice(&rest[..take]);
            debug_assert_eq!(out.len() - start, PACKET);
            rest = &rest[take..];
            first = false;
        }
    }
}

/// A PSI section with pointer field, table header and CRC.
fn psi(table_id: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let length = 5 + body.len() + 4;
    let mut section = vec![table_id, 0xB0 | (length >> 8) as u8, length as u8];
    section.extend_from_slice(&[(id >> 8) as u8, id as u8, 0xC1, 0, 0]);
    section.extend_from_slice(body);
    let crc = crc32_mpeg(&section);
    section.extend_from_slice(&crc.to_be_bytes());
    let mut out = vec![0];
    out.extend_from_slice(&section);
    out
}

fn crc32_mpeg(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= (byte as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    let ts = ts & 0x1_FFFF_FFFF;
    [
        (prefix << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1,
        (ts >> 22) as u8,
        (((ts >> 15) as u8) << 1) | 1,
        (ts >> 7) as u8,
        ((ts as u8) << 1) | 1,
    ]
}

fn read_timestamp(b: &[u8]) -> u64 {
    (((b[0] >> 1) & 0x07) as u64) << 30
        | (b[1] as u64) << 22
        | ((b[2] >> 1) as u64) << 15
        | (b[3] as u64) << 7
        | (b[4] >> 1) as u64
}

/// Where a stream's tables put its H.264, remembered across segments and parts (an LL-HLS part
/// need not repeat the tables).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pids {
    pmt: Option<u16>,
    video: Option<u16>,
}

/// The H.264 access units of a whole segment, in order.
pub fn demux(segment: &[u8], max_pes_bytes: usize) -> Result<Vec<TsFrame>, TsError> {
    demux_with(segment, max_pes_bytes, &mut Pids::default())
}

/// As [`demux`], with the tables of earlier segments of the same stream.
pub fn demux_with(
    segment: &[u8],
    max_pes_bytes: usize,
    pids: &mut Pids,
) -> Result<Vec<TsFrame>, TsError> {
    if segment.len() % PACKET != 0 {
        return Err(TsError::Length(segment.len()));
    }
    let Pids {
        pmt: mut pmt_pid,
        video: mut video_pid,
    } = *pids;
    let mut pes: Option<(usize, Vec<u8>, bool)> = None;
    let mut frames = Vec::new();
    for (index, packet) in segment.chunks_exact(PACKET).enumerate() {
        let offset = index * PACKET;
        if packet[0] != SYNC {
            return Err(TsError::Sync {
                offset,
                found: packet[0],
            });
        }
        let start = packet[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([packet[1] & 0x1F, packet[2]]);
        let control = (packet[3] >> 4) & 0x03;
        let mut at = 4;
        let mut random_access = false;
        if control & 0x2 != 0 {
            let len = packet[4] as usize;
            if 5 + len > PACKET {
                return Err(TsError::Malformed {
                    offset,
                    what: "adaptation field longer than the packet",
                });
            }
            random_access = len > 0 && packet[5] & 0x40 != 0;
            at = 5 + len;
        }
        if control & 0x1 == 0 {
            continue;
        }
        let payload = &packet[at..];
        if pid == PID_PAT && start {
            pmt_pid = Some(read_pat(payload).ok_or(TsError::Malformed {
                offset,
                what: "PAT",
            })?);
        } else if Some(pid) == pmt_pid && start {
            video_pid = read_pmt(payload).ok_or(TsError::Malformed {
                offset,
                what: "PMT",
            })?;
        } else if Some(pid) == video_pid {
            if start {
                if let Some((at, bytes, key)) = pes.take() {
                    frames.push(read_pes(&bytes, key).ok_or(TsError::Malformed {
                        offset: at,
                        what: "PES header",
                    })?);
                }
                pes = Some((offset, Vec::new(), random_access));
            }
            if let Some((_, bytes, _)) = pes.as_mut() {
                if bytes.len() + payload.len() > max_pes_bytes {
                    return Err(TsError::PesTooLarge(max_pes_bytes));
                }
                bytes.extend_from_slice(payload);
            }
        }
    }
    if let Some((at, bytes, key)) = pes {
        frames.push(read_pes(&bytes, key).ok_or(TsError::Malformed {
            offset: at,
            what: "PES header",
        })?);
    }
    if video_pid.is_none() && !segment.is_empty() {
        return Err(TsError::NoVideo);
    }
    *pids = Pids {
        pmt: pmt_pid,
        video: video_pid,
    };
    Ok(frames)
}

fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = *payload.first()? as usize;
    let section = payload.get(1 + pointer..)?;
    let length = (u16::from_be_bytes([*section.get(1)?, *section.get(2)?]) & 0x0FFF) as usize;
    // The table header (8 bytes) and the CRC (4) at least.
    let whole = section.get(..3 + length).filter(|w| w.len() >= 12)?;
    let (body, crc) = whole.split_at(whole.len() - 4);
    let crc = u32::from_be_bytes(crc.try_into().ok()?);
    (crc32_mpeg(body) == crc).then_some(&body[8..])
}

fn read_pat(payload: &[u8]) -> Option<u16> {
    section(payload)?
        .chunks_exact(4)
        .find(|entry| u16::from_be_bytes([entry[0], entry[1]]) != 0)
        .map(|entry| u16::from_be_bytes([entry[2] & 0x1F, entry[3]]))
}

/// The H.264 elementary PID of a PMT, `Some(None)` if it has none.
fn read_pmt(payload: &[u8]) -> Option<Option<u16>> {
    let body = section(payload)?;
    let info_len = (u16::from_be_bytes([*body.get(2)?, *body.get(3)?]) & 0x0FFF) as usize;
    let mut streams = body.get(4 + info_len..)?;
    while streams.len() >= 5 {
        let kind = streams[0];
        let pid = u16::from_be_bytes([streams[1] & 0x1F, streams[2]]);
        let es_len = (u16::from_be_bytes([streams[3], streams[4]]) & 0x0FFF) as usize;
        if kind == STREAM_TYPE_H264 {
            return Some(Some(pid));
        }
        streams = streams.get(5 + es_len..)?;
    }
    Some(None)
}

fn read_pes(bytes: &[u8], random_access: bool) -> Option<TsFrame> {
    if bytes.get(..3)? != [0, 0, 1] {
        return None;
    }
    let flags = *bytes.get(7)?;
    let header_len = *bytes.get(8)? as usize;
    let data = bytes.get(9 + header_len..)?;
    let pts = (flags & 0x80 != 0)
        .then(|| bytes.get(9..14).map(read_timestamp))
        .flatten()?;
    let dts = if flags & 0x40 != 0 {
        read_timestamp(bytes.get(14..19)?)
    } else {
        pts
    };
    let keyframe = random_access || crate::media::marker::first_slice_kind(data) == Some(5);
    Some(TsFrame {
        pts,
        dts,
        keyframe,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<TsFrame> {
        (0..5u64)
            .map(|i| TsFrame {
                pts: 8_589_934_000 + 3_000 * i,
                dts: 8_589_934_000 + 3_000 * i,
                keyframe: i == 0,
                data: {
                    let mut d = vec![0, 0, 0, 1, if i == 0 { 0x65 } else { 0x41 }];
                    d.resize(5 + 37 * i as usize * i as usize, i as u8 + 1);
                    d
                },
            })
            .collect()
    }

    #[test]
    fn a_segment_round_trips_with_padding_of_every_length() {
        let mut muxer = Muxer::default();
        let mut out = Vec::new();
        muxer.tables(&mut out);
        for f in frames() {
            muxer.frame(&f, &mut out);
        }
        assert_eq!(out.len() % PACKET, 0);
        let back = demux(&out, 1 << 20).expect("demux");
        assert_eq!(back.len(), 5);
        for (got, want) in back.iter().zip(frames()) {
            assert_eq!(got.pts, want.pts & 0x1_FFFF_FFFF);
            assert_eq!(got.keyframe, want.keyframe);
            assert_eq!(&got.data[AUD.len()..], &want.data[..]);
        }
    }

    #[test]
    fn damaged_segments_are_errors_with_the_offset() {
        let mut muxer = Muxer::default();
        let mut out = Vec::new();
        muxer.tables(&mut out);
        for f in frames() {
            muxer.frame(&f, &mut out);
        }
        assert_eq!(
            demux(&out[..out.len() - 1], 1 << 20),
            Err(TsError::Length(out.len() - 1))
        );
        let mut bad = out.clone();
        bad[3 * PACKET] = 0;
        assert_eq!(
            demux(&bad, 1 << 20),
            Err(TsError::Sync {
                offset: 3 * PACKET,
                found: 0
            })
        );
        assert_eq!(demux(&out, 100), Err(TsError::PesTooLarge(100)));
        let mut crc = out.clone();
        crc[2 * PACKET - 8] ^= 0xFF;
        assert!(matches!(
            demux(&crc, 1 << 20),
            Err(TsError::Malformed { what: "PMT", .. })
        ));
    }
}
