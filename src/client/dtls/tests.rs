//! Handshakes between two in-memory DTLS sessions: ours on OpenSSL against an RSA server and
//! against str0m's own DTLS (dimpl), in both roles.

use std::time::{Duration, Instant};

use str0m::crypto::dtls::{DtlsCert, DtlsInstance, DtlsOutput, DtlsVersion, SrtpProfile};

use super::{browser_like_provider, rsa_certificate};

struct Side {
    dtls: Box<dyn DtlsInstance>,
    keys: Option<(Vec<u8>, SrtpProfile)>,
    peer_cert: Option<Vec<u8>>,
    connected: bool,
    data: Vec<Vec<u8>>,
    error: Option<String>,
}

impl Side {
    fn new(dtls: Box<dyn DtlsInstance>, active: bool) -> Self {
        let mut side = Side {
            dtls,
            keys: None,
            peer_cert: None,
            connected: false,
            data: Vec::new(),
            error: None,
        };
        side.dtls.set_active(active);
        side
    }

    /// Everything this side has to say, as datagrams; events are kept.
    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut buf = vec![0; 20_000];
        let mut out = Vec::new();
        loop {
            match self.dtls.poll_output(&mut buf) {
                DtlsOutput::Packet(p) => out.push(p.to_vec()),
                DtlsOutput::PeerCert(c) => self.peer_cert = Some(c.to_vec()),
                DtlsOutput::KeyingMaterial(k, p) => self.keys = Some((k.to_vec(), p)),
                DtlsOutput::Connected => self.connected = true,
                DtlsOutput::ApplicationData(d) => self.data.push(d.to_vec()),
                DtlsOutput::Timeout(_) => return out,
                other => panic!("unexpected output {other:?}"),
            }
        }
    }

    fn receive(&mut self, datagrams: Vec<Vec<u8>>) {
        for d in datagrams {
            if let Err(e) = self.dtls.handle_packet(&d) {
                self.error.get_or_insert(e.to_string());
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        if let Err(e) = self.dtls.handle_timeout(now) {
            self.error.get_or_insert(e.to_string());
        }
    }
}

fn ours(cert: &DtlsCert) -> Box<dyn DtlsInstance> {
    browser_like_provider()
        .dtls_provider
        .new_dtls(cert, Instant::now(), DtlsVersion::Dtls12, Some(1150))
        .expect("an OpenSSL DTLS session")
}

fn dimpl(cert: &DtlsCert) -> Box<dyn DtlsInstance> {
    str0m::crypto::from_feature_flags()
        .dtls_provider
        .new_dtls(cert, Instant::now(), DtlsVersion::Dtls12, Some(1150))
        .expect("a dimpl DTLS session")
}

fn ecdsa_certificate() -> DtlsCert {
    browser_like_provider()
        .dtls_provider
        .generate_certificate()
        .expect("an ECDSA certificate")
}

/// Runs both sides until both are connected, one fails, or `limit` of wall time passes;
/// `lose_first` drops the client's first flight on the way.
fn handshake(client: &mut Side, server: &mut Side, lose_first: bool, limit: Duration) {
    let start = Instant::now();
    let mut lost = !lose_first;
    while start.elapsed() < limit {
        let now = Instant::now();
        client.tick(now);
        server.tick(now);
        let to_server = client.drain();
        if !to_server.is_empty() && !lost {
            lost = true;
        } else {
            server.receive(to_server);
        }
        client.receive(server.drain());
        if (client.connected && server.connected)
            || client.error.is_some()
            || server.error.is_some()
        {
            let (c, s) = (client.drain(), server.drain());
            server.receive(c);
            client.receive(s);
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_agreed(client: &Side, server: &Side) {
    assert!(
        client.connected && server.connected,
        "client {:?} server {:?}",
        client.error,
        server.error
    );
    let (client_keys, profile) = client.keys.clone().expect("client keys");
    let (server_keys, server_profile) = server.keys.clone().expect("server keys");
    assert_eq!(
        client_keys, server_keys,
        "both ends derive the same SRTP keys"
    );
    assert_eq!(profile, server_profile);
    assert_eq!(profile.keying_material_len(), client_keys.len());
}

#[test]
fn our_client_connects_to_a_server_with_an_rsa_certificate() {
    let rsa = rsa_certificate().expect("an RSA certificate");
    let mut client = Side::new(ours(&ecdsa_certificate()), true);
    let mut server = Side::new(ours(&rsa), false);
    handshake(&mut client, &mut server, false, Duration::from_secs(5));
    assert_agreed(&client, &server);
    assert_eq!(
        client.peer_cert.as_deref(),
        Some(rsa.certificate.as_slice())
    );
    assert_eq!(
        client.keys.as_ref().map(|k| k.1),
        Some(SrtpProfile::AEAD_AES_128_GCM)
    );
}

#[test]
fn our_server_role_serves_an_rsa_client_and_str0ms_dtls_both_ways() {
    let pairs = [
        (
            ours(&rsa_certificate().expect("RSA")),
            ours(&ecdsa_certificate()),
        ),
        (ours(&ecdsa_certificate()), dimpl(&ecdsa_certificate())),
        (dimpl(&ecdsa_certificate()), ours(&ecdsa_certificate())),
    ];
    for (client, server) in pairs {
        let (mut client, mut server) = (Side::new(client, true), Side::new(server, false));
        handshake(&mut client, &mut server, false, Duration::from_secs(5));
        assert_agreed(&client, &server);
    }
}

#[test]
fn str0ms_own_dtls_cannot_reach_an_rsa_server_which_is_why_ours_exists() {
    let mut client = Side::new(dimpl(&ecdsa_certificate()), true);
    let mut server = Side::new(ours(&rsa_certificate().expect("RSA")), false);
    handshake(&mut client, &mut server, false, Duration::from_secs(5));
    assert!(!client.connected, "dimpl connected to an RSA server");
    let failure = client
        .error
        .or(server.error)
        .expect("a failure on one side");
    assert!(!failure.is_empty());
}

#[test]
fn a_lost_first_flight_is_sent_again() {
    let mut client = Side::new(ours(&ecdsa_certificate()), true);
    let mut server = Side::new(ours(&rsa_certificate().expect("RSA")), false);
    // OpenSSL's first resend is after 1 s of wall time.
    handshake(&mut client, &mut server, true, Duration::from_secs(8));
    assert_agreed(&client, &server);
}

#[test]
fn application_data_crosses_once_connected_and_not_before() {
    let mut client = Side::new(ours(&ecdsa_certificate()), true);
    let mut server = Side::new(ours(&rsa_certificate().expect("RSA")), false);
    assert_eq!(client.dtls.send_application_data(b"early").ok(), Some(0));
    handshake(&mut client, &mut server, false, Duration::from_secs(5));
    assert_agreed(&client, &server);
    assert_eq!(client.dtls.send_application_data(b"sctp").ok(), Some(4));
    let datagrams = client.drain();
    server.receive(datagrams);
    server.drain();
    assert_eq!(server.data, vec![b"sctp".to_vec()]);
}

#[test]
fn a_server_that_shares_no_suite_is_reported_by_its_alert() {
    let rsa = rsa_certificate().expect("RSA");
    let mut builder = super::context_builder(&rsa).expect("a context");
    builder
        .set_cipher_list("AES128-SHA")
        .expect("a non-ECDHE suite");
    let server = super::OpensslDtls::new(&builder.build(), Instant::now(), Some(1150));
    let mut server = Side::new(Box::new(server.expect("a session")), false);
    let mut client = Side::new(ours(&ecdsa_certificate()), true);
    handshake(&mut client, &mut server, false, Duration::from_secs(5));
    assert!(!client.connected);
    let client_error = client.error.expect("the client fails");
    assert!(client_error.contains("description=40"), "{client_error}");
    let server_error = server.error.expect("the server fails");
    assert!(
        server_error.contains("no mutually acceptable cipher suite"),
        "{server_error}"
    );
}

#[test]
fn an_empty_datagram_is_a_nudge_not_the_end_of_the_handshake() {
    let mut client = Side::new(ours(&ecdsa_certificate()), true);
    let mut server = Side::new(ours(&rsa_certificate().expect("RSA")), false);
    client.tick(Instant::now());
    // str0m hands its DTLS an empty datagram; OpenSSL would read it as end of stream.
    client.receive(vec![Vec::new()]);
    server.receive(vec![Vec::new()]);
    assert_eq!((client.error.clone(), server.error.clone()), (None, None));
    handshake(&mut client, &mut server, false, Duration::from_secs(5));
    assert_agreed(&client, &server);
}
