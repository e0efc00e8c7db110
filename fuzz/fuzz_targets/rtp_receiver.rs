//! Datagrams as a receiver sees them off the wire (each input split into datagrams by a
//! two-byte length, with a time step before each): parsed as RTP and fed to a receiver's loss,
//! jitter, freeze and frame state machines; and, as the light path sees them, through SRTP and
//! SRTCP (each profile), into the transport-wide feedback recorder and writer, unwrapped as a
//! retransmission, and into the NACK list and writer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtcbench::client::light::feedback::{write_nack, TwccRecorder};
use rtcbench::client::light::nack::{unwrap_rtx, NackList};
use rtcbench::client::light::srtp::{MasterKey, Profile, SrtpSession};
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role, VideoReceiver};

fn sessions() -> Vec<SrtpSession> {
    let provider = str0m::crypto::from_feature_flags();
    let (key, salt) = ([3u8; 32], [5u8; 14]);
    [
        (Profile::AesCm128HmacSha1_80, 16, 14),
        (Profile::AeadAes128Gcm, 16, 12),
        (Profile::AeadAes256Gcm, 32, 12),
    ]
    .into_iter()
    .filter_map(|(profile, k, s)| {
        let master = MasterKey {
            key: &key[..k],
            salt: &salt[..s],
        };
        SrtpSession::new(&provider, profile, master, master).ok()
    })
    .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut receiver = Receiver::new(
        "fuzz".into(),
        Role::Light,
        0,
        VideoReceiver::new(0, None),
        AudioReceiver::new(None),
    );
    let mut sessions = sessions();
    let mut twcc = TwccRecorder::default();
    let mut nacks = NackList::default();
    let (start, mut due, mut repaired) = (std::time::Instant::now(), Vec::new(), Vec::new());
    let (mut plain, mut feedback) = (Vec::new(), Vec::new());
    let mut now = 0u64;
    let mut rest = data;
    receiver.on_connected(now);
    while rest.len() >= 3 {
        now += u64::from(rest[0]) * 1000;
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let (datagram, tail) = rest.split_at(len.min(rest.len()));
        receiver.on_datagram(datagram, now);
        for session in &mut sessions {
            let _ = session.unprotect_rtp(datagram, &mut plain);
            let _ = session.unprotect_rtcp(datagram, &mut plain);
            let _ = session.protect_rtcp(datagram, &mut plain);
        }
        if let [a, b, ..] = datagram {
            twcc.on_packet(u16::from_be_bytes([*a, *b]), now);
            nacks.on_packet(u16::from_be_bytes([*a, *b]));
        }
        if unwrap_rtx(datagram, 127, 7, &mut repaired).is_some() {
            receiver.on_datagram(&repaired, now);
        }
        due.clear();
        nacks.due(start + std::time::Duration::from_micros(now), &mut due);
        feedback.clear();
        write_nack(1, 2, &due, &mut feedback);
        if let Some((report, count)) = twcc.take_report().filter(|_| now % 3 == 0) {
            feedback.clear();
            report.write(1, 2, count, &mut feedback);
        }
        receiver.on_interval(now, 1_000_000);
        rest = tail;
    }
    let _ = receiver.drain_samples();
    let _ = receiver.summary("fuzz", now + 1_000_000);
});
