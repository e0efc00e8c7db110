//! Runs a peer (str0m's or the light viewer's) over a UDP socket as one tokio task.

use super::native::{ClientError, IceServerOutcome, PeerOutput, PeerState};
use super::peer::Peer;
use crate::net::impair::Impairment;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// Binds a UDP socket for a peer on `ip` (an ephemeral port).
pub async fn bind(ip: std::net::IpAddr) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(SocketAddr::new(ip, 0)).await
}

/// Why a peer's task ended.
#[derive(Debug)]
pub enum PeerExit {
    /// The deadline passed or the run was stopped.
    Finished,
    /// The remote side went away.
    Closed,
    /// Connected, then nothing came from the remote side for the hooks' `silence`: the
    /// connection is lost.
    Silent,
    Failed(ClientError),
    Io(std::io::Error),
}

/// Called with the peer and the instant a tick was due.
pub type TickFn = Box<dyn FnMut(&mut dyn Peer, Instant) + Send>;

/// Something to do at fixed instants while a peer runs (closing measurement intervals).
pub struct Ticker {
    pub next: Instant,
    pub every: std::time::Duration,
    pub on_tick: TickFn,
}

/// What a caller wants from a running peer besides its media.
#[derive(Default)]
pub struct Hooks<'a> {
    pub ticker: Option<Ticker>,
    /// Where ICE-server outcomes go: candidates to trickle, servers that could not be used.
    pub ice_servers: Option<mpsc::UnboundedSender<IceServerOutcome>>,
    /// Network impairment between the peer and its socket; it outlives one connection, as the
    /// network outlives a session that rejoins.
    pub impairment: Option<&'a mut Impairment>,
    /// Once connected, this long without a datagram from the remote side ends the run
    /// ([`PeerExit::Silent`]).
    pub silence: Option<std::time::Duration>,
}

/// Drives `peer` until `until`, `stop`, or the connection ends; gives the peer back.
pub async fn run<P: Peer>(
    peer: P,
    socket: UdpSocket,
    until: Instant,
    stop: watch::Receiver<bool>,
) -> (P, PeerExit) {
    run_with(peer, socket, until, stop, Hooks::default()).await
}

/// As [`run`], with the hooks.
pub async fn run_with<P: Peer>(
    mut peer: P,
    socket: UdpSocket,
    until: Instant,
    mut stop: watch::Receiver<bool>,
    hooks: Hooks<'_>,
) -> (P, PeerExit) {
    let exit = run_borrowed(&mut peer, socket, until, &mut stop, hooks).await;
    (peer, exit)
}

/// One peer's run over its socket: the peer, the hooks, and when the remote side was last
/// heard from.
struct Driving<'p, 'h> {
    peer: &'p mut dyn Peer,
    socket: UdpSocket,
    hooks: Hooks<'h>,
    heard: Instant,
    buf: Vec<u8>,
}

impl Driving<'_, '_> {
    /// Closes the intervals whose instants have passed.
    fn tick(&mut self) {
        if let Some(t) = self.hooks.ticker.as_mut() {
            let now = Instant::now();
            while t.next <= now {
                let at = t.next;
                (t.on_tick)(self.peer, at);
                t.next += t.every;
            }
        }
    }

    /// Sends what the peer has to send (through the uplink impairment, if any) and hands on
    /// ICE-server outcomes; the peer's next timeout.
    async fn flush(&mut self) -> Result<Instant, PeerExit> {
        loop {
            match self.peer.poll_output() {
                Ok(PeerOutput::Transmit(to, bytes)) => {
                    let up = self.hooks.impairment.as_mut().and_then(|i| i.up.as_mut());
                    match up {
                        Some(up) => up.push(Instant::now(), to, bytes),
                        None => self
                            .socket
                            .send_to(&bytes, to)
                            .await
                            .map(drop)
                            .map_err(PeerExit::Io)?,
                    }
                }
                Ok(PeerOutput::Timeout(t)) => return Ok(t),
                Ok(PeerOutput::IceServer(outcome)) => {
                    if let Some(tx) = &self.hooks.ice_servers {
                        let _ = tx.send(outcome);
                    }
                }
                Err(e) => return Err(PeerExit::Failed(e)),
            }
        }
    }

    /// Sends what the uplink impairment lets through now and gives the peer one datagram the
    /// downlink lets through; true when it did (the peer's events must be drained first).
    async fn impaired(&mut self) -> Result<bool, PeerExit> {
        let Some(i) = self.hooks.impairment.as_mut() else {
            return Ok(false);
        };
        let now = Instant::now();
        if let Some(up) = i.up.as_mut() {
            while let Some((to, bytes)) = up.poll(now) {
                self.socket
                    .send_to(&bytes, to)
                    .await
                    .map_err(PeerExit::Io)?;
            }
        }
        // One datagram at a time: the peer's events for it must be drained (at the top of the
        // loop) before the next goes in, or they are overwritten.
        if let Some((from, bytes)) = i.down.as_mut().and_then(|down| down.poll(now)) {
            self.heard = now;
            self.peer
                .handle_receive(now, from, &bytes)
                .map_err(PeerExit::Failed)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// When the connection counts as lost: silence from the later of the last datagram and
    /// the connection itself.
    fn silent_at(&self) -> Option<Instant> {
        match (self.hooks.silence, self.peer.connected_at()) {
            (Some(limit), Some(connected)) => Some(self.heard.max(connected) + limit),
            _ => None,
        }
    }

    /// The next instant anything is due: the peer's timeout, a tick, the end, silence, or a
    /// datagram the impairment holds.
    fn wake_at(&self, timeout: Instant, until: Instant, silent_at: Option<Instant>) -> Instant {
        let mut wake = self
            .hooks
            .ticker
            .as_ref()
            .map_or(timeout, |t| timeout.min(t.next))
            .min(until);
        if let Some(at) = silent_at {
            wake = wake.min(at);
        }
        if let Some(due) = self
            .hooks
            .impairment
            .as_deref()
            .and_then(Impairment::next_due)
        {
            wake = wake.min(due);
        }
        wake
    }

    /// Waits for a datagram (into the downlink impairment, or straight to the peer), the
    /// wake-up instant, or the stop.
    async fn wait(
        &mut self,
        wake: Instant,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), PeerExit> {
        let step = tokio::select! {
            r = self.socket.recv_from(&mut self.buf) => match r {
                Ok((n, from)) => match self.hooks.impairment.as_mut().and_then(|i| i.down.as_mut()) {
                    Some(down) => {
                        down.push(Instant::now(), from, self.buf[..n].to_vec());
                        Ok(())
                    }
                    None => {
                        self.heard = Instant::now();
                        self.peer.handle_receive(self.heard, from, &self.buf[..n])
                    }
                },
                Err(e) => return Err(PeerExit::Io(e)),
            },
            _ = tokio::time::sleep_until(wake.into()) => self.peer.handle_timeout(Instant::now()),
            _ = stop.changed() => return Err(PeerExit::Finished),
        };
        step.map_err(PeerExit::Failed)
    }
}

/// As [`run_with`], for a peer the caller keeps (one behind a `Box<dyn Peer>`).
pub async fn run_borrowed(
    peer: &mut dyn Peer,
    socket: UdpSocket,
    until: Instant,
    stop: &mut watch::Receiver<bool>,
    hooks: Hooks<'_>,
) -> PeerExit {
    let mut d = Driving {
        peer,
        socket,
        hooks,
        heard: Instant::now(),
        buf: vec![0u8; 2048],
    };
    loop {
        d.tick();
        let timeout = match d.flush().await {
            Ok(t) => t,
            Err(exit) => return exit,
        };
        match d.impaired().await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(exit) => return exit,
        }
        if d.peer.state() == PeerState::Closed {
            return PeerExit::Closed;
        }
        if Instant::now() >= until || *stop.borrow() {
            return PeerExit::Finished;
        }
        let silent_at = d.silent_at();
        if silent_at.is_some_and(|at| Instant::now() >= at) {
            return PeerExit::Silent;
        }
        let wake = d.wake_at(timeout, until, silent_at);
        if let Err(exit) = d.wait(wake, stop).await {
            return exit;
        }
    }
}
