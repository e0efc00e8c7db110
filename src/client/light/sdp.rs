//! The light viewer's SDP: the offer it sends (receive-only audio and video, bundled, the
//! codecs and header extensions rtcbench's str0m viewers offer, so a server negotiates the
//! same with both), and what it needs of the answer.

use std::fmt::Write;
use std::net::SocketAddr;

/// An answer longer than this is refused rather than read (a server's answer is a few kB).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The payload types and extension ids the offer proposes; an answer may pick others.
const OPUS_PT: u8 = 111;
const H264_PT: u8 = 127;
const RTX_PT: u8 = 121;
const EXTENSIONS: [(u8, &str); 4] = [
    (3, TRANSPORT_CC_URI),
    (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    (7, ABS_CAPTURE_TIME_URI),
    (
        2,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    ),
];
pub const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
pub const ABS_CAPTURE_TIME_URI: &str =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the SDP answer is {0} bytes, more than the {MAX_ANSWER_BYTES} read")]
    TooLarge(usize),
    #[error("the SDP answer has no {0}")]
    Missing(&'static str),
    #[error("the SDP answer's line {line} is malformed: {text}")]
    Malformed { line: usize, text: String },
    #[error("the SDP answer rejected the {0} section (port 0)")]
    Rejected(&'static str),
}

/// What the offer says of the viewer itself.
#[derive(Debug, Clone)]
pub struct OfferParams<'a> {
    pub ice_ufrag: &'a str,
    pub ice_pwd: &'a str,
    /// The DTLS certificate's SHA-256 fingerprint, as `AA:BB:...`.
    pub fingerprint: &'a str,
    pub cname: &'a str,
    /// The viewer's host candidate, if it gathers one.
    pub candidate: Option<SocketAddr>,
}

/// Writes the offer: session, then an audio and a video section, both receive-only.
pub fn write_offer(p: &OfferParams<'_>) -> String {
    let mut sdp = String::with_capacity(2048);
    sdp.push_str("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
    sdp.push_str("a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n");
    for (mid, kind) in [(0, "audio"), (1, "video")] {
        let pts = match kind {
            "audio" => format!("{OPUS_PT}"),
            _ => format!("{H264_PT} {RTX_PT}"),
        };
        let _ = write!(
            sdp,
            "m={kind} 9 UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 0.0.0.0\r\n"
        );
        if let Some(addr) = p.candidate {
            let _ = write!(
                sdp,
                "a=candidate:1 1 udp 2130706431 {} {} typ host\r\n",
                addr.ip(),
                addr.port()
            );
        }
        let _ = write!(
            sdp,
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=ice-options:trickle\r\n\
             a=fingerprint:sha-256 {}\r\na=setup:actpass\r\na=mid:{mid}\r\n",
            p.ice_ufrag, p.ice_pwd, p.fingerprint
        );
        for (id, uri) in EXTENSIONS {
            let _ = write!(sdp, "a=extmap:{id} {uri}\r\n");
        }
        sdp.push_str("a=recvonly\r\na=rtcp-mux\r\n");
        match kind {
            "audio" => {
                let _ = write!(
                    sdp,
                    "a=rtpmap:{OPUS_PT} opus/48000/2\r\na=rtcp-fb:{OPUS_PT} transport-cc\r\n\
                     a=fmtp:{OPUS_PT} minptime=10;useinbandfec=1\r\n"
                );
            }
            _ => {
                let _ = write!(sdp, "a=rtpmap:{H264_PT} H264/90000\r\n");
                for fb in ["transport-cc", "ccm fir", "nack", "nack pli"] {
                    let _ = write!(sdp, "a=rtcp-fb:{H264_PT} {fb}\r\n");
                }
                let _ = write!(
                    sdp,
                    "a=fmtp:{H264_PT} level-asymmetry-allowed=1;packetization-mode=1;\
                     profile-level-id=42e01f\r\na=rtpmap:{RTX_PT} rtx/90000\r\n\
                     a=fmtp:{RTX_PT} apt={H264_PT}\r\n"
                );
            }
        }
        let _ = write!(sdp, "a=ssrc:{} cname:{}\r\n", 1000 + mid, p.cname);
    }
    sdp
}

/// What the viewer needs of the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub ice_ufrag: String,
    pub ice_pwd: String,
    pub ice_lite: bool,
    /// The hash function and the fingerprint of the server's DTLS certificate.
    pub fingerprint: (String, String),
    /// `active` when the server opens the DTLS handshake, so the viewer waits for it.
    pub setup: String,
    pub candidates: Vec<SocketAddr>,
    pub audio: Section,
    pub video: Section,
}

/// One answered media section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub mid: String,
    /// The codec's payload type (Opus or H.264 with packetization mode 1).
    pub pt: Option<u8>,
    /// The retransmission payload type for `pt`, if the server repairs by RTX.
    pub rtx_pt: Option<u8>,
    pub transport_cc: Option<u8>,
    pub abs_capture_time: Option<u8>,
    /// SSRCs the server announced, if it did.
    pub ssrcs: Vec<u32>,
}

/// Reads the answer; an attribute at session level applies to every section, as in RFC 8866.
pub fn parse_answer(sdp: &str) -> Result<Answer, SdpError> {
    if sdp.len() > MAX_ANSWER_BYTES {
        return Err(SdpError::TooLarge(sdp.len()));
    }
    let mut answer = Answer::default();
    let mut current: Option<(&'static str, Section)> = None;
    let mut rtx_apt: Vec<(&'static str, u8, u8)> = Vec::new();
    for (index, raw) in sdp.lines().enumerate() {
        let line = raw.trim();
        let malformed = || SdpError::Malformed {
            line: index + 1,
            text: line.chars().take(120).collect(),
        };
        if let Some(media) = line.strip_prefix("m=") {
            finish_section(&mut answer, current.take());
            let kind = match media.split(' ').next() {
                Some("audio") => "audio",
                Some("video") => "video",
                _ => continue,
            };
            if media.split(' ').nth(1) == Some("0") {
                return Err(SdpError::Rejected(kind));
            }
            current = Some((kind, Section::default()));
            continue;
        }
        let Some(attribute) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = attribute.split_once(':').unwrap_or((attribute, ""));
        match name {
            "ice-ufrag" => answer.ice_ufrag = value.to_string(),
            "ice-pwd" => answer.ice_pwd = value.to_string(),
            "ice-lite" => answer.ice_lite = true,
            "setup" => answer.setup = value.to_string(),
            "fingerprint" => {
                let (hash, print) = value.split_once(' ').ok_or_else(malformed)?;
                answer.fingerprint = (hash.to_ascii_lowercase(), print.trim().to_string());
            }
            "candidate" => {
                if let Some(addr) = udp_candidate(value) {
                    answer.candidates.push(addr);
                }
            }
            _ => {
                if let Some((kind, section)) = current.as_mut() {
                    section_attribute(kind, section, name, value, &mut rtx_apt)
                        .ok_or_else(malformed)?;
                }
            }
        }
    }
    finish_section(&mut answer, current.take());
    for (kind, rtx, apt) in rtx_apt {
        let section = match kind {
            "audio" => &mut answer.audio,
            _ => &mut answer.video,
        };
        if section.pt == Some(apt) {
            section.rtx_pt = Some(rtx);
        }
    }
    for (missing, what) in [
        (answer.ice_ufrag.is_empty(), "a=ice-ufrag"),
        (answer.ice_pwd.is_empty(), "a=ice-pwd"),
        (answer.fingerprint.1.is_empty(), "a=fingerprint"),
        (answer.audio.mid.is_empty(), "audio section"),
        (answer.video.mid.is_empty(), "video section"),
        (
            answer.video.pt.is_none(),
            "H.264 (packetization mode 1) in the video section",
        ),
    ] {
        if missing {
            return Err(SdpError::Missing(what));
        }
    }
    Ok(answer)
}

fn finish_section(answer: &mut Answer, section: Option<(&'static str, Section)>) {
    match section {
        Some(("audio", s)) if answer.audio.mid.is_empty() => answer.audio = s,
        Some(("video", s)) if answer.video.mid.is_empty() => answer.video = s,
        _ => {}
    }
}

/// Takes in one media-level attribute; None when it is malformed.
fn section_attribute(
    kind: &'static str,
    section: &mut Section,
    name: &str,
    value: &str,
    rtx_apt: &mut Vec<(&'static str, u8, u8)>,
) -> Option<()> {
    match name {
        "mid" => section.mid = value.to_string(),
        "extmap" => {
            let (id, uri) = value.split_once(' ')?;
            let id: u8 = id.split('/').next()?.parse().ok()?;
            match uri.split(' ').next()? {
                TRANSPORT_CC_URI => section.transport_cc = Some(id),
                ABS_CAPTURE_TIME_URI => section.abs_capture_time = Some(id),
                _ => {}
            }
        }
        "rtpmap" => {
            let (pt, codec) = value.split_once(' ')?;
            let pt: u8 = pt.parse().ok()?;
            let codec = codec.split('/').next()?.to_ascii_lowercase();
            let wanted = matches!(
                (kind, codec.as_str()),
                ("audio", "opus") | ("video", "h264")
            );
            if wanted && section.pt.is_none() {
                section.pt = Some(pt);
            }
        }
        "fmtp" => {
            let (pt, params) = value.split_once(' ')?;
            let pt: u8 = pt.parse().ok()?;
            if let Some(apt) = params
                .split(';')
                .find_map(|p| p.trim().strip_prefix("apt="))
            {
                rtx_apt.push((kind, pt, apt.parse().ok()?));
            }
            // H.264 without packetization mode 1 cannot carry our frames: another is wanted.
            if section.pt == Some(pt) && kind == "video" && !params.contains("packetization-mode=1")
            {
                section.pt = None;
            }
        }
        "ssrc" => {
            let ssrc: u32 = value.split(' ').next()?.parse().ok()?;
            if !section.ssrcs.contains(&ssrc) {
                section.ssrcs.push(ssrc);
            }
        }
        _ => {}
    }
    Some(())
}

/// A UDP candidate's address (`foundation component udp priority ip port typ ...`); TCP and
/// malformed candidates are passed over.
fn udp_candidate(value: &str) -> Option<SocketAddr> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    if !fields.get(2)?.eq_ignore_ascii_case("udp") {
        return None;
    }
    let ip: std::net::IpAddr = fields.get(4)?.parse().ok()?;
    let port: u16 = fields.get(5)?.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
