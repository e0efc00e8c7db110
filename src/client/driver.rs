//! Runs a native peer over a UDP socket as one tokio task.

use super::native::{ClientError, IceServerOutcome, NativePeer, PeerOutput, PeerState};
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
pub struct Hooks {
    pub ticker: Option<Ticker>,
    /// Where ICE-server outcomes go: candidates to trickle, servers that could not be used.
    pub ice_servers: Option<mpsc::UnboundedSender<IceServerOutcome>>,
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
    hooks: Hooks,
) -> (NativePeer, PeerExit) {
    let Hooks {
        mut ticker,
        ice_servers,
    } = hooks;
    let mut buf = vec![0u8; 2048];
    loop {
        if let Some(t) = ticker.as_mut() {
            let now = Instant::now();
            while t.next <= now {
                let at = t.next;
                (t.on_tick)(&mut peer, at);
                t.next += t.every;
            }
        }
        let timeout = loop {
            match peer.poll_output() {
                Ok(PeerOutput::Transmit(to, bytes)) => {
                    if let Err(e) = socket.send_to(&bytes, to).await {
                        return (peer, PeerExit::Io(e));
                    }
                }
                Ok(PeerOutput::Timeout(t)) => break t,
                Ok(PeerOutput::IceServer(outcome)) => {
                    if let Some(tx) = &ice_servers {
                        let _ = tx.send(outcome);
                    }
                }
                Err(e) => return (peer, PeerExit::Failed(e)),
            }
        };
        if peer.state() == PeerState::Closed {
            return (peer, PeerExit::Closed);
        }
        if Instant::now() >= until || *stop.borrow() {
            return (peer, PeerExit::Finished);
        }
        let wake = ticker
            .as_ref()
            .map_or(timeout, |t| timeout.min(t.next))
            .min(until);
        let step = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => peer.handle_receive(Instant::now(), from, &buf[..n]),
                Err(e) => return (peer, PeerExit::Io(e)),
            },
            _ = tokio::time::sleep_until(wake.into()) => peer.handle_timeout(Instant::now()),
            _ = stop.changed() => return (peer, PeerExit::Finished),
        };
        if let Err(e) = step {
            return (peer, PeerExit::Failed(e));
        }
    }
}
