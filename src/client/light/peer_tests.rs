//! A light viewer against str0m configured as the reference SFU, in simulated time and without
//! sockets: it connects, decrypts what it is sent, and sends back what a browser would.

use super::*;
use crate::client::sdp::{negotiated_pt, udp_input};
use crate::media::receiver::{AudioReceiver, VideoReceiver};
use crate::record::Role as SessionRole;
use str0m::format::Codec;
use str0m::media::Mid;
use str0m::rtp::rtcp::Rtcp;
use str0m::rtp::{RawPacket, RtpWrite};
use str0m::{Event, Input, Output, Rtc};

const VIEWER: &str = "127.0.0.1:40001";
const SERVER: &str = "127.0.0.1:40002";

fn light(now: Instant) -> LightPeer {
    let receiver = Receiver::new(
        "room/r000".into(),
        SessionRole::Light,
        0,
        VideoReceiver::new(0, None),
        AudioReceiver::new(None),
    );
    let addr = VIEWER.parse().expect("address");
    LightPeer::new(receiver, addr, WallClock::start(), now).expect("a light viewer")
}

fn server(offer: &str, now: Instant) -> (Rtc, String) {
    let addr = SERVER.parse().expect("address");
    crate::client::light::reference_sfu::answer(offer, addr, now)
}

/// Runs both sides in 5 ms steps, the server sending 20 ms audio packets once the viewer is
/// connected; what RTCP the server received and how many packets it sent, or the viewer's
/// error.
fn run(
    viewer: &mut LightPeer,
    server: &mut Rtc,
    start: Instant,
    span: Duration,
) -> Result<(Vec<Rtcp>, u64), LightError> {
    run_with_video(viewer, server, start, span, None)
}

/// As [`run`]; with `lose_every: Some(n)` the server also sends a video packet every step and
/// the first copy of every one whose sequence number is a multiple of `n` is lost on the way.
fn run_with_video(
    viewer: &mut LightPeer,
    server: &mut Rtc,
    start: Instant,
    span: Duration,
    lose_every: Option<u16>,
) -> Result<(Vec<Rtcp>, u64), LightError> {
    let (viewer_addr, server_addr) = (VIEWER.parse().expect("a"), SERVER.parse().expect("a"));
    let mut received = Vec::new();
    let mut now = start;
    let mut sent = 0u64;
    let mut video_sent = 0u64;
    while now < start + span {
        now += Duration::from_millis(5);
        if viewer.state() == PeerState::Connected && (now - start).as_millis() % 20 == 0 {
            write(server, "0", Codec::Opus, sent, now, vec![0xf8; 40]);
            sent += 1;
        }
        if viewer.state() == PeerState::Connected && lose_every.is_some() {
            // Single NAL units (type 1), a frame of one packet every 5 ms.
            write(server, "1", Codec::H264, video_sent, now, vec![0x41; 900]);
            video_sent += 1;
        }
        viewer.handle_timeout(now)?;
        while let PeerOutput::Transmit(to, data) = viewer.poll_output() {
            if let Some(input) = udp_input(now, viewer_addr, to, &data) {
                server.handle_input(input).expect("server reads");
            }
        }
        server
            .handle_input(Input::Timeout(now))
            .expect("server runs");
        let video_pt = negotiated_pt(server, Mid::from("1"), Codec::H264).map(|pt| *pt);
        while let Ok(out) = server.poll_output() {
            match out {
                Output::Transmit(t) => {
                    let lost = lose_every.is_some_and(|n| first_copy_of(&t.contents, video_pt, n));
                    if !lost {
                        viewer.handle_receive(now, server_addr, &t.contents)?;
                    }
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
    Ok((received, sent))
}

/// Whether an SRTP datagram (its header is in the clear) is video's first copy of a packet
/// whose sequence number is a multiple of `n`.
fn first_copy_of(datagram: &[u8], video_pt: Option<u8>, n: u16) -> bool {
    let is_rtp = datagram.len() > 12 && (128..=191).contains(&datagram[0]);
    is_rtp
        && Some(datagram[1] & 0x7F) == video_pt
        && u16::from_be_bytes([datagram[2], datagram[3]]) % n == 0
}

/// The server writes one packet of `codec` on `mid`, number `seq`.
fn write(server: &mut Rtc, mid: &str, codec: Codec, seq: u64, now: Instant, payload: Vec<u8>) {
    let mid = Mid::from(mid);
    let Some(pt) = negotiated_pt(server, mid, codec) else {
        return;
    };
    let clock_step = if codec == Codec::Opus { 960 } else { 450 };
    let write = RtpWrite::new(pt, seq.into(), (seq * clock_step) as u32, now, payload)
        .nackable(codec == Codec::H264);
    if let Some(stream) = server.direct_api().stream_tx_by_mid(mid, None) {
        stream.write_rtp(write);
    }
}

#[test]
fn a_light_viewer_connects_to_str0m_receives_its_media_and_sends_browser_feedback() {
    crate::client::init_crypto();
    let start = Instant::now();
    let mut viewer = light(start);
    let (mut server, answer) = server(&viewer.create_offer(), start);
    viewer.accept_answer(&answer).expect("answer accepted");
    let (rtcp, sent) = run(&mut viewer, &mut server, start, Duration::from_secs(5)).expect("runs");
    assert_eq!(viewer.state(), PeerState::Connected);
    let connected = viewer.connected_at.expect("connected") - start;
    assert!(
        connected < Duration::from_millis(500),
        "connected after {connected:?}"
    );
    let audio = &viewer.receiver().audio.stats;
    // All but the last one or two, still in flight at the end.
    assert!(sent >= 240, "{sent} sent");
    assert!(
        audio.received() + 2 >= sent && audio.received() <= sent,
        "{} of {sent}",
        audio.received()
    );
    assert_eq!(audio.lost(), 0);
    assert_eq!(viewer.dropped, Dropped::default());
    let twcc: Vec<_> = rtcp
        .iter()
        .filter_map(|r| match r {
            Rtcp::Twcc(t) => Some(t),
            _ => None,
        })
        .collect();
    // Every 100 ms from connection: each reports the 5 packets since the one before.
    assert!(twcc.len() >= 40, "{} transport-wide feedbacks", twcc.len());
    let reported: u64 = twcc.iter().map(|t| u64::from(t.status_count)).sum();
    assert!(
        reported + 5 >= audio.received(),
        "{reported} reported of {}",
        audio.received()
    );
    let reports: Vec<_> = rtcp
        .iter()
        .filter_map(|r| match r {
            Rtcp::ReceiverReport(rr) => Some(rr),
            _ => None,
        })
        .collect();
    assert!(reports.len() >= 4, "{} receiver reports", reports.len());
    let last = reports
        .last()
        .and_then(|rr| rr.reports.iter().next())
        .expect("a report block");
    assert_eq!(last.packets_lost, 0);
    assert!(
        last.max_seq as u64 + 1 >= audio.received() - 50,
        "{}",
        last.max_seq
    );
}

#[test]
fn a_server_certificate_that_is_not_the_answer_s_fails_the_viewer() {
    crate::client::init_crypto();
    let start = Instant::now();
    let mut viewer = light(start);
    let (mut server, answer) = server(&viewer.create_offer(), start);
    let fingerprint = answer
        .lines()
        .find(|l| l.starts_with("a=fingerprint:"))
        .expect("one");
    let forged = fingerprint[..fingerprint.len() - 2].to_string() + "00";
    viewer
        .accept_answer(&answer.replace(fingerprint, &forged))
        .expect("answer read");
    let outcome = run(&mut viewer, &mut server, start, Duration::from_secs(2));
    assert!(
        matches!(outcome, Err(LightError::Fingerprint)),
        "{outcome:?}"
    );
    assert_ne!(viewer.state(), PeerState::Connected);
}

#[test]
fn without_an_answer_nothing_connects_and_the_deadline_says_so() {
    let start = Instant::now();
    let mut viewer = light(start);
    assert_eq!(viewer.accept_answer("v=0"), Err(LightError::NoOffer));
    viewer.create_offer();
    viewer.set_connect_timeout(start, Duration::from_secs(2));
    let PeerOutput::Timeout(wake) = viewer.poll_output() else {
        panic!("nothing to send yet")
    };
    assert!(wake <= start + Duration::from_secs(2));
    let late = start + Duration::from_secs(3);
    assert_eq!(
        viewer.handle_timeout(late),
        Err(LightError::ConnectTimeout(Duration::from_secs(2)))
    );
}

#[test]
fn garbage_datagrams_are_counted_or_ignored_and_never_break_the_session() {
    use rand::{Rng, SeedableRng};
    crate::client::init_crypto();
    let start = Instant::now();
    let mut viewer = light(start);
    let (mut server, answer) = server(&viewer.create_offer(), start);
    viewer.accept_answer(&answer).expect("answer accepted");
    run(&mut viewer, &mut server, start, Duration::from_secs(1)).expect("runs");
    assert_eq!(viewer.state(), PeerState::Connected);
    let from: SocketAddr = SERVER.parse().expect("address");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let now = start + Duration::from_secs(2);
    let mut errors = Vec::new();
    for n in 0..20_000usize {
        let len = rng.random_range(0..1400);
        let mut datagram: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Every demultiplexing class in turn: STUN, DTLS, RTP, RTCP, and none.
        if let Some(first) = datagram.first_mut() {
            *first = [0, 1, 22, 23, 0x80, 0x90, 0xBF, 200, 255][n % 9];
        }
        if datagram.len() > 1 && n % 2 == 0 {
            datagram[1] = 200; // looks like RTCP
        }
        if let Err(e) = viewer.handle_receive(now, from, &datagram) {
            errors.push((n % 9, e));
        }
    }
    assert!(
        viewer.dropped.unauthenticated > 5_000,
        "{:?}",
        viewer.dropped
    );
    assert_eq!(viewer.state(), PeerState::Connected);
}

#[test]
fn lost_video_is_asked_for_with_nacks_and_repaired_from_the_server_s_retransmissions() {
    crate::client::init_crypto();
    let start = Instant::now();
    let mut viewer = light(start);
    let (mut server, answer) = server(&viewer.create_offer(), start);
    viewer.accept_answer(&answer).expect("answer accepted");
    let span = Duration::from_secs(4);
    let (rtcp, _) = run_with_video(&mut viewer, &mut server, start, span, Some(10)).expect("runs");
    let video = &viewer.receiver().video.stats;
    // One packet in ten is lost on its first way; every one comes back, but the last few
    // still in flight.
    assert!(video.expected() > 600, "{} expected", video.expected());
    assert!(
        video.lost() <= 3,
        "{} lost of {}",
        video.lost(),
        video.expected()
    );
    let nacked: u64 = rtcp
        .iter()
        .filter_map(|r| match r {
            Rtcp::Nack(n) => Some(
                n.reports
                    .iter()
                    .map(|e| 1 + e.blp.count_ones() as u64)
                    .sum::<u64>(),
            ),
            _ => None,
        })
        .sum();
    let lost_first = video.expected() / 10;
    assert!(
        nacked + 3 >= lost_first && nacked <= lost_first + 3,
        "{nacked} asked for, {lost_first} lost on the first way"
    );
    assert_eq!(viewer.dropped, Dropped::default());
}
