//! A light viewer's WebRTC session without str0m's `Rtc`: str0m's ICE agent (controlling, as
//! the offerer), rtcbench's OpenSSL DTLS for the keys, [`SrtpSession`] for the media, and the
//! feedback a browser sends. Sans-IO, driven as a [`NativePeer`](super::super::NativePeer) is:
//! datagrams and time in, datagrams and the next wake-up out.

use super::feedback::{write_nack, write_pli, write_receiver_report, ReportBlock, TwccRecorder};
use super::nack::{unwrap_rtx, NackList, POLL_EVERY};
use super::sdp::{parse_answer, write_offer, Answer, OfferParams, SdpError};
use super::srtp::{Profile, SrtpError, SrtpSession};
use crate::base::WallClock;
use crate::client::native::{PeerOutput, PeerState};
use crate::media::receiver::Receiver;
use crate::media::rtp::{one_byte_extension, RtpPacket};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::crypto::dtls::{DtlsInstance, DtlsOutput, DtlsVersion};
use str0m::crypto::CryptoProvider;
use str0m::ice::{IceAgent, IceAgentEvent, IceCreds, StunMessage, StunPacket};
use str0m::net::Protocol;
use str0m::{Candidate, IceConnectionState};

/// The DTLS record size str0m's peers use, under any path's MTU.
const DTLS_MTU: usize = 1150;
/// How often transport-wide feedback goes back: libwebrtc's default interval.
const TWCC_INTERVAL: Duration = Duration::from_millis(100);
/// How often receiver reports go back: a video receiver's interval in browsers.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// The most queued datagrams out; RTCP and ICE only, so a full queue means a stuck caller.
const MAX_QUEUED: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    #[error("{0}")]
    Sdp(#[from] SdpError),
    #[error("SRTP: {0}")]
    Srtp(#[from] SrtpError),
    #[error("DTLS: {0}")]
    Dtls(String),
    #[error("the server's DTLS certificate does not match the answer's fingerprint")]
    Fingerprint,
    #[error("ICE: {0}")]
    Ice(String),
    #[error("the answer came before an offer")]
    NoOffer,
    #[error("ICE/DTLS did not connect within {0:?}")]
    ConnectTimeout(Duration),
}

/// Datagrams counted, not delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// SRTP that failed authentication or came before the keys.
    pub unauthenticated: u64,
    /// Retransmissions that bring nothing: padding, or a packet that arrived already (a server
    /// probing for bandwidth resends old packets).
    pub padding: u64,
    /// Payload types the answer did not name.
    pub unknown: u64,
}

pub struct LightPeer {
    now: Instant,
    clock: WallClock,
    local_addr: SocketAddr,
    provider: Arc<CryptoProvider>,
    ice: IceAgent,
    dtls: Box<dyn DtlsInstance>,
    dtls_started: bool,
    dtls_due: Option<Instant>,
    fingerprint: String,
    ssrc: u32,
    answer: Option<Answer>,
    remote: Option<SocketAddr>,
    srtp: Option<SrtpSession>,
    state: PeerState,
    pub connected_at: Option<Instant>,
    connect_deadline: Option<(Instant, Duration)>,
    receiver: Receiver,
    twcc: TwccRecorder,
    next_twcc: Option<Instant>,
    next_report: Option<Instant>,
    last_report: [(u64, u64); 2],
    media_ssrcs: [Option<u32>; 2],
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    plain: Vec<u8>,
    /// A retransmission's original, rebuilt.
    repair: Vec<u8>,
    nacks: NackList,
    next_nack: Option<Instant>,
    last_nack_poll: Instant,
    /// The ICE servers a provider named, which this path does not gather from.
    unused_ice_servers: Vec<String>,
    pub dropped: Dropped,
}

impl LightPeer {
    pub fn new(
        receiver: Receiver,
        local_addr: SocketAddr,
        clock: WallClock,
        now: Instant,
    ) -> Result<Self, LightError> {
        let provider = crate::client::dtls::browser_like_provider();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| LightError::Dtls("no certificate".into()))?;
        let digest = provider.sha256_provider.sha256(&cert.certificate);
        let fingerprint = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let dtls = provider
            .dtls_provider
            .new_dtls(&cert, now, DtlsVersion::Dtls12, Some(DTLS_MTU))
            .map_err(|e| LightError::Dtls(e.to_string()))?;
        let mut ice = IceAgent::with_hmac(IceCreds::new(), provider.sha1_hmac_provider);
        ice.set_controlling(true);
        let candidate =
            Candidate::host(local_addr, "udp").map_err(|e| LightError::Ice(e.to_string()))?;
        ice.add_local_candidate(candidate);
        Ok(Self {
            now,
            clock,
            local_addr,
            ice,
            dtls,
            dtls_started: false,
            dtls_due: None,
            ssrc: u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]),
            fingerprint,
            provider,
            answer: None,
            remote: None,
            srtp: None,
            state: PeerState::New,
            connected_at: None,
            connect_deadline: None,
            receiver,
            twcc: TwccRecorder::default(),
            next_twcc: None,
            next_report: None,
            last_report: [(0, 0); 2],
            media_ssrcs: [None; 2],
            out: VecDeque::new(),
            plain: Vec::with_capacity(1500),
            repair: Vec::with_capacity(1500),
            nacks: NackList::default(),
            next_nack: None,
            last_nack_poll: now,
            unused_ice_servers: Vec::new(),
            dropped: Dropped::default(),
        })
    }

    pub fn state(&self) -> PeerState {
        self.state
    }

    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    pub fn receiver_mut(&mut self) -> &mut Receiver {
        &mut self.receiver
    }

    pub fn into_receiver(self) -> Receiver {
        self.receiver
    }

    pub fn create_offer(&mut self) -> String {
        let creds = self.ice.local_credentials().clone();
        self.state = PeerState::Offered;
        write_offer(&OfferParams {
            ice_ufrag: &creds.ufrag,
            ice_pwd: &creds.pass,
            fingerprint: &self.fingerprint,
            cname: &creds.ufrag,
            candidate: Some(self.local_addr),
        })
    }

    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), LightError> {
        if self.state != PeerState::Offered {
            return Err(LightError::NoOffer);
        }
        let answer = parse_answer(sdp)?;
        self.ice.set_remote_credentials(IceCreds {
            ufrag: answer.ice_ufrag.clone(),
            pass: answer.ice_pwd.clone(),
        });
        for addr in &answer.candidates {
            let candidate =
                Candidate::host(*addr, "udp").map_err(|e| LightError::Ice(e.to_string()))?;
            self.ice.add_remote_candidate(candidate);
        }
        // The server opens the handshake only when it says so; otherwise the offerer does.
        self.dtls.set_active(answer.setup != "active");
        self.answer = Some(answer);
        self.state = PeerState::Connecting;
        // The agent schedules nothing until it is first given time: start its checks now,
        // rather than at the driver's idle wake-up a second later.
        self.ice.handle_timeout(self.now);
        self.drain_ice()
    }

    /// Notes the ICE servers a provider named: this path offers its host candidate only.
    pub fn set_unused_ice_servers(&mut self, servers: impl Iterator<Item = String>) {
        self.unused_ice_servers = servers.collect();
    }

    pub fn unused_ice_servers(&self) -> &[String] {
        &self.unused_ice_servers
    }

    /// Gives ICE and DTLS until `now + limit` to connect.
    pub fn set_connect_timeout(&mut self, now: Instant, limit: Duration) {
        self.connect_deadline = Some((now + limit, limit));
    }

    /// A datagram from `source`, told apart by its first byte (RFC 7983).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), LightError> {
        self.now = now;
        match data.first() {
            Some(0..=3) => self.on_stun(source, data),
            Some(20..=63) => {
                self.dtls
                    .handle_packet(data)
                    .map_err(|e| LightError::Dtls(e.to_string()))?;
                self.drain_dtls()?;
            }
            Some(128..=191) => self.on_srtp(data),
            _ => {}
        }
        Ok(())
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), LightError> {
        self.now = now;
        if let Some((deadline, limit)) = self.connect_deadline {
            if self.connected_at.is_none() && now >= deadline {
                return Err(LightError::ConnectTimeout(limit));
            }
        }
        self.ice.handle_timeout(now);
        self.drain_ice()?;
        if self.dtls_started {
            self.dtls
                .handle_timeout(now)
                .map_err(|e| LightError::Dtls(e.to_string()))?;
            self.drain_dtls()?;
        }
        self.send_feedback(now)
    }

    /// The next datagram to send, or when to call [`Self::handle_timeout`] next.
    pub fn poll_output(&mut self) -> PeerOutput {
        if let Some((to, bytes)) = self.out.pop_front() {
            return PeerOutput::Transmit(to, bytes);
        }
        let far = self.now + Duration::from_secs(1);
        let wake = [
            self.ice.poll_timeout(),
            self.dtls_due.filter(|_| self.dtls_started),
            self.next_twcc,
            self.next_nack,
            self.next_report,
            self.connect_deadline
                .filter(|_| self.connected_at.is_none())
                .map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .fold(far, Instant::min);
        PeerOutput::Timeout(wake.max(self.now))
    }

    fn queue(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        if self.out.len() < MAX_QUEUED {
            self.out.push_back((to, bytes));
        }
    }

    fn on_stun(&mut self, source: SocketAddr, data: &[u8]) {
        let Ok(message) = StunMessage::parse(data) else {
            return;
        };
        if !self.ice.accepts_message(&message) {
            return;
        }
        let packet = StunPacket {
            proto: Protocol::Udp,
            source,
            destination: self.local_addr,
            message,
        };
        self.ice.handle_packet(self.now, packet);
        // Events and answers go out on the next poll; ICE errors cannot come from one check.
        let _ = self.drain_ice();
    }

    fn drain_ice(&mut self) -> Result<(), LightError> {
        while let Some(transmit) = self.ice.poll_transmit() {
            self.queue(transmit.destination, transmit.contents.into());
        }
        while let Some(event) = self.ice.poll_event() {
            match event {
                IceAgentEvent::NominatedSend { destination, .. } => {
                    self.remote = Some(destination);
                    if !self.dtls_started {
                        self.dtls_started = true;
                        self.dtls
                            .handle_timeout(self.now)
                            .map_err(|e| LightError::Dtls(e.to_string()))?;
                        self.drain_dtls()?;
                    }
                }
                IceAgentEvent::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    self.state = PeerState::Closed;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn drain_dtls(&mut self) -> Result<(), LightError> {
        let mut buf = vec![0u8; 2048];
        loop {
            match self.dtls.poll_output(&mut buf) {
                DtlsOutput::Packet(p) => {
                    if let Some(remote) = self.remote {
                        let p = p.to_vec();
                        self.queue(remote, p);
                    }
                }
                DtlsOutput::BufferTooSmall { needed } => buf.resize(needed, 0),
                DtlsOutput::Timeout(at) => {
                    self.dtls_due = Some(at);
                    return Ok(());
                }
                DtlsOutput::PeerCert(der) => self.check_fingerprint(der)?,
                DtlsOutput::KeyingMaterial(material, profile) => {
                    let profile = Profile::from_dtls(profile)?;
                    let session = SrtpSession::from_keying_material(
                        &self.provider,
                        profile,
                        &material,
                        self.dtls.is_active(),
                    )?;
                    self.on_connected(session);
                }
                DtlsOutput::CloseNotify => self.state = PeerState::Closed,
                _ => {}
            }
        }
    }

    fn check_fingerprint(&self, der: &[u8]) -> Result<(), LightError> {
        let Some((hash, expected)) = self.answer.as_ref().map(|a| &a.fingerprint) else {
            return Err(LightError::Fingerprint);
        };
        if hash != "sha-256" {
            return Ok(()); // a hash we do not compute: trust the handshake, as str0m does not
        }
        let digest = self.provider.sha256_provider.sha256(der);
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        match hex.join(":").eq_ignore_ascii_case(expected) {
            true => Ok(()),
            false => Err(LightError::Fingerprint),
        }
    }

    fn on_connected(&mut self, session: SrtpSession) {
        self.srtp = Some(session);
        self.state = PeerState::Connected;
        self.connected_at = Some(self.now);
        self.next_twcc = Some(self.now + TWCC_INTERVAL);
        self.next_report = Some(self.now + REPORT_INTERVAL);
        let micros = self.clock.micros_of(self.now);
        self.receiver.on_connected(micros);
    }

    fn on_srtp(&mut self, data: &[u8]) {
        let (Some(srtp), Some(answer)) = (self.srtp.as_mut(), self.answer.as_ref()) else {
            self.dropped.unauthenticated += 1;
            return;
        };
        if (192..=223).contains(&data.get(1).copied().unwrap_or(0)) {
            // Sender reports and the server's own feedback: authenticated, otherwise unused.
            if srtp.unprotect_rtcp(data, &mut self.plain).is_err() {
                self.dropped.unauthenticated += 1;
            }
            return;
        }
        if srtp.unprotect_rtp(data, &mut self.plain).is_err() {
            self.dropped.unauthenticated += 1;
            return;
        }
        let pt = self.plain[1] & 0x7F;
        let (video, audio) = (&answer.video, &answer.audio);
        let kind = match pt {
            p if Some(p) == video.pt => MediaKind::Video,
            p if Some(p) == audio.pt => MediaKind::Audio,
            p if Some(p) == video.rtx_pt => MediaKind::VideoRepair,
            _ => {
                self.dropped.unknown += 1;
                return;
            }
        };
        let section = if kind == MediaKind::Audio {
            audio
        } else {
            video
        };
        let at = self.clock.micros_of(self.now);
        if let Some(seq) = section
            .transport_cc
            .and_then(|id| one_byte_extension(&self.plain, id))
            .filter(|v| v.len() >= 2)
        {
            self.twcc
                .on_packet(u16::from_be_bytes([seq[0], seq[1]]), at);
        }
        if kind == MediaKind::VideoRepair {
            let (Some(pt), Some(ssrc)) = (
                video.pt,
                self.media_ssrcs[1].or(video.ssrcs.first().copied()),
            ) else {
                self.dropped.unknown += 1;
                return;
            };
            let wanted = unwrap_rtx(&self.plain, pt, ssrc, &mut self.repair)
                .is_some_and(|seq| self.nacks.wants(seq));
            if !wanted {
                self.dropped.padding += 1;
                return;
            }
            std::mem::swap(&mut self.plain, &mut self.repair);
        }
        let Ok(packet) = RtpPacket::parse(&self.plain) else {
            self.dropped.unknown += 1;
            return;
        };
        match kind {
            MediaKind::Audio => {
                self.media_ssrcs[0] = Some(packet.ssrc);
                self.receiver.on_audio_packet(&packet, at);
            }
            _ => self.on_video(packet, at),
        }
    }

    /// A video packet, first copy or repair: losses before it are asked for again, and a
    /// key frame when the receiver wants one.
    fn on_video(&mut self, packet: RtpPacket, at: u64) {
        self.media_ssrcs[1] = Some(packet.ssrc);
        self.nacks.on_packet(packet.sequence);
        if self.nacks.is_pending() && self.next_nack.is_none() {
            self.next_nack = Some(self.now.max(self.last_nack_poll + POLL_EVERY));
        }
        self.receiver.on_video_packet(packet, at);
        if self.receiver.take_keyframe_request() {
            if let Some(video) = self.media_ssrcs[1] {
                let mut rtcp = Vec::with_capacity(12);
                write_pli(self.ssrc, video, &mut rtcp);
                self.send_rtcp(&rtcp);
            }
        }
    }

    /// Asks for the video losses that are due, while any are left to ask for.
    fn send_nacks(&mut self, now: Instant) {
        if self.next_nack.is_none_or(|at| now < at) {
            return;
        }
        self.last_nack_poll = now;
        let mut due = Vec::new();
        self.nacks.due(now, &mut due);
        if let (false, Some(video)) = (due.is_empty(), self.media_ssrcs[1]) {
            let mut rtcp = Vec::with_capacity(16 + 4 * due.len());
            write_nack(self.ssrc, video, &due, &mut rtcp);
            self.send_rtcp(&rtcp);
        }
        self.next_nack = self.nacks.is_pending().then(|| now + POLL_EVERY);
    }

    /// Transport-wide feedback every interval, a receiver report every second.
    fn send_feedback(&mut self, now: Instant) -> Result<(), LightError> {
        self.send_nacks(now);
        if self.next_twcc.is_some_and(|at| now >= at) {
            self.next_twcc = Some(now + TWCC_INTERVAL);
            let media = self.media_ssrcs[1].or(self.media_ssrcs[0]).unwrap_or(0);
            if let Some((report, count)) = self.twcc.take_report() {
                let mut rtcp = Vec::with_capacity(64);
                report.write(self.ssrc, media, count, &mut rtcp);
                self.send_rtcp(&rtcp);
            }
        }
        if self.next_report.is_some_and(|at| now >= at) {
            self.next_report = Some(now + REPORT_INTERVAL);
            let blocks = self.report_blocks();
            let mut rtcp = Vec::with_capacity(128);
            let cname = self.ice.local_credentials().ufrag.clone();
            write_receiver_report(self.ssrc, &blocks, &cname, &mut rtcp);
            self.send_rtcp(&rtcp);
        }
        Ok(())
    }

    fn report_blocks(&mut self) -> Vec<ReportBlock> {
        let stats = [&self.receiver.audio.stats, &self.receiver.video.stats];
        let mut blocks = Vec::with_capacity(2);
        for (kind, stats) in stats.into_iter().enumerate() {
            let (Some(ssrc), Some(highest)) = (self.media_ssrcs[kind], stats.highest_extended())
            else {
                continue;
            };
            let (expected, received) = (stats.expected(), stats.received());
            let (was_expected, was_received) = self.last_report[kind];
            let interval_expected = expected.saturating_sub(was_expected);
            let interval_lost =
                interval_expected.saturating_sub(received.saturating_sub(was_received));
            let fraction_lost = match interval_expected {
                0 => 0,
                e => (interval_lost * 256 / e).min(255) as u8,
            };
            self.last_report[kind] = (expected, received);
            blocks.push(ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost: i32::try_from(stats.lost()).unwrap_or(i32::MAX),
                extended_highest_seq: highest as u32,
                jitter: stats.jitter_units(),
                last_sr: 0,
                delay_since_last_sr: 0,
            });
        }
        blocks
    }

    fn send_rtcp(&mut self, rtcp: &[u8]) {
        let (Some(srtp), Some(remote)) = (self.srtp.as_mut(), self.remote) else {
            return;
        };
        let mut protected = Vec::with_capacity(rtcp.len() + 32);
        if srtp.protect_rtcp(rtcp, &mut protected).is_ok() {
            self.queue(remote, protected);
        }
    }
}

/// What a decrypted RTP packet carries, by its payload type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Audio,
    Video,
    /// A retransmission of video (RTX).
    VideoRepair,
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
