//! How the SFU's peers are fed and drained. str0m wants each change to a peer followed by a
//! drain of its output before the next, so every datagram, timeout and write drains the one peer
//! it touched (not every peer), and events queue by peer index until [`Sfu::poll`] acts on them.

use super::live_out::LiveEvent;
use super::{Sfu, Side, Transmit};
use crate::client::native::udp_input;
use std::net::SocketAddr;
use std::time::Instant;
use str0m::{Input, Output};

impl Sfu {
    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.latest = Some(now);
        let Some(input) = udp_input(now, source, self.local_addr, data) else {
            return;
        };
        let known = self
            .by_source
            .get(&source)
            .copied()
            .filter(|&i| self.peers.get(i).is_some_and(|p| p.rtc.accepts(&input)));
        let Some(index) = known.or_else(|| {
            let i = self.peers.iter().position(|p| p.rtc.accepts(&input))?;
            self.by_source.insert(source, i);
            Some(i)
        }) else {
            return;
        };
        let _ = self.peers[index].rtc.handle_input(input);
        self.drain(index);
    }

    /// Times out the peers whose timeout has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.latest = Some(now);
        self.send_held_keyframe_requests(now);
        for index in 0..self.peers.len() {
            if self.peers[index].due.is_none_or(|due| due <= now) {
                let _ = self.peers[index].rtc.handle_input(Input::Timeout(now));
                self.drain(index);
            }
        }
    }

    /// Drains one peer after a change to it, as str0m requires before the next: its datagrams
    /// to the outbox, its events to the queue, its next timeout kept.
    pub(super) fn drain(&mut self, index: usize) {
        let peer = &mut self.peers[index];
        loop {
            match peer.rtc.poll_output() {
                Ok(Output::Transmit(t)) => self.outbox.push(Transmit {
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Timeout(t)) => {
                    peer.due = Some(t);
                    break;
                }
                Ok(Output::Event(e)) => self.events.push_back((index, e)),
                Err(_) => {
                    peer.due = None;
                    break;
                }
            }
        }
        if !peer.rtc.is_alive() {
            self.some_dead = true;
        }
    }

    /// Acts on the queued events; forwarding drains the peers it writes to, which may queue
    /// more (bounded, as a loop of key-frame requests must not spin).
    pub(super) fn act_on_events(&mut self) {
        let mut budget = 64 * (self.peers.len() + 1);
        while let Some((index, event)) = self.events.pop_front() {
            self.on_event(index, event);
            budget -= 1;
            if budget == 0 {
                break;
            }
        }
    }

    /// Acts on what the peers gave since the last call: datagrams to send into `out`, and the
    /// next instant anything is due.
    pub fn poll(&mut self, out: &mut Vec<Transmit>) -> Option<Instant> {
        self.act_on_events();
        out.append(&mut self.outbox);
        // Removal shifts indices: only once no queued event names one.
        if self.events.is_empty() && std::mem::take(&mut self.some_dead) {
            self.remove_dead();
        }
        let peers = self.peers.iter().filter_map(|p| p.due).min();
        match (peers, self.keyframe_requests.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn remove_dead(&mut self) {
        let gone: Vec<(String, Side)> = self
            .peers
            .iter()
            .filter(|p| !p.rtc.is_alive())
            .map(|p| (p.room.clone(), p.side))
            .collect();
        for (room, side) in gone {
            self.census.left(&room, side);
            if side == Side::Publisher {
                self.live_event(LiveEvent::Ended(room));
            }
        }
        self.peers.retain(|p| p.rtc.is_alive());
        self.by_source.clear();
    }
}
