//! A WebRTC peer on str0m in RTP mode: our sender's packets go out through str0m (SRTP, pacing,
//! NACK/RTX, RTCP) and str0m's incoming RTP feeds our receiver untouched, so every provider is
//! measured by the same code as the simulated link.

use super::ice_servers::{
    candidate_ips, IceServerAgent, IceServerEvent, Received, ResolvedIceServer,
};
pub use super::sdp::{codec_of, negotiated_pt, udp_input};
use super::sdp::{extend_sequence, nack_negotiated, simulcast_of, trickle_fragment};
use crate::base::clock::WallClock;
use crate::client::link::Scheme;
use crate::media::receiver::Receiver;
use crate::media::rtp::RtpPacket as OurPacket;
use crate::media::sender::MediaSender;
use crate::media::simulcast::{layer_of_rid, ProbeRamp};
use std::net::SocketAddr;
use std::time::{Instant, UNIX_EPOCH};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// The RTP header extension id we offer for abs-capture-time.
const ABS_CAPTURE_TIME_EXT_ID: u8 = 7;
/// The first estimate, as a multiple of what we mean to send: enough that the pacer does not
/// hold the first key frame behind a low guess.
const BWE_START_HEADROOM: u64 = 2;
/// How far above the media rate the estimator probes. str0m paces at 1.1x the estimate (libwebrtc
/// at 2.5x), and a key frame is 10-20 mean frames; with the estimate held near twice the media rate,
/// each key frame queued 100-300 ms in the pacer and the e2e p95 of a clean loopback call swung
/// from 14 ms to over 100 ms. On a constrained link the estimate stops where the link does.
const BWE_PROBE_HEADROOM: u64 = 8;
/// The encoder is never asked for less than this, however low the estimate.
const MIN_VIDEO_KBPS: u64 = 100;

pub use super::error::ClientError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    New,
    Offered,
    Connecting,
    Connected,
    Closed,
}

/// What a peer does with media.
pub enum Role {
    Publish(Box<MediaSender>),
    Subscribe(Box<Receiver>),
}

/// Which local candidates a peer offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IcePolicy {
    /// Host, server-reflexive and relayed.
    #[default]
    All,
    /// Relayed only: every packet goes through the provider's TURN server.
    Relay,
}

pub struct NativePeer {
    rtc: Rtc,
    policy: IcePolicy,
    /// Gathering from, and relaying through, the ICE servers the provider named.
    ice_servers: Option<IceServerAgent>,
    /// Our offer: a trickled candidate names its ICE credentials and first media section.
    offer_sdp: Option<String>,
    /// The latest instant we were given (ICE-server output is stamped with it).
    now: Instant,
    local_addr: SocketAddr,
    role: Role,
    clock: WallClock,
    state: PeerState,
    pending: Option<SdpPendingOffer>,
    video_mid: Option<Mid>,
    audio_mid: Option<Mid>,
    /// The payload types the remote accepted, looked up once connected.
    send_pts: Option<(Option<Pt>, Option<Pt>)>,
    /// Extended sequence numbers for what we write, per SSRC (str0m wants the rollover count).
    sequences: Vec<(u32, u64)>,
    pub connected_at: Option<Instant>,
    /// Whether NACKs are settled for the video receive stream: allowed on it, or not negotiated
    /// (see [`Self::allow_nacks`]).
    nacks_settled: bool,
    /// (deadline, limit) for ICE and DTLS to connect, once set.
    connect_deadline: Option<(Instant, std::time::Duration)>,
    /// While a simulcast layer is off, the estimator is asked for more and more, so str0m probes
    /// (measured: the top layer back 14.5 s after an 800 kbps uplink cap lifted without it, 5.2 s
    /// with it).
    layer_probe: ProbeRamp,
}

/// One step of output from a peer.
pub enum PeerOutput {
    Transmit(SocketAddr, Vec<u8>),
    Timeout(Instant),
    IceServer(IceServerOutcome),
}

/// What came of an ICE server the provider named.
#[derive(Debug, Clone)]
pub enum IceServerOutcome {
    /// A candidate gathered from it, as an SDP fragment to trickle to the remote side.
    Trickle { server: String, fragment: String },
    /// It could not be used.
    Failed { server: String, reason: String },
}

impl NativePeer {
    pub fn new(
        role: Role,
        local_addr: SocketAddr,
        clock: WallClock,
        now: Instant,
    ) -> Result<Self, ClientError> {
        Self::with_policy(role, local_addr, clock, now, IcePolicy::All)
    }

    /// As [`Self::new`]; with [`IcePolicy::Relay`] only TURN-relayed candidates are offered, as
    /// a browser's `iceTransportPolicy: "relay"` does.
    pub fn with_policy(
        role: Role,
        local_addr: SocketAddr,
        clock: WallClock,
        now: Instant,
        policy: IcePolicy,
    ) -> Result<Self, ClientError> {
        let mut config = RtcConfig::new()
            .set_crypto_provider(super::dtls::browser_like_provider())
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .set_rtp_mode(true)
            .set_extension(ABS_CAPTURE_TIME_EXT_ID, Extension::AbsoluteCaptureTime);
        if let Role::Publish(s) = &role {
            config =
                config.enable_bwe(Some(Bitrate::bps(BWE_START_HEADROOM * Self::wanted_bps(s))));
        }
        let mut rtc = config.build(now);
        if let Role::Publish(s) = &role {
            rtc.bwe().set_bitrate(
                Bitrate::kbps(MIN_VIDEO_KBPS),
                Bitrate::bps(BWE_PROBE_HEADROOM * Self::wanted_bps(s)),
            );
        }
        if policy == IcePolicy::All {
            let candidate = Candidate::host(local_addr, "udp")
                .map_err(|e| ClientError::Candidate(e.to_string()))?;
            rtc.add_local_candidate(candidate);
        }
        Ok(Self {
            policy,
            ice_servers: None,
            offer_sdp: None,
            now,
            rtc,
            local_addr,
            role,
            clock,
            state: PeerState::New,
            pending: None,
            video_mid: None,
            audio_mid: None,
            send_pts: None,
            sequences: Vec::new(),
            connected_at: None,
            nacks_settled: false,
            connect_deadline: None,
            layer_probe: ProbeRamp::default(),
        })
    }

    fn wanted_bps(s: &MediaSender) -> u64 {
        s.config().video_bitrate_bps as u64 + s.config().audio_bitrate_bps.unwrap_or(0) as u64
    }

    /// Raises the rate asked of the estimator step by step while a layer is off; back to the
    /// usual once every layer is on.
    fn probe_for_layers(&mut self, all_on: bool, wanted_bps: u64) {
        let usual = BWE_PROBE_HEADROOM * wanted_bps;
        let min = Bitrate::kbps(MIN_VIDEO_KBPS);
        if all_on {
            if self.layer_probe.stop() {
                self.rtc.bwe().set_bitrate(min, Bitrate::bps(usual));
            }
            return;
        }
        if let Some(step) = self.layer_probe.due(self.now) {
            let raised = usual as f64 * ProbeRamp::factor(step);
            self.rtc.bwe().set_bitrate(min, Bitrate::bps(raised as u64));
        }
    }

    pub fn state(&self) -> PeerState {
        self.state
    }

    pub fn receiver(&self) -> Option<&Receiver> {
        match &self.role {
            Role::Subscribe(r) => Some(r),
            Role::Publish(_) => None,
        }
    }

    pub fn receiver_mut(&mut self) -> Option<&mut Receiver> {
        match &mut self.role {
            Role::Subscribe(r) => Some(r),
            Role::Publish(_) => None,
        }
    }

    /// The sender or receiver, to carry into the next connection of a session that rejoins.
    pub fn into_role(self) -> Role {
        self.role
    }

    pub fn sender(&self) -> Option<&MediaSender> {
        match &self.role {
            Role::Publish(s) => Some(s),
            Role::Subscribe(_) => None,
        }
    }

    /// The SDP offer: send-only audio and video to publish, receive-only to subscribe.
    pub fn create_offer(&mut self) -> Result<String, ClientError> {
        let direction = match self.role {
            Role::Publish(_) => Direction::SendOnly,
            Role::Subscribe(_) => Direction::RecvOnly,
        };
        let simulcast = self.sender().and_then(|s| simulcast_of(s.config()));
        let mut api = self.rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, direction, None, None, None);
        let video = api.add_media(MediaKind::Video, direction, None, None, simulcast);
        let (offer, pending) = api
            .apply()
            .ok_or(ClientError::Rejected("offer (nothing to negotiate)"))?;
        self.audio_mid = Some(audio);
        self.video_mid = Some(video);
        self.pending = Some(pending);
        self.state = PeerState::Offered;
        let sdp = offer.to_sdp_string();
        self.offer_sdp = Some(sdp.clone());
        Ok(sdp)
    }

    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), ClientError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        let pending = self
            .pending
            .take()
            .ok_or(ClientError::BadAnswer("no offer is pending".into()))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        for (mid, what) in [(self.video_mid, "video"), (self.audio_mid, "audio")] {
            let accepted = mid
                .and_then(|m| self.rtc.media(m))
                .is_some_and(|m| !m.remote_pts().is_empty());
            if !accepted {
                return Err(ClientError::Rejected(what));
            }
        }
        self.state = PeerState::Connecting;
        self.allow_nacks();
        if matches!(self.role, Role::Subscribe(_)) {
            self.drop_send_streams();
        }
        Ok(())
    }

    /// str0m declares send streams for the SSRCs it pre-allocates in every offer, receive-only
    /// ones too, and then sends RTCP sender reports for SSRCs nothing is ever sent on (Medooze
    /// logs each one); a viewer sends receiver reports only.
    fn drop_send_streams(&mut self) {
        let mut api = self.rtc.direct_api();
        for mid in [self.video_mid, self.audio_mid].into_iter().flatten() {
            while let Some(ssrc) = api.stream_tx_by_mid(mid, None).map(|s| s.ssrc()) {
                api.remove_stream_tx(ssrc);
            }
        }
    }

    /// str0m sends no NACK for a stream whose remote declared no RTX; browsers do whenever
    /// `nack` feedback is negotiated, and servers such as Pion's resend on the main SSRC
    /// (RFC 4585). The stream may exist from the answer's a=ssrc lines or only from its first
    /// packet, so this runs on both.
    fn allow_nacks(&mut self) {
        if self.nacks_settled || !matches!(self.role, Role::Subscribe(_)) {
            return;
        }
        let Some(mid) = self.video_mid else {
            return;
        };
        // What was negotiated does not change: without `nack` there is nothing to look up
        // on later packets.
        if !nack_negotiated(&self.rtc, mid) {
            self.nacks_settled = true;
            return;
        }
        if let Some(rx) = self.rtc.direct_api().stream_rx_by_mid(mid, None) {
            rx.suppress_nack(false);
            self.nacks_settled = true;
        }
    }

    /// Answers a remote offer (used by the embedded provider's tests and by peer-to-peer calls).
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, ClientError> {
        let offer =
            SdpOffer::from_sdp_string(sdp).map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        self.state = PeerState::Connecting;
        Ok(answer.to_sdp_string())
    }

    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), ClientError> {
        self.now = now;
        let (source, destination, data) = match self.ice_servers.as_mut() {
            None => (source, self.local_addr, std::borrow::Cow::Borrowed(data)),
            Some(agent) => match agent.handle_receive(now, source, data) {
                Received::Consumed => return Ok(()),
                Received::Direct(d) => (source, self.local_addr, std::borrow::Cow::Borrowed(d)),
                Received::Relayed {
                    peer,
                    relayed,
                    data,
                } => (peer, relayed, std::borrow::Cow::Owned(data)),
            },
        };
        // A datagram str0m cannot read is ignored, as a socket would.
        let Some(input) = udp_input(now, source, destination, &data) else {
            return Ok(());
        };
        if self.rtc.accepts(&input) {
            self.rtc.handle_input(input)?;
        }
        Ok(())
    }

    /// Gives ICE and DTLS until `now + limit` to connect; after that the peer fails.
    pub fn set_connect_timeout(&mut self, now: Instant, limit: std::time::Duration) {
        self.connect_deadline = Some((now + limit, limit));
    }

    fn pending_connect_deadline(&self) -> Option<(Instant, std::time::Duration)> {
        self.connect_deadline
            .filter(|_| self.connected_at.is_none())
    }

    /// Gathers from the ICE servers a provider named (after its answer, which lists the remote
    /// candidates a TURN relay must be allowed to reach); candidates come out of
    /// [`Self::poll_output`] to be trickled.
    pub fn use_ice_servers(&mut self, servers: Vec<ResolvedIceServer>, answer_sdp: &str) {
        let servers = servers
            .into_iter()
            .filter(|s| {
                self.policy == IcePolicy::All
                    || matches!(s.server.url.scheme, Scheme::Turn | Scheme::Turns)
            })
            .collect::<Vec<_>>();
        if !servers.is_empty() {
            let remote = candidate_ips(answer_sdp);
            self.ice_servers = Some(IceServerAgent::new(
                self.local_addr,
                servers,
                remote,
                self.now,
            ));
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientError> {
        self.now = now;
        if let Some(agent) = self.ice_servers.as_mut() {
            agent.handle_timeout(now);
        }
        if let Some((deadline, limit)) = self.pending_connect_deadline() {
            if now >= deadline {
                return Err(ClientError::ConnectTimeout(limit));
            }
        }
        self.rtc.handle_input(Input::Timeout(now))?;
        self.capture_and_send(now)
    }

    /// Drives str0m until it wants to wait; events are handled on the way.
    pub fn poll_output(&mut self) -> Result<PeerOutput, ClientError> {
        if let Some(out) = self.poll_ice_servers() {
            return Ok(out);
        }
        loop {
            match self.rtc.poll_output()? {
                Output::Transmit(t) => {
                    let Some(agent) = self.ice_servers.as_mut() else {
                        return Ok(PeerOutput::Transmit(t.destination, t.contents.to_vec()));
                    };
                    if !agent.is_relayed(t.source) {
                        return Ok(PeerOutput::Transmit(t.destination, t.contents.to_vec()));
                    }
                    // Without a permission yet the relay drops it; ICE and SRTP resend as usual.
                    if let Some((to, data)) =
                        agent.relay(self.now, t.source, t.destination, &t.contents)
                    {
                        return Ok(PeerOutput::Transmit(to, data));
                    }
                }
                Output::Timeout(t) => {
                    let t = match self
                        .ice_servers
                        .as_mut()
                        .and_then(|a| a.poll_timeout(self.now))
                    {
                        Some(due) => t.min(due),
                        None => t,
                    };
                    let media_due = match (&self.role, self.state) {
                        (Role::Publish(s), PeerState::Connected) => {
                            Some(self.clock.instant_of(s.poll_timeout()))
                        }
                        _ => None,
                    };
                    let deadline = self.pending_connect_deadline().map(|(d, _)| d);
                    let wake = [media_due, deadline]
                        .into_iter()
                        .flatten()
                        .fold(t, Instant::min);
                    return Ok(PeerOutput::Timeout(wake));
                }
                Output::Event(e) => self.on_event(e),
            }
        }
    }

    /// ICE servers that had given nothing by now (call when the session ends).
    pub fn unfinished_ice_servers(&self) -> Vec<IceServerOutcome> {
        self.ice_servers
            .iter()
            .flat_map(|a| a.unfinished())
            .map(|(server, reason)| IceServerOutcome::Failed {
                server,
                reason: reason.to_string(),
            })
            .collect()
    }

    fn poll_ice_servers(&mut self) -> Option<PeerOutput> {
        let agent = self.ice_servers.as_mut()?;
        if let Some((to, data)) = agent.poll_transmit(self.now) {
            return Some(PeerOutput::Transmit(to, data));
        }
        match agent.poll_event()? {
            IceServerEvent::Failed { server, reason } => {
                Some(PeerOutput::IceServer(IceServerOutcome::Failed {
                    server,
                    reason,
                }))
            }
            IceServerEvent::Gathered { server, candidate } => {
                let line = candidate.to_sdp_string();
                if self.rtc.add_local_candidate(candidate).is_none() {
                    // The same address as a candidate we have (no NAT between us and the server).
                    return Some(PeerOutput::IceServer(IceServerOutcome::Failed {
                        server,
                        reason: "gave no new candidate (same address as one we have)".into(),
                    }));
                }
                let fragment = trickle_fragment(self.offer_sdp.as_deref().unwrap_or(""), &line);
                Some(PeerOutput::IceServer(IceServerOutcome::Trickle {
                    server,
                    fragment,
                }))
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => {
                self.state = PeerState::Connected;
                // Time comes in with the input (sans-IO), so simulated time works as real time.
                self.connected_at = Some(self.now);
                let now = self.clock.micros_of(self.now);
                if let Role::Subscribe(r) = &mut self.role {
                    r.on_connected(now);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                self.state = PeerState::Closed;
            }
            Event::MediaAdded(m) => match m.kind {
                MediaKind::Video => self.video_mid = Some(m.mid),
                MediaKind::Audio => self.audio_mid = Some(m.mid),
            },
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                if let Role::Publish(s) = &mut self.role {
                    // Leave headroom for audio and retransmissions, as libwebrtc does.
                    let audio = s.config().audio_bitrate_bps.unwrap_or(0) as f64;
                    let video =
                        (estimate.as_f64() * 0.9 - audio).max(MIN_VIDEO_KBPS as f64 * 1000.0);
                    let all_on = s.set_video_bitrate(video as u32);
                    let wanted = Self::wanted_bps(s);
                    self.probe_for_layers(all_on, wanted);
                }
            }
            Event::KeyframeRequest(request) => {
                if let Role::Publish(s) = &mut self.role {
                    let layer = request.rid.and_then(|rid| {
                        let count = s.config().lower_layers.len() + 1;
                        layer_of_rid(&rid, count).map(|i| s.config().layer_ssrc(i))
                    });
                    match layer {
                        Some(ssrc) => s.request_keyframe_on(ssrc),
                        None => s.request_keyframe(),
                    }
                }
            }
            Event::RtpPacket(p) => {
                let at = self.clock.micros_of(p.timestamp);
                let is_video = codec_of(&self.rtc, p.header.payload_type) == Some(Codec::H264);
                let packet = OurPacket {
                    payload_type: *p.header.payload_type,
                    marker: p.header.marker,
                    sequence: p.header.sequence_number,
                    timestamp: p.header.timestamp,
                    ssrc: *p.header.ssrc,
                    abs_capture_us: p.header.ext_vals.abs_capture_time.and_then(|a| {
                        a.capture_time
                            .duration_since(UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_micros() as u64)
                    }),
                    payload: p.payload.to_vec(),
                };
                if is_video {
                    self.allow_nacks();
                }
                if let Role::Subscribe(r) = &mut self.role {
                    if is_video {
                        r.on_video_packet(packet, at);
                    } else {
                        r.on_audio_packet(&packet, at);
                    }
                    if r.take_keyframe_request() {
                        if let Some(mid) = self.video_mid {
                            if let Some(rx) = self.rtc.direct_api().stream_rx_by_mid(mid, None) {
                                rx.request_keyframe(str0m::media::KeyframeRequestKind::Pli);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[path = "native_send.rs"]
mod send;

#[cfg(test)]
#[path = "native_tests.rs"]
mod tests;
