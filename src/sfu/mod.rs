//! The reference SFU inside rtcbench: str0m peers behind one UDP socket, rooms keyed by path,
//! RTP forwarded untouched from each room's publisher to its subscribers, NACK/RTX towards each
//! subscriber and key-frame requests passed upstream. Sans-IO here; `server` adds sockets and HTTP.

pub mod api;
mod census;
pub mod cost;
mod driving;
pub mod faults;
mod forwarding;
mod ingested;
mod layers;
pub mod live_out;
pub mod live_room;
pub mod quirks;
pub mod relay;
mod rtmp_listener;
mod sequence;
pub mod server;
pub mod simulcast;
mod worker;

use crate::client::native::negotiated_pt;
use census::{Admission, Census};
use layers::{LayerTag, PublisherLayers};
use live_out::LiveEvent;
use quirks::{Quirks, ResendCache};
use sequence::SubscriberSequence;
use simulcast::{LayerRates, LayerSelector};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{MediaKind, Mid, Pt};
use str0m::rtp::rtcp::Rtcp;
use str0m::rtp::{ExtensionValues, RawPacket, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Rtc, RtcConfig};

#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error("the SDP offer does not parse: {0}")]
    BadOffer(String),
    #[error("the SDP offer cannot be answered: {0}")]
    Negotiation(String),
    #[error("room \"{0}\" already has a publisher")]
    RoomTaken(String),
    #[error("no session {0}")]
    NoSession(u64),
    #[error("room \"{0}\" is full ({1} viewers)")]
    RoomFull(String, usize),
    #[error("candidate \"{0}\" does not parse")]
    BadCandidate(String),
    #[error("cannot make the server's RSA certificate: {0}")]
    Certificate(String),
    #[error("no stream is published in room \"{0}\" yet")]
    NotPublished(String),
    #[error("room \"{0}\" has one layer: its publisher does not send simulcast")]
    OneLayer(String),
    #[error("no layer \"{rid}\" in room \"{room}\"; its layers are {offered}")]
    NoSuchLayer {
        room: String,
        rid: String,
        offered: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Publisher,
    Subscriber,
}

struct SfuPeer {
    id: u64,
    room: String,
    side: Side,
    rtc: Rtc,
    video_mid: Option<Mid>,
    audio_mid: Option<Mid>,
    /// The payload types this peer accepted, fixed once its media is added.
    video_pt: Option<Pt>,
    audio_pt: Option<Pt>,
    /// What was forwarded, to resend on the main SSRC (only under `retransmit_without_rtx`).
    resend: Option<ResendCache>,
    video_sequence: SubscriberSequence,
    audio_sequence: SubscriberSequence,
    /// When the peer next wants a timeout, as its last drain said.
    due: Option<Instant>,
    /// A publisher's simulcast layers.
    layers: Option<PublisherLayers>,
    /// A viewer's layer of a simulcast room.
    selector: Option<LayerSelector>,
}

pub struct Sfu {
    local_addr: SocketAddr,
    peers: Vec<SfuPeer>,
    next_id: u64,
    /// Viewers a room takes before refusing more, as providers cap rooms.
    max_viewers: Option<usize>,
    quirks: Quirks,
    /// The RSA certificate `quirks.rsa_certificate` asks for, made once per server.
    rsa_certificate: Option<str0m::crypto::dtls::DtlsCert>,
    /// What the CDN edge is to package, when it is on (and the instant its times count from).
    live: Option<(Instant, Vec<LiveEvent>)>,
    /// Rooms published over RTMP (`ingested.rs`).
    ingested: std::collections::HashMap<String, ingested::IngestedRoom>,
    /// Which peer took the last datagram from an address: most datagrams skip the search.
    by_source: HashMap<SocketAddr, usize>,
    /// What the peers' drains gave: datagrams to send, and events (by peer index) to act on.
    outbox: Vec<Transmit>,
    events: VecDeque<(usize, Event)>,
    /// A drained peer was dead: the next poll removes it.
    some_dead: bool,
    /// Who is in each room, across the workers.
    census: Census,
    /// Session ids go up by this much (the number of workers), so each names its worker.
    id_stride: u64,
    /// What this worker keeps for the others, when there are others.
    relay: Option<Vec<relay::Relayed>>,
    /// Packets written to subscribers.
    forwarded: u64,
    /// The incoming rate of each simulcast room's layers, as this worker sees them.
    room_rates: HashMap<String, LayerRates>,
    /// The latest instant given with input.
    latest: Option<Instant>,
    /// Key-frame requests to this worker's publishers, combined per room and layer.
    keyframe_requests: simulcast::KeyframeRequests,
}

/// A packet of a room's stream as every viewer gets it, before each viewer's numbering.
struct RoomPacket<'a> {
    is_video: bool,
    seq_no: SeqNo,
    rtp_time: u32,
    wallclock: Instant,
    marker: bool,
    payload: &'a [u8],
    ext: ExtensionValues,
    /// Its simulcast layer, in a simulcast room.
    layer: Option<LayerTag>,
}

pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

impl Sfu {
    pub fn new(local_addr: SocketAddr) -> Self {
        Self {
            local_addr,
            peers: Vec::new(),
            next_id: 1,
            max_viewers: None,
            quirks: Quirks::default(),
            rsa_certificate: None,
            live: None,
            ingested: Default::default(),
            by_source: HashMap::new(),
            outbox: Vec::new(),
            events: VecDeque::new(),
            some_dead: false,
            census: Census::default(),
            id_stride: 1,
            relay: None,
            forwarded: 0,
            room_rates: HashMap::new(),
            latest: None,
            keyframe_requests: Default::default(),
        }
    }

    /// Worker `index` of `count`: session ids `k * count + index`, rooms counted in `census`,
    /// and what its publishers send kept for the other workers when there are others.
    fn worker(mut self, index: usize, count: usize, census: Census) -> Self {
        self.id_stride = count.max(1) as u64;
        self.next_id = self.id_stride + index as u64;
        self.census = census;
        self.relay = (count > 1).then(Vec::new);
        self
    }

    /// Packets written to subscribers so far.
    pub fn forwarded_packets(&self) -> u64 {
        self.forwarded
    }

    /// Subscriber tracks this worker forwards to now (video and audio counted apart).
    pub fn forwarding_tracks(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.side == Side::Subscriber && p.rtc.is_connected())
            .map(|p| {
                usize::from(p.video_mid.zip(p.video_pt).is_some())
                    + usize::from(p.audio_mid.zip(p.audio_pt).is_some() && !self.quirks.drop_audio)
            })
            .sum()
    }

    /// The same server after a restart: no sessions, and new session numbers that never
    /// repeat one a client may still hold.
    pub fn restarted(&self) -> Self {
        for peer in &self.peers {
            self.census.left(&peer.room, peer.side);
        }
        for room in self.ingested.keys() {
            self.census.left(room, Side::Publisher);
        }
        Self {
            next_id: self.next_id,
            id_stride: self.id_stride,
            census: self.census.clone(),
            relay: self.relay.as_ref().map(|_| Vec::new()),
            forwarded: self.forwarded,
            max_viewers: self.max_viewers,
            quirks: self.quirks,
            rsa_certificate: self.rsa_certificate.clone(),
            live: self.live.as_ref().map(|(epoch, _)| (*epoch, Vec::new())),
            ..Self::new(self.local_addr)
        }
    }

    /// Behaves as another server would in the ways `quirks` names (for tests).
    pub fn with_quirks(mut self, quirks: Quirks) -> Result<Self, SfuError> {
        self.quirks = quirks;
        if quirks.rsa_certificate {
            let cert = crate::client::dtls::rsa_certificate()
                .map_err(|e| SfuError::Certificate(e.to_string()))?;
            self.rsa_certificate = Some(cert);
        }
        Ok(self)
    }

    /// Hands each publisher's video to the CDN edge ([`Self::drain_live`]).
    pub fn with_live_out(mut self, now: Instant) -> Self {
        self.live = Some((now, Vec::new()));
        self
    }

    /// What the CDN edge has to package since the last call.
    pub fn drain_live(&mut self) -> Vec<LiveEvent> {
        self.live
            .as_mut()
            .map(|(_, events)| std::mem::take(events))
            .unwrap_or_default()
    }

    fn live_event(&mut self, event: LiveEvent) {
        if let Some((_, events)) = self.live.as_mut() {
            events.push(event);
        }
    }

    /// Refuses viewers beyond `max` in any one room.
    pub fn with_max_viewers(mut self, max: Option<usize>) -> Self {
        self.max_viewers = max;
        self
    }

    /// Answers a WHIP (publish) or WHEP (play) offer; returns the session id and the answer.
    pub fn join(
        &mut self,
        room: &str,
        publish: bool,
        offer: &str,
        now: Instant,
    ) -> Result<(u64, String), SfuError> {
        let side = if publish {
            Side::Publisher
        } else {
            Side::Subscriber
        };
        self.admit(room, side)?;
        let joined = self.negotiate(room, side, offer, now);
        if joined.is_err() {
            self.census.left(room, side);
        }
        joined
    }

    fn negotiate(
        &mut self,
        room: &str,
        side: Side,
        offer: &str,
        now: Instant,
    ) -> Result<(u64, String), SfuError> {
        let publish = side == Side::Publisher;
        let estimated = if publish {
            self.census.mark_layers(room, layers::offered_rids(offer));
            false
        } else {
            self.census.is_simulcast(room)
        };
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| SfuError::BadOffer(e.to_string()))?;
        let mut rtc = self.peer_config(publish, estimated).build(now);
        let candidate = Candidate::host(self.local_addr, "udp")
            .map_err(|e| SfuError::Negotiation(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| SfuError::Negotiation(e.to_string()))?;
        let id = self.next_id;
        self.next_id += self.id_stride;
        let resend = (!publish && self.quirks.retransmit_without_rtx).then(ResendCache::default);
        let answer = match resend {
            Some(_) => quirks::without_rtx(&answer.to_sdp_string()),
            None => answer.to_sdp_string(),
        };
        self.peers.push(SfuPeer {
            id,
            room: room.to_string(),
            side,
            rtc,
            video_mid: None,
            audio_mid: None,
            video_pt: None,
            audio_pt: None,
            resend,
            video_sequence: SubscriberSequence::default(),
            audio_sequence: SubscriberSequence::default(),
            due: None,
            layers: None,
            selector: None,
        });
        self.drain(self.peers.len() - 1);
        if publish {
            self.live_event(LiveEvent::Started(room.to_string()));
        }
        if !publish {
            self.request_keyframe_of(room, None);
        }
        Ok((id, answer))
    }

    /// Refuses a second publisher, a viewer beyond the room's cap, and (under that quirk) a
    /// viewer of a room nobody publishes to yet; counts the peer in otherwise.
    fn admit(&self, room: &str, side: Side) -> Result<(), SfuError> {
        let rules = Admission {
            max_viewers: self.max_viewers,
            no_viewers_before_publisher: self.quirks.no_viewers_before_publisher,
        };
        self.census.admit(room, side, rules)
    }

    /// A viewer of a simulcast room gets a bandwidth estimator: its layer follows it. Others
    /// get none, because str0m paces what it sends to the estimate. A viewer who joined before
    /// the room's publisher is sent the top layer.
    fn peer_config(&self, publish: bool, estimated: bool) -> RtcConfig {
        let config = match &self.rsa_certificate {
            // str0m's own DTLS cannot sign with RSA; OpenSSL's can, as Medooze's does.
            Some(cert) => RtcConfig::new()
                .set_crypto_provider(crate::client::dtls::browser_like_provider())
                .set_dtls_cert(cert.clone()),
            None => RtcConfig::new(),
        };
        let config = match estimated {
            true => config.enable_bwe(Some(Bitrate::bps(layers::START_ESTIMATE_BPS))),
            false => config,
        };
        config
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .set_rtp_mode(true)
            .set_ice_lite(true)
            .set_extension(7, str0m::rtp::Extension::AbsoluteCaptureTime)
            // Without RTX the NACKs asking for resends are read off the raw RTCP.
            .enable_raw_packets(!publish && self.quirks.retransmit_without_rtx)
    }

    pub fn leave(&mut self, id: u64) -> Result<(), SfuError> {
        // Queued events name peers by index, which the removal shifts.
        self.act_on_events();
        let i = self
            .peers
            .iter()
            .position(|p| p.id == id)
            .ok_or(SfuError::NoSession(id))?;
        let mut peer = self.peers.remove(i);
        self.by_source.clear();
        self.census.left(&peer.room, peer.side);
        peer.rtc.disconnect();
        if peer.side == Side::Publisher {
            self.live_event(LiveEvent::Ended(peer.room));
        }
        Ok(())
    }

    /// Adds candidates a client trickled after its offer; returns how many were new.
    pub fn add_remote_candidates(&mut self, id: u64, lines: &[String]) -> Result<usize, SfuError> {
        let peer = self
            .peers
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(SfuError::NoSession(id))?;
        let mut added = 0;
        for line in lines {
            let candidate = Candidate::from_sdp_string(line)
                .map_err(|_| SfuError::BadCandidate(line.clone()))?;
            peer.rtc.add_remote_candidate(candidate);
            added += 1;
        }
        if let Some(index) = self.peers.iter().position(|p| p.id == id) {
            self.drain(index);
        }
        Ok(added)
    }

    fn on_event(&mut self, index: usize, event: Event) {
        match event {
            Event::MediaAdded(m) => {
                let peer = &mut self.peers[index];
                match m.kind {
                    MediaKind::Video => {
                        peer.video_mid = Some(m.mid);
                        peer.video_pt = negotiated_pt(&peer.rtc, m.mid, Codec::H264);
                        if peer.side == Side::Publisher {
                            peer.layers = m.simulcast.map(|s| {
                                let offered = if s.recv.is_empty() { s.send } else { s.recv };
                                PublisherLayers::new(offered.into_iter().map(|l| l.rid).collect())
                            });
                        }
                    }
                    MediaKind::Audio => {
                        peer.audio_mid = Some(m.mid);
                        peer.audio_pt = negotiated_pt(&peer.rtc, m.mid, Codec::Opus);
                    }
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.peers[index].rtc.disconnect();
                self.drain(index);
            }
            Event::KeyframeRequest(_) => {
                let peer = &self.peers[index];
                let layer = peer.selector.as_ref().and_then(LayerSelector::current);
                let room = peer.room.clone();
                self.request_keyframe_of(&room, layer);
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                if let Some(now) = self.latest {
                    self.on_viewer_estimate(index, estimate.as_f64(), now);
                }
            }
            Event::RtpPacket(packet) if self.peers[index].side == Side::Publisher => {
                self.forward(index, &packet)
            }
            Event::RawPacket(raw) => {
                if let RawPacket::RtcpRx(Rtcp::Nack(nack)) = *raw {
                    self.resend(index, &nack);
                }
            }
            _ => {}
        }
    }
}
