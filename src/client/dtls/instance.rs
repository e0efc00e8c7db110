//! One DTLS session on OpenSSL, sans-IO: datagrams in and out through memory, time from the
//! caller. OpenSSL keeps its own retransmission timer on the wall clock; while the handshake
//! runs we give it a turn every [`HANDSHAKE_TURN`], which is when it resends a lost flight.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use dimpl::{CertificateError, CryptoOperation, SecurityError};
use openssl::ssl::{ErrorCode, HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslStream};
use str0m::crypto::dtls::{DtlsImplError, DtlsInstance, DtlsOutput, KeyingMaterial};
use str0m::crypto::dtls::{ProtocolVersion, SrtpProfile};

/// How often a running handshake is given a turn to resend a lost flight.
const HANDSHAKE_TURN: Duration = Duration::from_millis(50);

/// When nothing is due: str0m asks again on its own events.
const IDLE_TURN: Duration = Duration::from_secs(3600);

/// Datagrams queued towards OpenSSL; more are dropped as a full socket buffer drops them
/// (DTLS resends), so a flood from the far side cannot grow memory.
const MAX_QUEUED_DATAGRAMS: usize = 64;

/// RFC 5764's exporter label for SRTP keys.
const SRTP_EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// OpenSSL reports a received alert as this offset plus the alert's code.
const ALERT_REASON_OFFSET: i32 = 1000;
const REASON_NO_SHARED_CIPHER: i32 = 193;
const REASON_NO_SHARED_SIGNATURE_ALGORITHMS: i32 = 376;

/// The memory "socket" OpenSSL reads from and writes to: one datagram per read or write.
#[derive(Debug, Default)]
struct Datagrams {
    incoming: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
}

impl io::Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(datagram) = self.incoming.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // A datagram larger than the read is cut, as a UDP socket cuts it.
        let n = datagram.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram[..n]);
        Ok(n)
    }
}

impl io::Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push_back(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
enum Link {
    Unstarted(Ssl, Datagrams),
    Handshaking(MidHandshakeSslStream<Datagrams>),
    Open(SslStream<Datagrams>),
    Failed,
}

impl Link {
    fn datagrams(&mut self) -> Option<&mut Datagrams> {
        match self {
            Link::Unstarted(_, d) => Some(d),
            Link::Handshaking(mid) => Some(mid.get_mut()),
            Link::Open(stream) => Some(stream.get_mut()),
            Link::Failed => None,
        }
    }
}

/// What str0m polls for, in the order it wants them: the certificate to check against the SDP
/// fingerprint, then the SRTP keys, then "connected".
#[derive(Debug)]
enum Event {
    PeerCert(Vec<u8>),
    Keys(Vec<u8>, SrtpProfile),
    Connected,
    Data(Vec<u8>),
    CloseNotify,
}

/// A DTLS 1.2 session on OpenSSL behind str0m's [`DtlsInstance`].
#[derive(Debug)]
pub struct OpensslDtls {
    link: Link,
    active: Option<bool>,
    outgoing: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    now: Instant,
    close_sent: bool,
    close_received: bool,
}

impl OpensslDtls {
    pub fn new(
        context: &SslContext,
        now: Instant,
        mtu: Option<usize>,
    ) -> Result<Self, openssl::error::ErrorStack> {
        let mut ssl = Ssl::new(context)?;
        if let Some(mtu) = mtu {
            ssl.set_mtu(u32::try_from(mtu).unwrap_or(u32::MAX))?;
        }
        Ok(Self {
            link: Link::Unstarted(ssl, Datagrams::default()),
            active: None,
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            now,
            close_sent: false,
            close_received: false,
        })
    }

    fn is_handshaking(&self) -> bool {
        matches!(self.link, Link::Unstarted(..) | Link::Handshaking(_))
    }

    /// Moves what OpenSSL wrote into our own queue, so a final alert survives a failed link.
    fn collect_outgoing(&mut self) {
        if let Some(datagrams) = self.link.datagrams() {
            self.outgoing.extend(datagrams.outgoing.drain(..));
        }
    }

    /// Gives the handshake a turn: starts it, goes on with it, or reads what an open link got.
    fn advance(&mut self) -> Result<(), DtlsImplError> {
        let Some(active) = self.active else {
            return Ok(());
        };
        let attempt = match std::mem::replace(&mut self.link, Link::Failed) {
            Link::Unstarted(ssl, datagrams) if active => ssl.connect(datagrams),
            Link::Unstarted(ssl, datagrams) => ssl.accept(datagrams),
            Link::Handshaking(mid) => mid.handshake(),
            open @ Link::Open(_) => {
                self.link = open;
                return self.read_application_data();
            }
            Link::Failed => return Ok(()),
        };
        match attempt {
            Ok(stream) => {
                let opened = self.on_open(&stream);
                self.link = Link::Open(stream);
                opened?;
                self.read_application_data()
            }
            Err(HandshakeError::WouldBlock(mid)) => {
                self.link = Link::Handshaking(mid);
                Ok(())
            }
            Err(HandshakeError::SetupFailure(stack)) => Err(failure_of(Some(&stack))),
            Err(HandshakeError::Failure(mut mid)) => {
                self.outgoing.extend(mid.get_mut().outgoing.drain(..));
                Err(failure_of(mid.error().ssl_error()))
            }
        }
    }

    fn on_open(&mut self, stream: &SslStream<Datagrams>) -> Result<(), DtlsImplError> {
        let ssl = stream.ssl();
        let cert = ssl.peer_certificate().and_then(|c| c.to_der().ok()).ok_or(
            DtlsImplError::CertificateError(CertificateError::NoServerCertificateReceived),
        )?;
        let profile = ssl
            .selected_srtp_profile()
            .and_then(|p| super::srtp_profile(p.name()))
            .ok_or(DtlsImplError::SecurityError(
                SecurityError::NoMutuallyAcceptableCipherSuite,
            ))?;
        let mut keys = vec![0; profile.keying_material_len()];
        ssl.export_keying_material(&mut keys, SRTP_EXPORTER_LABEL, None)
            .map_err(|_| operation_failed(CryptoOperation::CompleteKeyExchange))?;
        self.events.push_back(Event::PeerCert(cert));
        self.events.push_back(Event::Keys(keys, profile));
        self.events.push_back(Event::Connected);
        Ok(())
    }

    fn read_application_data(&mut self) -> Result<(), DtlsImplError> {
        let Link::Open(stream) = &mut self.link else {
            return Ok(());
        };
        let mut buf = vec![0; 16 * 1024];
        loop {
            match stream.ssl_read(&mut buf) {
                Ok(n) => self.events.push_back(Event::Data(buf[..n].to_vec())),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    if !self.close_received {
                        self.close_received = true;
                        self.events.push_back(Event::CloseNotify);
                    }
                    if !self.close_sent {
                        // RFC 5246 §7.2.1: answer a close_notify with our own.
                        let _ = stream.shutdown();
                        self.close_sent = true;
                    }
                    return Ok(());
                }
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                Err(e) => return Err(failure_of(e.ssl_error())),
            }
        }
    }
}

impl DtlsInstance for OpensslDtls {
    fn set_active(&mut self, active: bool) {
        self.active = Some(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        // str0m hands over an empty datagram as a nudge; to OpenSSL a zero-length read is the end
        // of the stream, so it only gets a turn.
        if let (false, Some(datagrams)) = (packet.is_empty(), self.link.datagrams()) {
            if datagrams.incoming.len() < MAX_QUEUED_DATAGRAMS {
                datagrams.incoming.push_back(packet.to_vec());
            }
        }
        let result = self.advance();
        self.collect_outgoing();
        result
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        if let Some(datagram) = self.outgoing.front() {
            let n = datagram.len();
            if n > buf.len() {
                return DtlsOutput::BufferTooSmall { needed: n };
            }
            buf[..n].copy_from_slice(datagram);
            self.outgoing.pop_front();
            return DtlsOutput::Packet(&buf[..n]);
        }
        match self.events.pop_front() {
            Some(event) => event_output(event, buf, &mut self.events),
            None if self.is_handshaking() => DtlsOutput::Timeout(self.now + HANDSHAKE_TURN),
            None => DtlsOutput::Timeout(self.now + IDLE_TURN),
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.now = now;
        if !self.is_handshaking() {
            return Ok(());
        }
        let result = self.advance();
        self.collect_outgoing();
        result
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        let Link::Open(stream) = &mut self.link else {
            // Not accepted yet: str0m keeps it and offers it again once we are connected.
            return Ok(0);
        };
        if data.is_empty() || self.close_sent {
            return Ok(0);
        }
        stream
            .ssl_write(data)
            .map_err(|e| failure_of(e.ssl_error()))?;
        self.collect_outgoing();
        Ok(data.len())
    }

    fn is_active(&self) -> bool {
        self.active.unwrap_or(false)
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        matches!(self.link, Link::Open(_)).then_some(ProtocolVersion::DTLS1_2)
    }

    fn is_closing(&self) -> bool {
        self.close_sent || self.close_received
    }

    fn is_closed(&self) -> bool {
        self.close_sent && self.outgoing.is_empty()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        if let Link::Open(stream) = &mut self.link {
            let _ = stream.shutdown();
        }
        self.close_sent = true;
        self.collect_outgoing();
        Ok(())
    }
}

/// An event as str0m's output type, its bytes copied into `buf`; one that does not fit goes
/// back to the front of the queue.
fn event_output<'a>(
    event: Event,
    buf: &'a mut [u8],
    events: &mut VecDeque<Event>,
) -> DtlsOutput<'a> {
    let bytes = match &event {
        Event::PeerCert(b) | Event::Keys(b, _) | Event::Data(b) => b.as_slice(),
        Event::Connected => return DtlsOutput::Connected,
        Event::CloseNotify => return DtlsOutput::CloseNotify,
    };
    let n = bytes.len();
    if n > buf.len() {
        events.push_front(event);
        return DtlsOutput::BufferTooSmall { needed: n };
    }
    buf[..n].copy_from_slice(bytes);
    match event {
        Event::PeerCert(_) => DtlsOutput::PeerCert(&buf[..n]),
        Event::Keys(_, profile) => {
            DtlsOutput::KeyingMaterial(KeyingMaterial::new(&buf[..n]), profile)
        }
        _ => DtlsOutput::ApplicationData(&buf[..n]),
    }
}

fn operation_failed(operation: CryptoOperation) -> DtlsImplError {
    DtlsImplError::CryptoError(dimpl::CryptoError::OperationFailed(operation))
}

/// OpenSSL's reason as the structured error str0m reports: a received alert keeps its number,
/// so the message a user sees names it as it would for str0m's own DTLS.
fn failure_of(stack: Option<&openssl::error::ErrorStack>) -> DtlsImplError {
    let reasons = stack
        .into_iter()
        .flat_map(|s| s.errors())
        .map(|e| e.reason_code());
    for reason in reasons {
        match reason {
            r if (ALERT_REASON_OFFSET..ALERT_REASON_OFFSET + 256).contains(&r) => {
                let description = (r - ALERT_REASON_OFFSET) as u8;
                return DtlsImplError::SecurityError(SecurityError::FatalAlert { description });
            }
            REASON_NO_SHARED_CIPHER => {
                return DtlsImplError::SecurityError(SecurityError::NoMutuallyAcceptableCipherSuite)
            }
            REASON_NO_SHARED_SIGNATURE_ALGORITHMS => {
                return DtlsImplError::CryptoError(
                    dimpl::CryptoError::SignatureAlgorithmNotOfferedByClient,
                )
            }
            _ => {}
        }
    }
    operation_failed(CryptoOperation::CompleteKeyExchange)
}
