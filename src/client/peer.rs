//! One face for the WebRTC peers rtcbench runs: str0m's full session ([`NativePeer`]: publishers,
//! and viewers that need all of WebRTC) and the light viewer's own path ([`LightPeer`]). Providers
//! signal a `dyn Peer`, the driver runs one, and the engine carries its role across rejoins
//! without knowing which it is.

use super::ice_servers::ResolvedIceServer;
use super::light::peer::LightPeer;
use super::native::{ClientError, IceServerOutcome, NativePeer, PeerOutput, PeerState, Role};
use crate::media::receiver::Receiver;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A sans-IO WebRTC peer: signalled through a provider, then fed datagrams and time.
pub trait Peer: Send {
    /// Whether it publishes (a provider signals publishers and viewers differently).
    fn publishing(&self) -> bool;
    fn create_offer(&mut self) -> Result<String, ClientError>;
    fn accept_answer(&mut self, sdp: &str) -> Result<(), ClientError>;
    /// Answers a provider's offer (a provider whose viewers are offered to, as Janus's are).
    fn accept_offer(&mut self, sdp: &str) -> Result<String, ClientError>;
    /// Gathers from the ICE servers a provider named, after its answer.
    fn use_ice_servers(&mut self, servers: Vec<ResolvedIceServer>, answer_sdp: &str);
    /// Gives ICE and DTLS until `now + limit` to connect; after that the peer fails.
    fn set_connect_timeout(&mut self, now: Instant, limit: Duration);
    fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), ClientError>;
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientError>;
    fn poll_output(&mut self) -> Result<PeerOutput, ClientError>;
    fn state(&self) -> PeerState;
    fn connected_at(&self) -> Option<Instant>;
    fn receiver_mut(&mut self) -> Option<&mut Receiver>;
    /// ICE servers that had given nothing by the end (call when the session ends).
    fn unfinished_ice_servers(&self) -> Vec<IceServerOutcome>;
    /// The sender or receiver, to carry into the next connection of a session that rejoins.
    fn into_role(self: Box<Self>) -> Role;
}

impl Peer for NativePeer {
    fn publishing(&self) -> bool {
        self.sender().is_some()
    }
    fn create_offer(&mut self) -> Result<String, ClientError> {
        NativePeer::create_offer(self)
    }
    fn accept_answer(&mut self, sdp: &str) -> Result<(), ClientError> {
        NativePeer::accept_answer(self, sdp)
    }
    fn accept_offer(&mut self, sdp: &str) -> Result<String, ClientError> {
        NativePeer::accept_offer(self, sdp)
    }
    fn use_ice_servers(&mut self, servers: Vec<ResolvedIceServer>, answer_sdp: &str) {
        NativePeer::use_ice_servers(self, servers, answer_sdp);
    }
    fn set_connect_timeout(&mut self, now: Instant, limit: Duration) {
        NativePeer::set_connect_timeout(self, now, limit);
    }
    fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), ClientError> {
        NativePeer::handle_receive(self, now, source, data)
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientError> {
        NativePeer::handle_timeout(self, now)
    }
    fn poll_output(&mut self) -> Result<PeerOutput, ClientError> {
        NativePeer::poll_output(self)
    }
    fn state(&self) -> PeerState {
        NativePeer::state(self)
    }
    fn connected_at(&self) -> Option<Instant> {
        self.connected_at
    }
    fn receiver_mut(&mut self) -> Option<&mut Receiver> {
        NativePeer::receiver_mut(self)
    }
    fn unfinished_ice_servers(&self) -> Vec<IceServerOutcome> {
        NativePeer::unfinished_ice_servers(self)
    }
    fn into_role(self: Box<Self>) -> Role {
        NativePeer::into_role(*self)
    }
}

impl Peer for LightPeer {
    fn publishing(&self) -> bool {
        false
    }
    fn create_offer(&mut self) -> Result<String, ClientError> {
        Ok(LightPeer::create_offer(self))
    }
    fn accept_answer(&mut self, sdp: &str) -> Result<(), ClientError> {
        LightPeer::accept_answer(self, sdp).map_err(ClientError::from)
    }
    fn accept_offer(&mut self, _sdp: &str) -> Result<String, ClientError> {
        Err(ClientError::Rejected(
            "offer: the light viewer only offers (set viewer_client = \"full\" for a provider that offers to its viewers)",
        ))
    }
    /// The light viewer offers its host candidate only, as a browser on an open network
    /// reaches an ICE-lite server: the servers named are not gathered from, and said so.
    fn use_ice_servers(&mut self, servers: Vec<ResolvedIceServer>, _answer_sdp: &str) {
        self.set_unused_ice_servers(servers.into_iter().map(|s| s.server.url.to_string()));
    }
    fn set_connect_timeout(&mut self, now: Instant, limit: Duration) {
        LightPeer::set_connect_timeout(self, now, limit);
    }
    fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), ClientError> {
        LightPeer::handle_receive(self, now, source, data).map_err(ClientError::from)
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientError> {
        LightPeer::handle_timeout(self, now).map_err(ClientError::from)
    }
    fn poll_output(&mut self) -> Result<PeerOutput, ClientError> {
        Ok(LightPeer::poll_output(self))
    }
    fn state(&self) -> PeerState {
        LightPeer::state(self)
    }
    fn connected_at(&self) -> Option<Instant> {
        self.connected_at
    }
    fn receiver_mut(&mut self) -> Option<&mut Receiver> {
        Some(LightPeer::receiver_mut(self))
    }
    fn unfinished_ice_servers(&self) -> Vec<IceServerOutcome> {
        self.unused_ice_servers()
            .iter()
            .map(|server| IceServerOutcome::Failed {
                server: server.clone(),
                reason: "not used: the light viewer offers its host candidate only".into(),
            })
            .collect()
    }
    fn into_role(self: Box<Self>) -> Role {
        Role::Subscribe(Box::new(self.into_receiver()))
    }
}
