//! One worker of the SFU on its own UDP socket and task: the peers it took, the commands for
//! them, and what the other workers relay to its viewers. Workers run in parallel on a
//! multi-threaded runtime; each is one task, so its peers are never shared.

use super::faults::Restarts;
use super::live_out::edge::{Edge, EdgeFeed};
use super::relay::Relayed;
use super::server::Command;
use super::{Sfu, Transmit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Datagrams taken in one wake-up before the output is acted on.
const RECEIVE_BATCH: usize = 64;
/// Batches of relayed packets a worker may have waiting; a worker that falls this far behind
/// loses what comes next, as an overloaded SFU drops.
pub(super) const RELAY_BACKLOG: usize = 1024;
/// How often the count of forwarded tracks is taken for the track-seconds.
const COUNT_TRACKS_EVERY: Duration = Duration::from_millis(100);

pub(super) type RelayBatch = Arc<Vec<Relayed>>;

/// What a worker has done, read by `serve-reference` while it runs.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Subscriber tracks forwarded to, integrated over time, in microseconds.
    track_us: AtomicU64,
    /// Packets written to subscribers.
    forwarded: AtomicU64,
    /// Relay batches lost because this worker's backlog was full.
    relay_dropped: AtomicU64,
}

/// One reading of a worker's [`WorkerStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkerReading {
    pub track_s: f64,
    pub forwarded: u64,
    pub relay_dropped: u64,
}

impl WorkerStats {
    pub fn read(&self) -> WorkerReading {
        WorkerReading {
            track_s: self.track_us.load(Ordering::Relaxed) as f64 / 1e6,
            forwarded: self.forwarded.load(Ordering::Relaxed),
            relay_dropped: self.relay_dropped.load(Ordering::Relaxed),
        }
    }
}

pub(super) struct Worker {
    pub sfu: Sfu,
    pub socket: UdpSocket,
    pub commands: mpsc::Receiver<Command>,
    pub relay_in: mpsc::Receiver<RelayBatch>,
    /// False once every other worker's sender is gone (at once, for a single worker).
    pub relay_open: bool,
    /// To every other worker.
    pub relay_out: Vec<mpsc::Sender<RelayBatch>>,
    pub restarts: Restarts,
    pub edge: Arc<Edge>,
    pub edge_feed: EdgeFeed,
    pub stats: Arc<WorkerStats>,
}

/// Where the worker's track count was last taken.
struct TrackCount {
    at: Instant,
    tracks: u64,
}

impl Worker {
    pub(super) async fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        let mut out: Vec<Transmit> = Vec::new();
        let mut was_down = false;
        let mut count = TrackCount {
            at: Instant::now(),
            tracks: 0,
        };
        loop {
            let now = Instant::now();
            let down = self.restarts.down_at(now);
            if down && !was_down {
                // A restart loses every session; the process comes back knowing nobody.
                self.sfu = self.sfu.restarted();
            }
            was_down = down;
            let next = self.act(&mut out, down).await;
            self.count_tracks(&mut count, now);
            let mut wake = next.unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
            wake = wake.min(count.at + COUNT_TRACKS_EVERY);
            if let Some(change) = self.restarts.next_change(now) {
                wake = wake.min(change);
            }
            let go_on = tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    self.take_datagrams(r, &mut buf, down);
                    true
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    self.sfu.handle_timeout(Instant::now());
                    true
                }
                batch = self.relay_in.recv(), if self.relay_open => {
                    match batch {
                        Some(batch) if !down => self.sfu.on_relayed(&batch),
                        Some(_) => {}
                        // Alone, or the others have stopped: nothing more will come.
                        None => self.relay_open = false,
                    }
                    true
                }
                c = self.commands.recv() => match c {
                    Some(c) => { self.on_command(c); true }
                    None => false,
                },
            };
            if !go_on {
                return;
            }
        }
    }

    /// Acts on what the peers gave: datagrams out, events to the edge, packets to the other
    /// workers; the next instant the SFU wants a timeout.
    async fn act(&mut self, out: &mut Vec<Transmit>, down: bool) -> Option<Instant> {
        let next = self.sfu.poll(out);
        self.edge_feed.send(self.sfu.drain_live());
        let relayed = self.sfu.take_relay();
        if down {
            out.clear();
        } else if !relayed.is_empty() {
            let batch = Arc::new(relayed);
            for worker in &self.relay_out {
                if worker.try_send(batch.clone()).is_err() {
                    self.stats.relay_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for t in out.drain(..) {
            // A full socket buffer is waited out; a loopback send never blocks otherwise.
            if self.socket.try_send_to(&t.contents, t.destination).is_err() {
                let _ = self.socket.send_to(&t.contents, t.destination).await;
            }
        }
        next
    }

    /// Adds the tracks forwarded since the last count to the track-seconds, and counts again
    /// when it is time.
    fn count_tracks(&self, count: &mut TrackCount, now: Instant) {
        if now < count.at + COUNT_TRACKS_EVERY {
            return;
        }
        let us = now.duration_since(count.at).as_micros() as u64;
        let stats = &self.stats;
        stats
            .track_us
            .fetch_add(count.tracks * us, Ordering::Relaxed);
        count.tracks = self.sfu.forwarding_tracks() as u64;
        count.at = now;
        stats
            .forwarded
            .store(self.sfu.forwarded_packets(), Ordering::Relaxed);
    }

    /// The datagram that woke the worker, then what else has come, before the output is acted
    /// on once for all.
    fn take_datagrams(
        &mut self,
        first: std::io::Result<(usize, std::net::SocketAddr)>,
        buf: &mut [u8],
        down: bool,
    ) {
        if let (Ok((n, from)), false) = (first, down) {
            self.sfu.handle_receive(Instant::now(), from, &buf[..n]);
        }
        for _ in 0..RECEIVE_BATCH {
            let Ok((n, from)) = self.socket.try_recv_from(buf) else {
                break;
            };
            if !down {
                self.sfu.handle_receive(Instant::now(), from, &buf[..n]);
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let sfu = &mut self.sfu;
        match command {
            Command::Join {
                room,
                publish,
                offer,
                reply,
            } => {
                let joined = sfu.join(&room, publish, &offer, Instant::now());
                // The edge knows the room before the publisher hears it is published.
                self.edge.apply(sfu.drain_live());
                let _ = reply.send(joined);
            }
            Command::Leave { id, reply } => {
                let _ = reply.send(sfu.leave(id));
            }
            Command::Trickle {
                id,
                candidates,
                reply,
            } => {
                let _ = reply.send(sfu.add_remote_candidates(id, &candidates));
            }
            Command::AskLayer { id, rid, reply } => {
                let _ = reply.send(sfu.ask_layer(id, rid.as_deref()));
            }
            Command::IngestStart { room, reply } => {
                let started = sfu.ingest_start(&room);
                self.edge.apply(sfu.drain_live());
                let _ = reply.send(started);
            }
            Command::IngestFrame { room, frame } => {
                sfu.ingest_frame(&room, frame, Instant::now());
            }
            Command::IngestEnd { room } => sfu.ingest_end(&room),
        }
    }
}
