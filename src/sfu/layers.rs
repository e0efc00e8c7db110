//! The SFU's side of simulcast: a publisher's packets tagged with their layer, each room's
//! layer rates, each viewer's layer chosen from its bandwidth estimate (`simulcast.rs`), and key
//! frames asked of one layer.

use super::simulcast::{begins_keyframe, LayerRates, LayerSelector, PROBE_STEP};
use super::{RoomPacket, Sfu, Side};
use std::time::Instant;
use str0m::bwe::Bitrate;
use str0m::media::{KeyframeRequestKind, Rid};
use str0m::rtp::{RtpPacket, SeqNo};

/// The estimate a viewer of a simulcast room starts from: above any top layer we publish, so a
/// viewer with room to spare starts and stays on the top layer.
pub(super) const START_ESTIMATE_BPS: u64 = 5_000_000;
/// The least a viewer's estimator settles at.
const MIN_ESTIMATE_BPS: u64 = 100_000;
/// How far above the top layer's rate a viewer's estimator probes, so it finds out when the
/// viewer's network can carry the top layer again.
const PROBE_ABOVE_TOP: f64 = 1.5;

/// Which layer of its publisher's stream a video packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerTag {
    pub index: u8,
    pub count: u8,
    pub keyframe_start: bool,
}

/// A simulcast publisher's layers: their stream ids, smallest first as offered, and which
/// SSRC carries which.
#[derive(Debug, Clone, Default)]
pub(super) struct PublisherLayers {
    rids: Vec<Rid>,
    by_ssrc: Vec<(u32, u8)>,
}

impl PublisherLayers {
    pub fn new(rids: Vec<Rid>) -> Self {
        Self {
            rids,
            by_ssrc: Vec::new(),
        }
    }
}

/// Whether an offer publishes simulcast (RFC 8853).
pub(super) fn offers_simulcast(offer: &str) -> bool {
    offer.lines().any(|l| l.starts_with("a=simulcast:"))
}

impl Sfu {
    /// The layer of a publisher's video packet, when it publishes simulcast; `None` otherwise
    /// or for a stream id it did not offer.
    pub(super) fn layer_of(&mut self, publisher: usize, packet: &RtpPacket) -> Option<LayerTag> {
        let peer = &mut self.peers[publisher];
        let layers = peer.layers.as_mut()?;
        let ssrc = *packet.header.ssrc;
        let index = match layers.by_ssrc.iter().find(|(s, _)| *s == ssrc) {
            Some(&(_, index)) => index,
            None => {
                let rid = packet.header.ext_vals.rid.or_else(|| {
                    let mut api = peer.rtc.direct_api();
                    api.stream_rx(&packet.header.ssrc).and_then(|s| s.rid())
                })?;
                let index = layers.rids.iter().position(|r| *r == rid)? as u8;
                layers.by_ssrc.push((ssrc, index));
                index
            }
        };
        Some(LayerTag {
            index,
            count: layers.rids.len() as u8,
            keyframe_start: begins_keyframe(&packet.payload),
        })
    }

    /// Counts a layer's packet in its room's rates (every worker keeps its own).
    pub(super) fn meter_layer(&mut self, room: &str, tag: LayerTag, bytes: usize, now: Instant) {
        if !self.room_rates.contains_key(room) {
            self.room_rates
                .insert(room.to_string(), LayerRates::new(tag.count as usize));
        }
        if let Some(rates) = self.room_rates.get_mut(room) {
            rates.on_packet(tag.index as usize, bytes, now);
        }
    }

    /// A viewer's numbers for a packet of a simulcast room: `None` when its layer is not the
    /// one the viewer gets. Asks for the key frame a pending switch waits for.
    pub(super) fn layered_numbers(
        &mut self,
        viewer: usize,
        room: &str,
        tag: LayerTag,
        packet: &RoomPacket,
    ) -> Option<(SeqNo, u32)> {
        let rates = self.room_rates.get(room);
        let peer = &mut self.peers[viewer];
        let selector = peer
            .selector
            .get_or_insert_with(|| LayerSelector::new(tag.count as usize));
        let current_on = selector
            .current()
            .is_some_and(|l| rates.is_some_and(|r| r.rate_bps(l, packet.wallclock).is_some()));
        let numbers = selector.on_packet(
            tag.index as usize,
            *packet.seq_no,
            packet.rtp_time,
            packet.wallclock,
            tag.keyframe_start,
            current_on,
        );
        let probe = selector.probe_step(packet.wallclock);
        let wanted = selector.keyframe_wanted(packet.wallclock);
        let top = rates.and_then(|r| r.rate_bps(r.count().saturating_sub(1), packet.wallclock));
        if let (Some(step), Some(top)) = (probe, top) {
            let desired = top * PROBE_ABOVE_TOP * (1.0 + PROBE_STEP * step as f64);
            peer.rtc.bwe().set_bitrate(
                Bitrate::bps(MIN_ESTIMATE_BPS),
                Bitrate::bps((desired as u64).max(MIN_ESTIMATE_BPS)),
            );
        }
        if let Some(layer) = wanted {
            self.request_keyframe_of(room, Some(layer));
        }
        numbers.map(|n| (n.seq_no.into(), n.rtp_time))
    }

    /// A viewer's bandwidth estimate: its layer follows, and its estimator probes up to a bit
    /// above the room's top layer.
    pub(super) fn on_viewer_estimate(&mut self, viewer: usize, bps: f64, now: Instant) {
        let peer = &mut self.peers[viewer];
        if peer.side != Side::Subscriber {
            return;
        }
        let Some(rates) = self.room_rates.get(&peer.room) else {
            return;
        };
        if let Some(selector) = peer.selector.as_mut() {
            selector.on_estimate(bps, rates, now);
        }
        let top = (0..rates.count())
            .rev()
            .find_map(|l| rates.rate_bps(l, now));
        if let Some(top) = top {
            let desired = (top * PROBE_ABOVE_TOP) as u64;
            peer.rtc.bwe().set_bitrate(
                Bitrate::bps(MIN_ESTIMATE_BPS),
                Bitrate::bps(desired.max(MIN_ESTIMATE_BPS)),
            );
        }
    }

    /// Asks the room's publisher here for a key frame on `layer` (every layer with `None`);
    /// false if the publisher is not on this worker.
    pub(super) fn request_keyframe_here(&mut self, room: &str, layer: Option<usize>) -> bool {
        let Some(index) = self
            .peers
            .iter()
            .position(|p| p.side == Side::Publisher && p.room == room)
        else {
            return false;
        };
        let publisher = &mut self.peers[index];
        let Some(mid) = publisher.video_mid else {
            return true;
        };
        let rids: Vec<Option<Rid>> = match (&publisher.layers, layer) {
            (None, _) => vec![None],
            (Some(l), None) => l.rids.iter().copied().map(Some).collect(),
            (Some(l), Some(i)) => vec![l.rids.get(i).copied()],
        };
        let mut api = publisher.rtc.direct_api();
        for rid in rids {
            if let Some(rx) = api.stream_rx_by_mid(mid, rid) {
                rx.request_keyframe(KeyframeRequestKind::Pli);
            }
        }
        self.drain(index);
        true
    }
}
