//! Using the ICE servers a provider hands out (WHIP/WHEP `Link` headers): a server-reflexive
//! candidate from each STUN server, a relayed candidate from each TURN server (UDP, long-term
//! credentials), and the relay itself once ICE picks it. Sans-IO: fed datagrams and time, it
//! returns datagrams to send from the peer's one socket and candidates to add and trickle.

use crate::client::link::{IceServer, Scheme};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use str0m::Candidate;
use turn_client_proto::api::{TurnClientApi, TurnConfig, TurnEvent, TurnPollRet, TurnRecvRet};
use turn_client_proto::stun::types::attribute::{ErrorCode, XorMappedAddress};
use turn_client_proto::stun::types::message::{
    Message, MessageClass, MessageWrite, MessageWriteExt, MessageWriteVec, TransactionId, BINDING,
};
use turn_client_proto::types::{TransportType, TurnCredentials};
use turn_client_proto::udp::TurnClientUdp;

/// STUN binding requests go out at these offsets from the first; no answer by the last is a miss.
const STUN_SCHEDULE: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(500),
    Duration::from_millis(1500),
];
const STUN_GIVE_UP: Duration = Duration::from_secs(3);

/// An ICE server with its address resolved (name resolution is I/O, done by the caller).
#[derive(Debug, Clone)]
pub struct ResolvedIceServer {
    pub server: IceServer,
    pub addr: SocketAddr,
}

/// What came of one ICE server.
#[derive(Debug)]
pub enum IceServerEvent {
    /// A new local candidate: add it to ICE and trickle it to the remote side.
    Gathered {
        server: String,
        candidate: Candidate,
    },
    Failed {
        server: String,
        reason: String,
    },
}

struct StunProbe {
    url: String,
    addr: SocketAddr,
    /// The request, resent unchanged (one transaction) until answered.
    request: Vec<u8>,
    trans_id: TransactionId,
    started: Instant,
    sent: usize,
    done: bool,
}

struct TurnRelay {
    url: String,
    client: TurnClientUdp,
    relayed: Option<SocketAddr>,
    closed: bool,
}

pub struct IceServerAgent {
    local: SocketAddr,
    base: Instant,
    stun: Vec<StunProbe>,
    turn: Vec<TurnRelay>,
    /// Remote candidate addresses: a TURN relay needs a permission for each before it forwards.
    remote_ips: Vec<IpAddr>,
    events: VecDeque<IceServerEvent>,
    outgoing: VecDeque<(SocketAddr, Vec<u8>)>,
}

/// What a received datagram was.
pub enum Received<'a> {
    /// An answer from an ICE server, handled here.
    Consumed,
    /// Media or ICE from `peer` that arrived through the relay at `relayed`.
    Relayed {
        peer: SocketAddr,
        relayed: SocketAddr,
        data: Vec<u8>,
    },
    /// Not from an ICE server: for the WebRTC stack.
    Direct(&'a [u8]),
}

impl IceServerAgent {
    /// Starts gathering from `servers` for a peer whose socket is bound to `local`; servers this
    /// client cannot use are reported as failed at once.
    pub fn new(
        local: SocketAddr,
        servers: Vec<ResolvedIceServer>,
        remote_ips: Vec<IpAddr>,
        now: Instant,
    ) -> Self {
        let mut agent = Self {
            local,
            base: now,
            stun: Vec::new(),
            turn: Vec::new(),
            remote_ips,
            events: VecDeque::new(),
            outgoing: VecDeque::new(),
        };
        for ResolvedIceServer { server, addr } in servers {
            let url = server.url.to_string();
            let udp = server.url.transport.as_deref().is_none_or(|t| t == "udp");
            if addr.is_ipv4() != local.is_ipv4() {
                agent.fail(url, "its address family differs from the local socket's");
                continue;
            }
            match server.url.scheme {
                Scheme::Stun => {
                    let (request, trans_id) = binding_request();
                    agent.stun.push(StunProbe {
                        url,
                        addr,
                        request,
                        trans_id,
                        started: now,
                        sent: 0,
                        done: false,
                    })
                }
                Scheme::Turn if udp => {
                    let (Some(user), Some(pass)) = (&server.username, &server.credential) else {
                        agent.fail(url, "a TURN server needs a username and credential");
                        continue;
                    };
                    let config = TurnConfig::new(TurnCredentials::new(user, pass));
                    agent.turn.push(TurnRelay {
                        url,
                        client: TurnClientUdp::allocate(local, addr, config),
                        relayed: None,
                        closed: false,
                    });
                }
                Scheme::Turn => agent.fail(url, "TURN over TCP is not supported; UDP only"),
                Scheme::Stuns | Scheme::Turns => {
                    agent.fail(url, "STUN/TURN over TLS is not supported; UDP only")
                }
            }
        }
        agent
    }

    fn fail(&mut self, server: String, reason: impl Into<String>) {
        self.events.push_back(IceServerEvent::Failed {
            server,
            reason: reason.into(),
        });
    }

    fn sans_io(&self, at: Instant) -> turn_client_proto::stun::Instant {
        turn_client_proto::stun::Instant::from_nanos(
            at.saturating_duration_since(self.base).as_nanos() as i64,
        )
    }

    fn std_instant(&self, at: turn_client_proto::stun::Instant) -> Instant {
        at.to_std(self.base)
    }

    pub fn poll_event(&mut self) -> Option<IceServerEvent> {
        self.events.pop_front()
    }

    /// A datagram to send from the local socket, if any is due.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.handle_timeout(now);
        if let Some(t) = self.outgoing.pop_front() {
            return Some(t);
        }
        let at = self.sans_io(now);
        for relay in &mut self.turn {
            if let Some(t) = relay.client.poll_transmit(at) {
                return Some((t.to, t.data.as_ref().to_vec()));
            }
        }
        None
    }

    /// The next instant anything is due.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut earliest = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for probe in self.stun.iter().filter(|p| !p.done) {
            match STUN_SCHEDULE.get(probe.sent) {
                Some(offset) => earliest(probe.started + *offset),
                None => earliest(probe.started + STUN_GIVE_UP),
            }
        }
        let at = self.sans_io(now);
        let mut waits = Vec::new();
        for relay in self.turn.iter_mut().filter(|r| !r.closed) {
            if let TurnPollRet::WaitUntil(t) = relay.client.poll(at) {
                waits.push(t);
            }
        }
        for t in waits {
            earliest(self.std_instant(t));
        }
        next
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.stun.len() {
            let probe = &mut self.stun[i];
            if probe.done {
                continue;
            }
            if let Some(offset) = STUN_SCHEDULE.get(probe.sent) {
                if now >= probe.started + *offset {
                    probe.sent += 1;
                    self.outgoing.push_back((probe.addr, probe.request.clone()));
                }
            } else if now >= probe.started + STUN_GIVE_UP {
                probe.done = true;
                let url = probe.url.clone();
                self.fail(url, format!("no STUN answer within {STUN_GIVE_UP:?}"));
            }
        }
        let at = self.sans_io(now);
        for i in 0..self.turn.len() {
            if self.turn[i].closed {
                continue;
            }
            let polled = self.turn[i].client.poll(at);
            if let TurnPollRet::Closed = polled {
                self.turn[i].closed = true;
                if self.turn[i].relayed.is_none() {
                    let url = self.turn[i].url.clone();
                    self.fail(url, "the TURN allocation failed (check the credentials)");
                }
            }
            self.drain_turn_events(i, now);
        }
    }

    fn drain_turn_events(&mut self, i: usize, now: Instant) {
        let at = self.sans_io(now);
        while let Some(event) = self.turn[i].client.poll_event() {
            let url = self.turn[i].url.clone();
            match event {
                TurnEvent::AllocationCreated(_, relayed) => {
                    self.turn[i].relayed = Some(relayed);
                    for ip in self.remote_ips.clone() {
                        let _ = self.turn[i]
                            .client
                            .create_permission(TransportType::Udp, ip, at);
                    }
                    match Candidate::relayed(relayed, self.local, "udp") {
                        Ok(candidate) => self.events.push_back(IceServerEvent::Gathered {
                            server: url,
                            candidate,
                        }),
                        Err(e) => self.fail(url, format!("relayed candidate {relayed}: {e}")),
                    }
                }
                TurnEvent::AllocationCreateFailed(_) => {
                    self.fail(url, "the TURN server refused the allocation")
                }
                TurnEvent::PermissionCreateFailed(_, ip) => self.fail(
                    url,
                    format!("the TURN server refused a permission for {ip}"),
                ),
                _ => {}
            }
        }
    }

    /// Sorts a datagram that arrived on the local socket.
    pub fn handle_receive<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Received<'a> {
        if let Some(i) = self.stun.iter().position(|p| p.addr == from && !p.done) {
            if let Ok(message) = Message::from_bytes(data) {
                if message.transaction_id() == self.stun[i].trans_id {
                    self.stun[i].done = true;
                    let url = self.stun[i].url.clone();
                    self.on_binding_answer(url, &message);
                    return Received::Consumed;
                }
            }
        }
        let Some(i) = self
            .turn
            .iter()
            .position(|r| r.client.remote_addr() == from)
        else {
            return Received::Direct(data);
        };
        let at = self.sans_io(now);
        let transmit = turn_client_proto::stun::agent::Transmit {
            data,
            transport: TransportType::Udp,
            from,
            to: self.local,
        };
        let outcome = match self.turn[i].client.recv(transmit, at) {
            TurnRecvRet::PeerData(peer) => {
                let relayed = self.turn[i].relayed.unwrap_or(from);
                Received::Relayed {
                    peer: peer.peer,
                    relayed,
                    data: peer.data().to_vec(),
                }
            }
            TurnRecvRet::Ignored(_) => Received::Direct(data),
            _ => Received::Consumed,
        };
        self.drain_turn_events(i, now);
        outcome
    }

    fn on_binding_answer(&mut self, url: String, message: &Message) {
        if !message.has_class(MessageClass::Success) {
            let reason = match message.attribute::<ErrorCode>() {
                Ok(e) => format!("STUN error {} {}", e.code(), e.reason()),
                Err(_) => "the STUN answer is not a binding success".to_string(),
            };
            return self.fail(url, reason);
        }
        let Ok(mapped) = message.attribute::<XorMappedAddress>() else {
            return self.fail(url, "the STUN answer has no XOR-MAPPED-ADDRESS");
        };
        let mapped = mapped.addr(message.transaction_id());
        match Candidate::server_reflexive(mapped, self.local, "udp") {
            Ok(candidate) => self.events.push_back(IceServerEvent::Gathered {
                server: url,
                candidate,
            }),
            Err(e) => self.fail(url, format!("server-reflexive candidate {mapped}: {e}")),
        }
    }

    /// Servers still pending when the peer ends, each with why it is a failure to report.
    pub fn unfinished(&self) -> Vec<(String, &'static str)> {
        let stun = self
            .stun
            .iter()
            .filter(|p| !p.done)
            .map(|p| (p.url.clone(), "no STUN answer before the session ended"));
        let turn = self
            .turn
            .iter()
            .filter(|r| r.relayed.is_none() && !r.closed)
            .map(|r| {
                (
                    r.url.clone(),
                    "no TURN allocation before the session ended (no answer, or our credentials \
                     were dropped)",
                )
            });
        stun.chain(turn).collect()
    }

    /// The relay `source` belongs to, if it is one of ours.
    pub fn is_relayed(&self, source: SocketAddr) -> bool {
        self.turn.iter().any(|r| r.relayed == Some(source))
    }

    /// Wraps a datagram the WebRTC stack sends from relayed address `source` to `to`, as a
    /// datagram for the TURN server; `None` when the relay cannot take it (yet).
    pub fn relay(
        &mut self,
        now: Instant,
        source: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Option<(SocketAddr, Vec<u8>)> {
        let at = self.sans_io(now);
        let relay = self.turn.iter_mut().find(|r| r.relayed == Some(source))?;
        if !relay.client.have_permission(TransportType::Udp, to.ip()) {
            // A peer-reflexive address ICE learnt later: ask, and let ICE retry.
            let _ = relay
                .client
                .create_permission(TransportType::Udp, to.ip(), at);
            return None;
        }
        let built = relay
            .client
            .send_to(TransportType::Udp, to, data, at)
            .ok()??
            .build();
        Some((built.to, built.data))
    }
}

/// A plain RFC 8489 binding request (no credentials: STUN servers answer anyone).
fn binding_request() -> (Vec<u8>, TransactionId) {
    let mut message = Message::builder_request(BINDING, MessageWriteVec::new());
    let trans_id = message.transaction_id();
    // A fingerprint cannot fail on a message this small.
    let _ = message.add_fingerprint();
    (message.finish(), trans_id)
}

/// The IP addresses of the candidates in an SDP (answer).
pub fn candidate_ips(sdp: &str) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = sdp
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_ascii_whitespace().nth(4)?.parse().ok())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::link::IceServerUrl;

    fn stun_server(addr: SocketAddr) -> ResolvedIceServer {
        ResolvedIceServer {
            server: IceServer {
                url: IceServerUrl::parse(&format!("stun:{addr}")).unwrap(),
                username: None,
                credential: None,
            },
            addr,
        }
    }

    #[test]
    fn a_stun_answer_gives_a_server_reflexive_candidate() {
        let local: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let server: SocketAddr = "192.0.2.10:3478".parse().unwrap();
        let now = Instant::now();
        let mut agent = IceServerAgent::new(local, vec![stun_server(server)], vec![], now);
        let (to, request) = agent.poll_transmit(now).expect("binding request");
        assert_eq!(to, server);
        let parsed = Message::from_bytes(&request).expect("valid STUN");
        assert!(parsed.has_class(MessageClass::Request) && parsed.has_method(BINDING));

        // As a STUN server behind a NAT would see us.
        let mapped: SocketAddr = "198.51.100.7:61000".parse().unwrap();
        let mut reply = Message::builder_success(&parsed, MessageWriteVec::new());
        reply
            .add_attribute(&XorMappedAddress::new(mapped, parsed.transaction_id()))
            .unwrap();
        let reply = reply.finish();
        assert!(matches!(
            agent.handle_receive(now, server, &reply),
            Received::Consumed
        ));
        match agent.poll_event() {
            Some(IceServerEvent::Gathered { candidate, .. }) => {
                assert_eq!(candidate.addr(), mapped);
                assert!(candidate.to_sdp_string().contains("typ srflx"));
            }
            other => panic!("expected a candidate, got {other:?}"),
        }
    }

    #[test]
    fn a_silent_stun_server_is_retried_then_reported() {
        let local: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let server: SocketAddr = "192.0.2.10:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut agent = IceServerAgent::new(local, vec![stun_server(server)], vec![], t0);
        let mut sent = 0;
        let mut now = t0;
        while now < t0 + Duration::from_secs(4) {
            while agent.poll_transmit(now).is_some() {
                sent += 1;
            }
            now = agent
                .poll_timeout(now)
                .unwrap_or(now + Duration::from_secs(1));
        }
        agent.handle_timeout(now);
        assert_eq!(sent, 3);
        assert!(matches!(
            agent.poll_event(),
            Some(IceServerEvent::Failed { reason, .. }) if reason.contains("no STUN answer")
        ));
    }

    #[test]
    fn servers_this_client_cannot_use_are_reported_not_dropped() {
        let local: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let resolved = |url: &str, user: Option<&str>| ResolvedIceServer {
            server: IceServer {
                url: IceServerUrl::parse(url).unwrap(),
                username: user.map(String::from),
                credential: user.map(String::from),
            },
            addr: "192.0.2.10:3478".parse().unwrap(),
        };
        let mut agent = IceServerAgent::new(
            local,
            vec![
                resolved("turns:t.example:443", Some("u")),
                resolved("turn:t.example?transport=tcp", Some("u")),
                resolved("turn:t.example", None),
            ],
            vec![],
            Instant::now(),
        );
        let mut reasons = Vec::new();
        while let Some(IceServerEvent::Failed { reason, .. }) = agent.poll_event() {
            reasons.push(reason);
        }
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[2].contains("username and credential"));
    }

    #[test]
    fn candidate_addresses_are_read_from_an_answer() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
                   a=candidate:2 1 udp 1694498815 198.51.100.7 6000 typ srflx raddr 0.0.0.0 rport 0\r\n\
                   a=candidate:3 1 udp 2130706431 127.0.0.1 5002 typ host\r\n";
        assert_eq!(
            candidate_ips(sdp),
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "198.51.100.7".parse().unwrap()
            ]
        );
    }
}
