//! The RTCP a light viewer sends back, as a browser sends it: receiver reports with the
//! viewer's CNAME (RFC 3550), generic NACKs (RFC 4585), picture loss indications, and
//! transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions),
//! which servers use to pace and pick layers for each viewer. Writers only: bytes out, before
//! SRTCP protects them.

const VERSION: u8 = 0x80;
const PADDING: u8 = 0x20;
const RECEIVER_REPORT: u8 = 201;
const SOURCE_DESCRIPTION: u8 = 202;
const TRANSPORT_FEEDBACK: u8 = 205;
const PAYLOAD_FEEDBACK: u8 = 206;
const NACK_FORMAT: u8 = 1;
const TWCC_FORMAT: u8 = 15;
const PLI_FORMAT: u8 = 1;
const SDES_CNAME: u8 = 1;

/// At most 31 report blocks fit one receiver report (a 5-bit count).
pub const MAX_REPORT_BLOCKS: usize = 31;

/// TWCC's receive deltas count in 250 µs.
const TWCC_TICK_US: i64 = 250;
/// TWCC's reference time counts in 64 ms.
const TWCC_REFERENCE_US: i64 = 64_000;
/// A run-length chunk holds up to 13 bits of run.
const MAX_RUN: usize = 0x1FFF;

/// What a receiver report says of one incoming stream (RFC 3550 section 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Share of packets lost since the last report, in 256ths.
    pub fraction_lost: u8,
    /// Packets lost since the start, 24 bits, signed.
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// The middle 32 bits of the NTP time of the last sender report, 0 if none came.
    pub last_sr: u32,
    /// Since that sender report, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// Appends a receiver report with up to [`MAX_REPORT_BLOCKS`] blocks, then a source
/// description with the viewer's CNAME: the compound packet RFC 3550 asks for.
pub fn write_receiver_report(sender: u32, blocks: &[ReportBlock], cname: &str, out: &mut Vec<u8>) {
    let blocks = &blocks[..blocks.len().min(MAX_REPORT_BLOCKS)];
    let words = 2 + 6 * blocks.len();
    push_header(out, blocks.len() as u8, RECEIVER_REPORT, words);
    out.extend_from_slice(&sender.to_be_bytes());
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0xFF_FFFF;
        out.extend_from_slice(&((u32::from(b.fraction_lost) << 24) | lost).to_be_bytes());
        for field in [
            b.extended_highest_seq,
            b.jitter,
            b.last_sr,
            b.delay_since_last_sr,
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
    }
    write_cname(sender, cname, out);
}

/// One SDES chunk with the CNAME, ended and padded to a word as RFC 3550 section 6.5 says.
fn write_cname(sender: u32, cname: &str, out: &mut Vec<u8>) {
    let name = &cname.as_bytes()[..cname.len().min(255)];
    // SSRC, type, length, the name, then at least one zero byte to end the item list.
    let body = 4 + 2 + name.len() + 1;
    let words = 1 + body.div_ceil(4);
    push_header(out, 1, SOURCE_DESCRIPTION, words);
    let start = out.len();
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&[SDES_CNAME, name.len() as u8]);
    out.extend_from_slice(name);
    out.resize(start + (words - 1) * 4, 0);
}

/// Appends generic NACKs for `missing` (sequence numbers, in the order they were missed): one
/// entry for each packet ID and the 16 after it.
pub fn write_nack(sender: u32, media: u32, missing: &[u16], out: &mut Vec<u8>) {
    let mut entries: Vec<(u16, u16)> = Vec::new();
    for &seq in missing {
        let covered = entries.iter_mut().find_map(|(pid, blp)| {
            let offset = seq.wrapping_sub(*pid);
            (1..=16)
                .contains(&offset)
                .then(|| *blp |= 1 << (offset - 1))
        });
        if covered.is_none() && !entries.iter().any(|(pid, _)| *pid == seq) {
            entries.push((seq, 0));
        }
    }
    if entries.is_empty() {
        return;
    }
    push_header(out, NACK_FORMAT, TRANSPORT_FEEDBACK, 3 + entries.len());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&media.to_be_bytes());
    for (pid, blp) in entries {
        out.extend_from_slice(&pid.to_be_bytes());
        out.extend_from_slice(&blp.to_be_bytes());
    }
}

/// Appends a picture loss indication: a key frame, please.
pub fn write_pli(sender: u32, media: u32, out: &mut Vec<u8>) {
    push_header(out, PLI_FORMAT, PAYLOAD_FEEDBACK, 3);
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&media.to_be_bytes());
}

/// The packets one TWCC feedback reports: from `base_seq` on, each one's arrival in µs on the
/// viewer's clock, or `None` if it has not arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwccReport {
    pub base_seq: u16,
    pub arrivals: Vec<Option<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    NotReceived = 0,
    Small = 1,
    Large = 2,
}

impl TwccReport {
    /// Appends the feedback, padded to a word (padding bit set, the last byte its length, as
    /// libwebrtc writes it). Arrivals must not go back more than 8.19 s from one to the next,
    /// which a report of 100 ms of packets never does; a larger step is written as the
    /// largest a delta holds.
    pub fn write(&self, sender: u32, media: u32, feedback_count: u8, out: &mut Vec<u8>) {
        let Some(first) = self.arrivals.iter().flatten().next() else {
            return;
        };
        let reference = *first as i64 / TWCC_REFERENCE_US;
        let mut previous_ticks = reference * TWCC_REFERENCE_US / TWCC_TICK_US;
        let mut statuses = Vec::with_capacity(self.arrivals.len());
        let mut deltas = Vec::with_capacity(self.arrivals.len() * 2);
        for arrival in &self.arrivals {
            let Some(at) = arrival else {
                statuses.push(Status::NotReceived);
                continue;
            };
            let ticks = *at as i64 / TWCC_TICK_US;
            let delta = ticks - previous_ticks;
            previous_ticks = ticks;
            match u8::try_from(delta) {
                Ok(small) => {
                    statuses.push(Status::Small);
                    deltas.push(small);
                }
                Err(_) => {
                    statuses.push(Status::Large);
                    let large = delta.clamp(i16::MIN.into(), i16::MAX.into()) as i16;
                    deltas.extend_from_slice(&large.to_be_bytes());
                }
            }
        }
        let chunks = chunks(&statuses);
        let body = 8 + 8 + 2 * chunks.len() + deltas.len();
        let padding = (4 - body % 4) % 4;
        let start = out.len();
        push_header(
            out,
            TWCC_FORMAT,
            TRANSPORT_FEEDBACK,
            1 + (body + padding) / 4,
        );
        out.extend_from_slice(&sender.to_be_bytes());
        out.extend_from_slice(&media.to_be_bytes());
        out.extend_from_slice(&self.base_seq.to_be_bytes());
        out.extend_from_slice(&(statuses.len() as u16).to_be_bytes());
        let reference = ((reference as u32) & 0xFF_FFFF) << 8;
        out.extend_from_slice(&(reference | u32::from(feedback_count)).to_be_bytes());
        for chunk in chunks {
            out.extend_from_slice(&chunk.to_be_bytes());
        }
        out.extend_from_slice(&deltas);
        if padding > 0 {
            out[start] |= PADDING;
            out.resize(out.len() + padding - 1, 0);
            out.push(padding as u8);
        }
    }
}

/// Most packets a [`TwccRecorder`] holds unreported; a jump in sequence numbers past this
/// gives up the oldest rather than growing.
const MAX_UNREPORTED: u64 = 8192;

/// Collects arrivals by transport-wide sequence number between feedbacks, as a browser's
/// receiver does, for a report every interval the caller keeps (50 to 100 ms in browsers).
#[derive(Debug, Default)]
pub struct TwccRecorder {
    /// The first sequence number (extended to 64 bits) not yet reported.
    next_report: Option<u64>,
    highest: u64,
    arrivals: std::collections::VecDeque<Option<u64>>,
    feedback_count: u8,
}

impl TwccRecorder {
    /// Notes a packet's arrival. One older than the last report is left out, as it was
    /// reported lost already.
    pub fn on_packet(&mut self, seq: u16, arrival_us: u64) {
        let extended = match self.next_report {
            None => {
                let first = (1 << 16) + u64::from(seq);
                self.next_report = Some(first);
                self.highest = first;
                first
            }
            Some(_) => crate::media::rtp::extend_seq(self.highest, seq),
        };
        let Some(mut base) = self.next_report else {
            return;
        };
        if extended < base {
            return;
        }
        if extended >= base + MAX_UNREPORTED {
            let skip = (extended + 1 - MAX_UNREPORTED - base).min(self.arrivals.len() as u64);
            self.arrivals.drain(..skip as usize);
            base = extended + 1 - MAX_UNREPORTED;
            self.next_report = Some(base);
        }
        let slot = (extended - base) as usize;
        if slot >= self.arrivals.len() {
            self.arrivals.resize(slot + 1, None);
        }
        self.arrivals[slot] = Some(arrival_us);
        self.highest = self.highest.max(extended);
    }

    /// Everything since the last report, and the feedback count to write it with; None if no
    /// packet came since.
    pub fn take_report(&mut self) -> Option<(TwccReport, u8)> {
        let base = self.next_report?;
        if self.arrivals.is_empty() {
            return None;
        }
        let arrivals: Vec<_> = self.arrivals.drain(..).collect();
        self.next_report = Some(base + arrivals.len() as u64);
        let count = self.feedback_count;
        self.feedback_count = self.feedback_count.wrapping_add(1);
        let report = TwccReport {
            base_seq: base as u16,
            arrivals,
        };
        Some((report, count))
    }
}

/// Packet status chunks: a run-length chunk where seven or more statuses repeat, else a
/// vector of 14 one-bit statuses, or of 7 two-bit ones where a large delta is among them.
/// A vector's unused places say "not received", past the status count.
fn chunks(statuses: &[Status]) -> Vec<u16> {
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < statuses.len() {
        let run = statuses[i..]
            .iter()
            .take_while(|s| **s == statuses[i])
            .take(MAX_RUN)
            .count();
        if run >= 7 || i + run == statuses.len() && run > 1 {
            chunks.push(((statuses[i] as u16) << 13) | run as u16);
            i += run;
            continue;
        }
        let fourteen = &statuses[i..statuses.len().min(i + 14)];
        if fourteen.iter().all(|s| *s != Status::Large) {
            let bits = fourteen
                .iter()
                .enumerate()
                .fold(0u16, |bits, (k, s)| bits | ((*s as u16) << (13 - k)));
            chunks.push(0x8000 | bits);
            i += fourteen.len();
        } else {
            let seven = &statuses[i..statuses.len().min(i + 7)];
            let bits = seven
                .iter()
                .enumerate()
                .fold(0u16, |bits, (k, s)| bits | ((*s as u16) << (12 - 2 * k)));
            chunks.push(0xC000 | bits);
            i += seven.len();
        }
    }
    chunks
}

/// An RTCP header for a packet of `words` 32-bit words, the header's own included.
fn push_header(out: &mut Vec<u8>, count_or_format: u8, packet_type: u8, words: usize) {
    out.push(VERSION | (count_or_format & 0x1F));
    out.push(packet_type);
    out.extend_from_slice(&((words - 1) as u16).to_be_bytes());
}

#[cfg(test)]
#[path = "feedback_tests.rs"]
mod tests;
