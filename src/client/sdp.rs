//! What str0m negotiated, read back (payload types, codecs), a trickled candidate in the
//! SDP-fragment form WHIP/WHEP PATCH carries, and a datagram as str0m input.

use crate::media::sender::SenderConfig;
use crate::media::simulcast::rid_of;
use std::net::SocketAddr;
use std::time::Instant;
use str0m::format::Codec;
use str0m::media::{Mid, Pt};
use str0m::media::{Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::{Input, Rtc};

/// An RFC 8840 SDP fragment carrying one candidate for the first (bundled) media section.
pub fn trickle_fragment(offer: &str, candidate: &str) -> String {
    let first = |prefix: &str| {
        offer
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .unwrap_or("")
            .to_string()
    };
    format!(
        "{}\r\n{}\r\n{}\r\n{}\r\na={candidate}\r\n",
        first("a=ice-ufrag:"),
        first("a=ice-pwd:"),
        first("m="),
        first("a=mid:"),
    )
}

/// The payload type the remote side accepted for `codec` on `mid` (H.264: packetization mode 1).
pub fn negotiated_pt(rtc: &Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    let media = rtc.media(mid)?;
    let config = rtc.codec_config();
    media.remote_pts().iter().copied().find(|pt| {
        config.find(|p| p.pt() == *pt).is_some_and(|p| {
            let spec = p.spec();
            spec.codec == codec
                && (codec != Codec::H264 || spec.format.packetization_mode == Some(1))
        })
    })
}

/// Whether the remote side accepted `nack` feedback for a payload type on `mid`.
pub fn nack_negotiated(rtc: &Rtc, mid: Mid) -> bool {
    let Some(media) = rtc.media(mid) else {
        return false;
    };
    let config = rtc.codec_config();
    media
        .remote_pts()
        .iter()
        .any(|pt| config.find(|p| p.pt() == *pt).is_some_and(|p| p.fb_nack()))
}

/// A received UDP datagram as str0m input; `None` when it is not something str0m reads.
pub fn udp_input(
    now: Instant,
    source: SocketAddr,
    destination: SocketAddr,
    data: &[u8],
) -> Option<Input<'_>> {
    let contents = data.try_into().ok()?;
    Some(Input::Receive(
        now,
        Receive {
            proto: Protocol::Udp,
            source,
            destination,
            contents,
        },
    ))
}

/// The codec a payload type stands for in `rtc`'s configuration.
pub fn codec_of(rtc: &Rtc, pt: Pt) -> Option<Codec> {
    rtc.codec_config()
        .find(|p| p.pt() == pt)
        .map(|p| p.spec().codec)
}

/// The simulcast send layers to offer for `config`, smallest first, if it has more than one.
pub fn simulcast_of(config: &SenderConfig) -> Option<Simulcast> {
    let count = config.lower_layers.len() + 1;
    (count > 1).then(|| Simulcast {
        send: (0..count)
            .map(|i| SimulcastLayer::new(rid_of(i, count)))
            .collect(),
        recv: Vec::new(),
    })
}

/// The extended sequence number of `seq` on `ssrc`, from the last one written there.
pub fn extend_sequence(sequences: &mut Vec<(u32, u64)>, ssrc: u32, seq: u16) -> u64 {
    match sequences.iter_mut().find(|(s, _)| *s == ssrc) {
        Some((_, last)) => {
            *last += seq.wrapping_sub(*last as u16) as u64;
            *last
        }
        None => {
            sequences.push((ssrc, seq as u64));
            seq as u64
        }
    }
}
