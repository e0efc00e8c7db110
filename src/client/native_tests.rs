//! A viewer against a plain str0m answerer, in simulated time and without sockets.

use super::*;
use crate::media::receiver::{AudioReceiver, VideoReceiver};
use crate::record::Role as SessionRole;
use std::time::Duration;
use str0m::rtp::rtcp::Rtcp;
use str0m::rtp::RawPacket;
use str0m::rtp::RtpWrite;

fn viewer(addr: SocketAddr, now: Instant) -> NativePeer {
    let receiver = Receiver::new(
        "room/r000".into(),
        SessionRole::Light,
        0,
        VideoReceiver::new(0, None),
        AudioReceiver::new(None),
    );
    NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        addr,
        WallClock::start(),
        now,
    )
    .expect("a viewer")
}

/// A send-only answerer that reports what RTCP it receives.
fn answerer(offer: &str, addr: SocketAddr, now: Instant) -> (Rtc, String) {
    let mut rtc = RtcConfig::new()
        .clear_codecs()
        .enable_h264(true)
        .enable_opus(true, false)
        .set_rtp_mode(true)
        .set_ice_lite(true)
        .enable_raw_packets(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let offer = SdpOffer::from_sdp_string(offer).expect("our offer parses");
    let answer = rtc.sdp_api().accept_offer(offer).expect("answerable");
    (rtc, answer.to_sdp_string())
}

/// Runs both sides for `span` of simulated time; returns the RTCP the answerer received.
fn run(viewer: &mut NativePeer, remote: &mut Rtc, start: Instant, span: Duration) -> Vec<Rtcp> {
    let (viewer_addr, remote_addr) = (viewer.local_addr, REMOTE.parse().expect("address"));
    let audio_mid = viewer.audio_mid.expect("an audio section");
    let mut received = Vec::new();
    let mut now = start;
    for step in 1u64.. {
        now += Duration::from_millis(5);
        if now >= start + span {
            break;
        }
        if step % 4 == 0 && viewer.state() == PeerState::Connected {
            send_audio(remote, audio_mid, step / 4, now);
        }
        viewer.handle_timeout(now).expect("viewer runs");
        while let Ok(PeerOutput::Transmit(to, data)) = viewer.poll_output() {
            if let Some(input) = udp_input(now, viewer_addr, to, &data) {
                remote.handle_input(input).expect("remote reads");
            }
        }
        remote
            .handle_input(Input::Timeout(now))
            .expect("remote runs");
        while let Ok(out) = remote.poll_output() {
            match out {
                Output::Transmit(t) => {
                    viewer
                        .handle_receive(now, remote_addr, &t.contents)
                        .expect("viewer reads");
                }
                Output::Event(Event::RawPacket(raw)) => {
                    if let RawPacket::RtcpRx(rtcp) = *raw {
                        received.push(rtcp);
                    }
                }
                Output::Event(_) => {}
                Output::Timeout(_) => break,
            }
        }
    }
    received
}

const REMOTE: &str = "127.0.0.1:40002";

/// Writes a 20 ms audio packet from the answerer (its content does not matter here).
fn send_audio(remote: &mut Rtc, mid: Mid, n: u64, now: Instant) {
    let Some(pt) = negotiated_pt(remote, mid, Codec::Opus) else {
        return;
    };
    if let Some(stream) = remote.direct_api().stream_tx_by_mid(mid, None) {
        let write = RtpWrite::new(pt, n.into(), (n * 960) as u32, now, vec![0xf8; 40]);
        stream.write_rtp(write);
    }
}

#[test]
fn a_viewer_sends_receiver_reports_and_no_sender_reports() {
    crate::client::init_crypto();
    let start = Instant::now();
    let mut peer = viewer("127.0.0.1:40001".parse().expect("address"), start);
    // Pre-fix, str0m sent an SR per pre-allocated audio and video SSRC every few seconds.
    let offer = peer.create_offer().expect("offer");
    let (mut remote, answer) = answerer(&offer, REMOTE.parse().expect("address"), start);
    peer.accept_answer(&answer).expect("answer accepted");
    let rtcp = run(&mut peer, &mut remote, start, Duration::from_secs(8));
    assert_eq!(peer.state(), PeerState::Connected);
    let sender_reports = rtcp
        .iter()
        .filter(|r| matches!(r, Rtcp::SenderReport(_)))
        .count();
    let receiver_reports = rtcp
        .iter()
        .filter(|r| matches!(r, Rtcp::ReceiverReport(_)))
        .count();
    assert_eq!(sender_reports, 0, "{rtcp:?}");
    assert!(receiver_reports > 0, "no receiver report in {rtcp:?}");
}
