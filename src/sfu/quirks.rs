//! Behaviours of other media servers that the embedded SFU can take on, so the tests can show
//! rtcbench coping with each without the server that showed it: an answer without RTX (Pion),
//! audio RTP time rebased per subscriber (Medooze), no audio forwarded, and viewers refused
//! while nothing is published (MediaMTX, SRS, Medooze's fronts), and an RSA DTLS certificate
//! (Medooze). All are off by default.

use std::collections::VecDeque;
use std::time::Instant;
use str0m::media::Pt;
use str0m::rtp::rtcp::Nack;
use str0m::rtp::{ExtensionValues, SeqNo};

/// How many forwarded video packets a subscriber's resend cache keeps (about 2 s at 1 Mbps).
const RESEND_CACHE_PACKETS: usize = 512;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Answer video without an RTX payload type or SSRC and resend NACKed packets on the main
    /// SSRC, as Pion-based SFUs do (RFC 4585 allows it).
    pub retransmit_without_rtx: bool,
    /// Shift forwarded audio RTP timestamps by this many milliseconds and strip abs-capture-time
    /// from audio, as an SFU that rebases each subscriber's RTP time does.
    pub audio_rtp_shift_ms: Option<i32>,
    /// Forward no audio at all (the track is negotiated and stays silent).
    pub drop_audio: bool,
    /// Answer a viewer 404 while its room has no publisher.
    pub no_viewers_before_publisher: bool,
    /// Take a publisher's offer only after this many milliseconds, as a server slow to set up
    /// ingest is (transport set-up, an auth call).
    pub publish_delay_ms: Option<u64>,
    /// Present a self-signed RSA-2048 certificate in DTLS, as Medooze does by default.
    pub rsa_certificate: bool,
}

impl Quirks {
    /// The RTP timestamp a subscriber is sent for an audio packet stamped `timestamp`.
    pub fn audio_timestamp(&self, timestamp: u32) -> u32 {
        match self.audio_rtp_shift_ms {
            Some(ms) => timestamp.wrapping_add_signed(ms.saturating_mul(48)),
            None => timestamp,
        }
    }

    /// The header extensions forwarded with an audio packet.
    pub fn audio_extensions(&self, ext: &ExtensionValues) -> ExtensionValues {
        if self.audio_rtp_shift_ms.is_some() {
            ExtensionValues::default()
        } else {
            ext.clone()
        }
    }
}

/// `sdp` with every RTX payload type and RTX SSRC taken out, as an SFU that resends on the main
/// SSRC answers.
pub fn without_rtx(sdp: &str) -> String {
    let rtx_pts: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|rest| rest.split_once(' '))
        .filter(|(_, codec)| codec.to_ascii_lowercase().starts_with("rtx/"))
        .map(|(pt, _)| pt)
        .collect();
    let rtx_ssrcs: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=ssrc-group:FID "))
        .filter_map(|ssrcs| ssrcs.split_whitespace().nth(1))
        .collect();
    let names_rtx_pt = |line: &str| {
        ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|prefix| {
            line.strip_prefix(prefix)
                .and_then(|rest| rest.split([' ', ':']).next())
                .is_some_and(|pt| rtx_pts.contains(&pt))
        })
    };
    let names_rtx_ssrc = |line: &str| {
        line.starts_with("a=ssrc-group:FID ")
            || line
                .strip_prefix("a=ssrc:")
                .and_then(|rest| rest.split(' ').next())
                .is_some_and(|ssrc| rtx_ssrcs.contains(&ssrc))
    };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.lines() {
        if names_rtx_pt(line) || names_rtx_ssrc(line) {
            continue;
        }
        if line.starts_with("m=") {
            let kept: Vec<&str> = line
                .split(' ')
                .enumerate()
                .filter(|(i, token)| *i < 3 || !rtx_pts.contains(token))
                .map(|(_, token)| token)
                .collect();
            out.push_str(&kept.join(" "));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

/// One video packet as it was forwarded to a subscriber, kept to be sent again.
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub pt: Pt,
    pub seq_no: SeqNo,
    pub rtp_time: u32,
    pub wallclock: Instant,
    pub marker: bool,
    pub payload: Vec<u8>,
    pub ext: ExtensionValues,
}

/// The last forwarded video packets of one subscriber, for resending on the main SSRC.
#[derive(Debug, Default)]
pub struct ResendCache {
    packets: VecDeque<Forwarded>,
}

impl ResendCache {
    pub fn remember(&mut self, packet: Forwarded) {
        if self.packets.len() == RESEND_CACHE_PACKETS {
            self.packets.pop_front();
        }
        self.packets.push_back(packet);
    }

    /// The cached packets a NACK asks for, oldest first.
    pub fn wanted(&self, nack: &Nack) -> Vec<Forwarded> {
        let wanted: Vec<u16> = nack.reports.iter().flat_map(nacked_sequences).collect();
        self.packets
            .iter()
            .filter(|p| wanted.contains(&(*p.seq_no as u16)))
            .cloned()
            .collect()
    }
}

/// The sequence numbers one NACK entry names: its packet id and each bit of its bitmask.
fn nacked_sequences(entry: &str0m::rtp::rtcp::NackEntry) -> Vec<u16> {
    let mut sequences = vec![entry.pid];
    for bit in 0..16u16 {
        if entry.blp & (1 << bit) != 0 {
            sequences.push(entry.pid.wrapping_add(bit + 1));
        }
    }
    sequences
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::rtp::rtcp::NackEntry;

    #[test]
    fn a_nack_entry_names_its_packet_and_every_bit_after_it() {
        let entry = NackEntry {
            pid: 65_534,
            blp: 0b101,
        };
        assert_eq!(nacked_sequences(&entry), vec![65_534, 65_535, 1]);
    }

    #[test]
    fn rtx_is_taken_out_of_an_answer() {
        let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 127 121\r\na=rtpmap:127 H264/90000\r\n\
                   a=rtcp-fb:127 nack\r\na=rtpmap:121 rtx/90000\r\na=fmtp:121 apt=127\r\n\
                   a=ssrc-group:FID 11 22\r\na=ssrc:11 cname:x\r\na=ssrc:22 cname:x\r\n";
        assert_eq!(
            without_rtx(sdp),
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 127\r\na=rtpmap:127 H264/90000\r\n\
             a=rtcp-fb:127 nack\r\na=ssrc:11 cname:x\r\n"
        );
    }

    #[test]
    fn the_audio_shift_moves_rtp_time_and_strips_capture_time() {
        let quirks = Quirks {
            audio_rtp_shift_ms: Some(-100),
            ..Default::default()
        };
        assert_eq!(
            quirks.audio_timestamp(10_000),
            10_000u32.wrapping_sub(4_800)
        );
        let ext = ExtensionValues {
            abs_capture_time: Some(str0m::rtp::AbsCaptureTime {
                capture_time: std::time::UNIX_EPOCH,
                clock_offset: None,
            }),
            ..Default::default()
        };
        assert!(quirks.audio_extensions(&ext).abs_capture_time.is_none());
        assert!(Quirks::default()
            .audio_extensions(&ext)
            .abs_capture_time
            .is_some());
    }
}
