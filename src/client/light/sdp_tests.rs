use super::*;
use std::time::Instant;

const SERVER: &str = "127.0.0.1:6000";

fn offer() -> String {
    write_offer(&OfferParams {
        ice_ufrag: "ufragLight",
        ice_pwd: "pwdOfTheLightViewer0123",
        fingerprint: "2D:45:8D:48:79:15:BE:98:CF:B1:1E:75:3A:53:28:02:55:89:1B:41:A7:5B:59:A7:19:ED:3B:CA:8A:DB:25:39",
        cname: "light-viewer",
        candidate: Some("127.0.0.1:5000".parse().expect("address")),
    })
}

fn str0m_answer(offer: &str) -> String {
    let server = SERVER.parse().expect("address");
    crate::client::light::reference_sfu::answer(offer, server, Instant::now()).1
}

#[test]
fn str0m_answers_the_offer_with_the_codecs_and_extensions_offered() {
    let answer = parse_answer(&str0m_answer(&offer())).expect("an answer we read");
    assert!(answer.ice_lite);
    assert!(!answer.ice_ufrag.is_empty() && !answer.ice_pwd.is_empty());
    assert_eq!(answer.fingerprint.0, "sha-256");
    assert_eq!(answer.fingerprint.1.split(':').count(), 32);
    assert_eq!(answer.candidates, vec![SERVER.parse().expect("address")]);
    assert_eq!(
        (answer.audio.mid.as_str(), answer.video.mid.as_str()),
        ("0", "1")
    );
    assert_eq!(answer.audio.pt, Some(OPUS_PT));
    assert_eq!(answer.video.pt, Some(H264_PT));
    assert_eq!(answer.video.rtx_pt, Some(RTX_PT));
    for section in [&answer.audio, &answer.video] {
        assert_eq!(section.transport_cc, Some(3));
        assert_eq!(section.abs_capture_time, Some(7));
    }
}

#[test]
fn another_server_s_answer_is_read_with_its_own_numbers() {
    let answer = "v=0\r\no=- 9 9 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n\
        a=ice-ufrag:srv\r\na=ice-pwd:serverpassword\r\n\
        a=fingerprint:SHA-256 AA:BB\r\na=setup:active\r\n\
        m=audio 40000 UDP/TLS/RTP/SAVPF 109\r\na=mid:a\r\na=rtpmap:109 opus/48000/2\r\n\
        a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
        a=candidate:1 1 TCP 1 10.0.0.1 443 typ host tcptype passive\r\n\
        a=candidate:2 1 UDP 2 10.0.0.1 40000 typ host\r\na=ssrc:77 cname:x\r\n\
        m=video 40000 UDP/TLS/RTP/SAVPF 100 101 102 103\r\na=mid:v\r\n\
        a=rtpmap:100 H264/90000\r\na=fmtp:100 packetization-mode=0\r\n\
        a=rtpmap:101 rtx/90000\r\na=fmtp:101 apt=100\r\n\
        a=rtpmap:102 H264/90000\r\na=fmtp:102 profile-level-id=42e01f;packetization-mode=1\r\n\
        a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n\
        a=extmap:9/sendonly http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time\r\n\
        a=ssrc:88 cname:x\r\na=ssrc:89 cname:x\r\na=ssrc:88 msid:x y\r\n";
    let parsed = parse_answer(answer).expect("read");
    assert_eq!(parsed.fingerprint, ("sha-256".into(), "AA:BB".into()));
    assert_eq!(parsed.setup, "active");
    assert_eq!(
        parsed.candidates,
        vec!["10.0.0.1:40000".parse().expect("address")]
    );
    assert_eq!(parsed.audio.pt, Some(109));
    assert_eq!(parsed.audio.transport_cc, Some(5));
    assert_eq!(parsed.audio.ssrcs, vec![77]);
    assert_eq!(
        (parsed.video.pt, parsed.video.rtx_pt),
        (Some(102), Some(103))
    );
    assert_eq!(parsed.video.abs_capture_time, Some(9));
    assert_eq!(parsed.video.ssrcs, vec![88, 89]);
}

#[test]
fn answers_that_cannot_be_used_say_why() {
    let good = str0m_answer(&offer());
    let huge = format!("{good}{}", "a=x\r\n".repeat(MAX_ANSWER_BYTES / 5));
    assert!(matches!(parse_answer(&huge), Err(SdpError::TooLarge(_))));
    let no_video: String = good
        .split("m=video")
        .next()
        .expect("audio part")
        .to_string();
    assert_eq!(
        parse_answer(&no_video),
        Err(SdpError::Missing("video section"))
    );
    let rejected = good.replacen("m=video 9", "m=video 0", 1);
    assert_eq!(parse_answer(&rejected), Err(SdpError::Rejected("video")));
    let bad_extmap = good.replacen("a=extmap:3 ", "a=extmap:x3 ", 1);
    let Err(SdpError::Malformed { line, text }) = parse_answer(&bad_extmap) else {
        panic!("a malformed extmap is an error")
    };
    assert_eq!(
        bad_extmap.lines().nth(line - 1).map(str::trim),
        Some(text.as_str())
    );
    let mode_zero_only = good.replace("packetization-mode=1", "packetization-mode=0");
    assert!(matches!(
        parse_answer(&mode_zero_only),
        Err(SdpError::Missing(_))
    ));
    assert_eq!(parse_answer(""), Err(SdpError::Missing("a=ice-ufrag")));
}
