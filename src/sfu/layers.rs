//! The SFU's side of simulcast: a publisher's packets tagged with their layer, each room's
//! layer rates, each viewer's layer chosen from its bandwidth estimate (`simulcast.rs`), and key
//! frames asked of one layer.

use super::simulcast::{begins_keyframe, LayerRates, LayerSelector};
use super::{RoomPacket, Sfu, SfuError, Side};
use crate::media::simulcast::ProbeRamp;
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

/// The stream ids of the layers an offer publishes by simulcast (RFC 8853), in the offer's
/// order (ours: smallest first); empty for one layer. Of alternatives the first is taken, and a
/// layer offered paused (`~`) still counts.
pub(super) fn offered_rids(offer: &str) -> Vec<String> {
    let Some(line) = offer
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("a=simulcast:"))
    else {
        return Vec::new();
    };
    let mut words = line.split_whitespace();
    while let Some(direction) = words.next() {
        let list = words.next().unwrap_or("");
        if direction == "send" {
            return list
                .split(';')
                .filter_map(|alternatives| alternatives.split(',').next())
                .map(|rid| rid.trim_start_matches('~').to_string())
                .filter(|rid| !rid.is_empty())
                .collect();
        }
    }
    Vec::new()
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
        let restart = selector.restart_estimator(packet.wallclock);
        let wanted = selector.keyframe_wanted(packet.wallclock);
        let top = rates.and_then(|r| r.rate_bps(r.count().saturating_sub(1), packet.wallclock));
        if let (Some(step), Some(top)) = (probe, top) {
            let desired = top * PROBE_ABOVE_TOP * ProbeRamp::factor(step);
            peer.rtc.bwe().set_bitrate(
                Bitrate::bps(MIN_ESTIMATE_BPS),
                Bitrate::bps((desired as u64).max(MIN_ESTIMATE_BPS)),
            );
        }
        if let Some(estimate) = restart {
            peer.rtc.bwe().reset(Bitrate::bps(estimate as u64));
        }
        if let Some(layer) = wanted {
            self.request_keyframe_of(room, Some(layer));
        }
        numbers.map(|n| (n.seq_no.into(), n.rtp_time))
    }

    /// Viewer `id` asked for the layer with stream id `rid`, or with `None` for its bandwidth
    /// estimate to choose again (the WHEP layer extension). The switch waits for the layer's
    /// key frame, as an estimated one does.
    pub fn ask_layer(&mut self, id: u64, rid: Option<&str>) -> Result<(), SfuError> {
        let viewer = self
            .peers
            .iter()
            .position(|p| p.id == id && p.side == Side::Subscriber)
            .ok_or(SfuError::NoSession(id))?;
        let room = self.peers[viewer].room.clone();
        let rids = self.census.layer_rids(&room);
        if rids.is_empty() {
            return Err(SfuError::OneLayer(room));
        }
        let layer =
            match rid {
                None => None,
                Some(rid) => Some(rids.iter().position(|r| r == rid).ok_or_else(|| {
                    SfuError::NoSuchLayer {
                        room: room.clone(),
                        rid: rid.to_string(),
                        offered: rids.join(", "),
                    }
                })?),
            };
        self.peers[viewer]
            .selector
            .get_or_insert_with(|| LayerSelector::new(rids.len()))
            .pin(layer);
        Ok(())
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
    /// Requests close together are combined (`KeyframeRequests`).
    pub(super) fn request_keyframe_here(&mut self, room: &str, layer: Option<usize>) -> bool {
        let Some(index) = self.publisher_of(room) else {
            return false;
        };
        let now = self.latest.unwrap_or_else(Instant::now);
        if self.keyframe_requests.pass(room, layer, now) {
            self.send_keyframe_request(index, layer);
        }
        true
    }

    /// The combined requests whose wait is over at `now`, sent.
    pub(super) fn send_held_keyframe_requests(&mut self, now: Instant) {
        for (room, layer) in self.keyframe_requests.due(now) {
            if let Some(index) = self.publisher_of(&room) {
                self.send_keyframe_request(index, layer);
            }
        }
    }

    fn publisher_of(&self, room: &str) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.side == Side::Publisher && p.room == room)
    }

    /// A PLI to publisher `index` on `layer`'s stream (every layer's with `None`).
    fn send_keyframe_request(&mut self, index: usize, layer: Option<usize>) {
        let publisher = &mut self.peers[index];
        let Some(mid) = publisher.video_mid else {
            return;
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
    }
}

#[cfg(test)]
mod tests {
    use super::offered_rids;

    #[test]
    fn the_layers_an_offer_sends_are_read_from_its_simulcast_line() {
        let ours =
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:q send\r\na=simulcast:send q;h;f\r\n";
        assert_eq!(offered_rids(ours), ["q", "h", "f"]);
        // Alternatives keep the first; a paused layer still counts; receive lists are not ours.
        let browser = "a=simulcast:recv x send ~lo,lo2;hi\n";
        assert_eq!(offered_rids(browser), ["lo", "hi"]);
        assert!(offered_rids("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n").is_empty());
        assert!(offered_rids("a=simulcast:recv q;h\r\n").is_empty());
    }
}
