//! For the light path's tests: str0m configured as the reference SFU configures it for a viewer
//! (`sfu::mod`), answering an offer; raw RTCP is kept so tests can read the feedback it got.

use std::net::SocketAddr;
use std::time::Instant;
use str0m::change::SdpOffer;
use str0m::{Candidate, Rtc, RtcConfig};

pub fn answer(offer: &str, server: SocketAddr, now: Instant) -> (Rtc, String) {
    let mut rtc = RtcConfig::new()
        .clear_codecs()
        .enable_h264(true)
        .enable_opus(true, false)
        .set_rtp_mode(true)
        .set_ice_lite(true)
        .set_extension(7, str0m::rtp::Extension::AbsoluteCaptureTime)
        .enable_raw_packets(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host(server, "udp").expect("candidate"));
    let offer = SdpOffer::from_sdp_string(offer).expect("str0m reads the offer");
    let answer = rtc.sdp_api().accept_offer(offer).expect("str0m answers it");
    (rtc, answer.to_sdp_string())
}
