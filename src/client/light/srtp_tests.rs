use super::*;
use crate::client::light::srtp_vectors::{Vectors, VECTORS};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn profile(v: &Vectors) -> Profile {
    match v.profile {
        "AES128_CM_SHA1_80" => Profile::AesCm128HmacSha1_80,
        "AEAD_AES_128_GCM" => Profile::AeadAes128Gcm,
        _ => Profile::AeadAes256Gcm,
    }
}

/// A session whose both directions use the vectors' master key, as libsrtp's did.
fn session(v: &Vectors) -> SrtpSession {
    let master = hex(v.master);
    let profile = profile(v);
    let (key, salt) = master.split_at(profile.key_len());
    let both = MasterKey { key, salt };
    SrtpSession::new(&str0m::crypto::from_feature_flags(), profile, both, both).expect("keys")
}

#[test]
fn libsrtp_packets_decrypt_across_the_sequence_wrap_in_order_and_reordered() {
    for v in VECTORS {
        for order in [[0, 1, 2, 3], [0, 2, 1, 3], [1, 0, 3, 2]] {
            let mut s = session(v);
            let mut plain = Vec::new();
            for i in order {
                let (expected, protected) = v.rtp[i];
                s.unprotect_rtp(&hex(protected), &mut plain)
                    .unwrap_or_else(|e| panic!("{} packet {i} in {order:?}: {e}", v.profile));
                assert_eq!(
                    plain,
                    hex(expected),
                    "{} packet {i} in {order:?}",
                    v.profile
                );
            }
        }
    }
}

#[test]
fn rtp_protected_here_is_byte_for_byte_what_libsrtp_made() {
    for v in VECTORS {
        let mut s = session(v);
        let mut protected = Vec::new();
        for (i, (plain, expected)) in v.rtp.iter().enumerate() {
            let roc = u32::from(i >= 2); // the third packet's sequence number wrapped to 0
            s.protect_rtp(&hex(plain), roc, &mut protected)
                .expect("protect");
            assert_eq!(protected, hex(expected), "{} packet {i}", v.profile);
        }
    }
}

#[test]
fn srtcp_matches_libsrtp_both_ways() {
    for v in VECTORS {
        let mut s = session(v);
        let (mut protected, mut plain) = (Vec::new(), Vec::new());
        for (expected_plain, expected_protected) in v.rtcp {
            s.protect_rtcp(&hex(expected_plain), &mut protected)
                .expect("protect");
            assert_eq!(protected, hex(expected_protected), "{}", v.profile);
            s.unprotect_rtcp(&hex(expected_protected), &mut plain)
                .expect("unprotect");
            assert_eq!(plain, hex(expected_plain), "{}", v.profile);
        }
    }
}

#[test]
fn a_changed_bit_fails_authentication_and_the_stream_is_not_taken_up() {
    for v in VECTORS {
        let mut s = session(v);
        let mut plain = Vec::new();
        let good = hex(v.rtp[0].1);
        for bit in [8 * 2, 8 * 12 + 3, 8 * (good.len() - 1)] {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                s.unprotect_rtp(&bad, &mut plain),
                Err(SrtpError::Authentication),
                "{} bit {bit}",
                v.profile
            );
        }
        assert!(s.streams.is_empty());
        let mut rtcp = hex(v.rtcp[0].1);
        rtcp[9] ^= 0x40;
        assert_eq!(
            s.unprotect_rtcp(&rtcp, &mut plain),
            Err(SrtpError::Authentication)
        );
        s.unprotect_rtp(&good, &mut plain)
            .expect("the good packet after the bad ones");
    }
}

#[test]
fn truncated_and_malformed_packets_are_errors_not_panics() {
    for v in VECTORS {
        let mut s = session(v);
        let mut plain = Vec::new();
        let packet = hex(v.rtp[1].1);
        for len in 0..packet.len() {
            assert!(
                s.unprotect_rtp(&packet[..len], &mut plain).is_err(),
                "{len}"
            );
        }
        let rtcp = hex(v.rtcp[0].1);
        for len in 0..rtcp.len() {
            assert!(s.unprotect_rtcp(&rtcp[..len], &mut plain).is_err(), "{len}");
        }
        // A header extension claiming more words than the packet has.
        let mut long_extension = packet.clone();
        long_extension[14..16].copy_from_slice(&[0xFF, 0xFF]);
        assert!(matches!(
            s.unprotect_rtp(&long_extension, &mut plain),
            Err(SrtpError::TooShort(_))
        ));
        assert!(s.protect_rtcp(&[0x80, 201, 0], &mut plain).is_err());
    }
}

#[test]
fn dtls_keying_material_gives_the_far_side_s_keys_to_what_comes_in() {
    for v in VECTORS {
        let profile = profile(v);
        let master = hex(v.master);
        let (key, salt) = master.split_at(profile.key_len());
        let other_key = vec![0x5A; key.len()];
        let other_salt = vec![0xA5; salt.len()];
        // client key, server key, client salt, server salt; the vectors' sender is the server.
        let material = [&other_key[..], key, &other_salt[..], salt].concat();
        let provider = str0m::crypto::from_feature_flags();
        let mut client =
            SrtpSession::from_keying_material(&provider, profile, &material, true).expect("keys");
        let mut plain = Vec::new();
        client
            .unprotect_rtp(&hex(v.rtp[0].1), &mut plain)
            .expect("decrypts");
        let mut server =
            SrtpSession::from_keying_material(&provider, profile, &material, false).expect("keys");
        assert_eq!(
            server.unprotect_rtp(&hex(v.rtp[0].1), &mut plain),
            Err(SrtpError::Authentication)
        );
        let short = SrtpSession::from_keying_material(&provider, profile, &material[1..], true);
        assert!(matches!(short, Err(SrtpError::KeyingMaterial { .. })));
    }
}

#[test]
fn new_streams_stop_at_the_limit() {
    let v = &VECTORS[1];
    let mut s = session(v);
    let mut plain = Vec::new();
    s.streams = (0..MAX_STREAMS as u32)
        .map(|ssrc| StreamIndex {
            ssrc: ssrc + 1000,
            roc: 0,
            highest_seq: 0,
        })
        .collect();
    assert_eq!(
        s.unprotect_rtp(&hex(v.rtp[0].1), &mut plain),
        Err(SrtpError::TooManyStreams)
    );
}

#[test]
fn the_rollover_counter_is_guessed_from_the_highest_sequence_number() {
    let at = |roc, highest_seq| StreamIndex {
        ssrc: 1,
        roc,
        highest_seq,
    };
    assert_eq!(at(3, 65_000).guess_roc(10), 4);
    assert_eq!(at(3, 65_000).guess_roc(64_000), 3);
    assert_eq!(at(3, 10).guess_roc(65_000), 2);
    assert_eq!(at(3, 10).guess_roc(20), 3);
    let mut stream = at(3, 65_000);
    stream.advance(4, 10);
    stream.advance(3, 65_100);
    assert_eq!((stream.roc, stream.highest_seq), (4, 10));
}
