//! Runs a native peer over a UDP socket as one tokio task.

use super::native::{ClientError, IceServerOutcome, NativePeer, PeerOutput, PeerState};
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
pub type TickFn = Box<dyn FnMut(&mut NativePeer, Instant) + Send>;

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
pub async fn run(
    peer: NativePeer,
    socket: UdpSocket,
    until: Instant,
    stop: watch::Receiver<bool>,
) -> (NativePeer, PeerExit) {
    run_with(peer, socket, until, stop, Hooks::default()).await
}

/// As [`run`], with the hooks.
pub async fn run_with(
    mut peer: NativePeer,
    socket: UdpSocket,
    until: Instant,
    mut stop: watch::Receiver<bool>,
    hooks: Hooks<'_>,
) -> (NativePeer, PeerExit) {
    let exit = drive(&mut peer, socket, until, &mut stop, hooks).await;
    (peer, exit)
}

async fn drive(
    peer: &mut NativePeer,
    socket: UdpSocket,
    until: Instant,
    stop: &mut watch::Receiver<bool>,
    hooks: Hooks<'_>,
) -> PeerExit {
    let Hooks {
        mut ticker,
        ice_servers,
        mut impairment,
        silence,
    } = hooks;
    let mut heard = Instant::now();
    let mut buf = vec![0u8; 2048];
    loop {
        if let Some(t) = ticker.as_mut() {
            let now = Instant::now();
            while t.next <= now {
                let at = t.next;
                (t.on_tick)(peer, at);
                t.next += t.every;
            }
        }
        let timeout = loop {
            match peer.poll_output() {
                Ok(PeerOutput::Transmit(to, bytes)) => {
                    match impairment.as_mut().and_then(|i| i.up.as_mut()) {
                        Some(up) => up.push(Instant::now(), to, bytes),
                        None => {
                            if let Err(e) = socket.send_to(&bytes, to).await {
                                return PeerExit::Io(e);
                            }
                        }
                    }
                }
                Ok(PeerOutput::Timeout(t)) => break t,
                Ok(PeerOutput::IceServer(outcome)) => {
                    if let Some(tx) = &ice_servers {
                        let _ = tx.send(outcome);
                    }
                }
                Err(e) => return PeerExit::Failed(e),
            }
        };
        if let Some(i) = impairment.as_mut() {
            let now = Instant::now();
            if let Some(up) = i.up.as_mut() {
                while let Some((to, bytes)) = up.poll(now) {
                    if let Err(e) = socket.send_to(&bytes, to).await {
                        return PeerExit::Io(e);
                    }
                }
            }
            // One datagram at a time: the peer's events for it must be drained (at the top of
            // the loop) before the next goes in, or they are overwritten.
            if let Some((from, bytes)) = i.down.as_mut().and_then(|down| down.poll(now)) {
                heard = now;
                if let Err(e) = peer.handle_receive(now, from, &bytes) {
                    return PeerExit::Failed(e);
                }
                continue;
            }
        }
        if peer.state() == PeerState::Closed {
            return PeerExit::Closed;
        }
        if Instant::now() >= until || *stop.borrow() {
            return PeerExit::Finished;
        }
        // Silence counts from the later of the last datagram and the connection itself.
        let silent_at = match (silence, peer.connected_at) {
            (Some(limit), Some(connected)) => Some(heard.max(connected) + limit),
            _ => None,
        };
        if silent_at.is_some_and(|at| Instant::now() >= at) {
            return PeerExit::Silent;
        }
        let mut wake = ticker
            .as_ref()
            .map_or(timeout, |t| timeout.min(t.next))
            .min(until);
        if let Some(at) = silent_at {
            wake = wake.min(at);
        }
        if let Some(due) = impairment.as_deref().and_then(Impairment::next_due) {
            wake = wake.min(due);
        }
        let step = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => match impairment.as_mut().and_then(|i| i.down.as_mut()) {
                    Some(down) => {
                        down.push(Instant::now(), from, buf[..n].to_vec());
                        Ok(())
                    }
                    None => {
                        heard = Instant::now();
                        peer.handle_receive(heard, from, &buf[..n])
                    }
                },
                Err(e) => return PeerExit::Io(e),
            },
            _ = tokio::time::sleep_until(wake.into()) => peer.handle_timeout(Instant::now()),
            _ = stop.changed() => return PeerExit::Finished,
        };
        if let Err(e) = step {
            return PeerExit::Failed(e);
        }
    }
}
