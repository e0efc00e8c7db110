//! How a publisher's packet reaches its room: each viewer's copy, numbered for that viewer (one
//! layer of a simulcast room), the other workers' share, the CDN edge's top layer, and resends
//! a viewer's NACK asks for when str0m's own RTX is off.

use super::live_out::LiveEvent;
use super::quirks::Forwarded;
use super::{RoomPacket, Sfu, Side};
use crate::client::native::codec_of;
use str0m::format::Codec;
use str0m::media::Mid;
use str0m::rtp::rtcp::Nack;
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::Rtc;

impl Sfu {
    /// Sends a publisher's packet to every subscriber of its room, untouched unless a quirk
    /// says otherwise.
    pub(super) fn forward(&mut self, publisher: usize, packet: &RtpPacket) {
        let Some(codec) = codec_of(&self.peers[publisher].rtc, packet.header.payload_type) else {
            return;
        };
        let is_video = codec == Codec::H264;
        if !is_video && self.quirks.drop_audio {
            return;
        }
        let room = self.peers[publisher].room.clone();
        let ext = ExtensionValues {
            abs_capture_time: packet.header.ext_vals.abs_capture_time,
            ..Default::default()
        };
        let (rtp_time, ext) = if is_video {
            (packet.header.timestamp, ext)
        } else {
            (
                self.quirks.audio_timestamp(packet.header.timestamp),
                self.quirks.audio_extensions(&ext),
            )
        };
        let layer = match is_video {
            true => self.layer_of(publisher, packet),
            false => None,
        };
        if let Some(tag) = layer {
            self.meter_layer(&room, tag, packet.payload.len(), packet.timestamp);
        }
        let room_packet = RoomPacket {
            is_video,
            seq_no: packet.seq_no,
            rtp_time,
            wallclock: packet.timestamp,
            marker: packet.header.marker,
            payload: &packet.payload,
            ext,
            layer,
        };
        self.send_to_viewers(&room, &room_packet);
        self.relay_packet(&room, &room_packet);
        // The edge packages one stream: the top layer.
        if is_video && layer.is_none_or(|l| l.index + 1 == l.count) {
            // After the viewers have theirs: the edge packages it off this loop.
            self.hand_to_edge(room, packet);
        }
    }

    /// One packet of the room's stream to each of its viewers, numbered for each.
    pub(super) fn send_to_viewers(&mut self, room: &str, packet: &RoomPacket) {
        for index in 0..self.peers.len() {
            let sub = &mut self.peers[index];
            if sub.side != Side::Subscriber || sub.room != room {
                continue;
            }
            let (target, numbering) = if packet.is_video {
                (sub.video_mid.zip(sub.video_pt), &mut sub.video_sequence)
            } else {
                (sub.audio_mid.zip(sub.audio_pt), &mut sub.audio_sequence)
            };
            let Some((mid, pt)) = target else { continue };
            let numbers = match packet.layer.filter(|_| packet.is_video) {
                None => numbering
                    .number(packet.seq_no)
                    .map(|seq| (seq, packet.rtp_time)),
                Some(tag) => self.layered_numbers(index, room, tag, packet),
            };
            let Some((seq_no, rtp_time)) = numbers else {
                continue;
            };
            let sub = &mut self.peers[index];
            let sent = Forwarded {
                pt,
                seq_no,
                rtp_time,
                wallclock: packet.wallclock,
                marker: packet.marker,
                payload: packet.payload.to_vec(),
                ext: packet.ext.clone(),
            };
            if let Some(cache) = sub.resend.as_mut().filter(|_| packet.is_video) {
                cache.remember(sent.clone());
            }
            let str0m_resends = sub.resend.is_none();
            write(&mut sub.rtc, mid, sent, str0m_resends);
            self.forwarded += 1;
            self.drain(index);
        }
    }

    /// A publisher's video packet, handed to the CDN edge as it came.
    fn hand_to_edge(&mut self, room: String, packet: &RtpPacket) {
        let Some((epoch, events)) = self.live.as_mut() else {
            return;
        };
        let rtp = crate::media::rtp::RtpPacket {
            payload_type: *packet.header.payload_type,
            marker: packet.header.marker,
            sequence: packet.header.sequence_number,
            timestamp: packet.header.timestamp,
            ssrc: *packet.header.ssrc,
            abs_capture_us: None,
            payload: packet.payload.to_vec(),
        };
        let at = packet
            .timestamp
            .saturating_duration_since(*epoch)
            .as_micros() as u64;
        events.push(LiveEvent::Video {
            room,
            ext_seq: *packet.seq_no,
            packet: rtp,
            at,
        });
    }

    /// Sends again, on the main SSRC, the packets a subscriber's NACK asks for.
    pub(super) fn resend(&mut self, index: usize, nack: &Nack) {
        let peer = &mut self.peers[index];
        let (Some(cache), Some(mid)) = (peer.resend.as_ref(), peer.video_mid) else {
            return;
        };
        let wanted = cache.wanted(nack);
        for packet in wanted {
            write(&mut self.peers[index].rtc, mid, packet, false);
            self.drain(index);
        }
    }
}

fn write(rtc: &mut Rtc, mid: Mid, packet: Forwarded, nackable: bool) {
    let mut api = rtc.direct_api();
    let Some(stream) = api.stream_tx_by_mid(mid, None) else {
        return;
    };
    stream.write_rtp(
        RtpWrite::new(
            packet.pt,
            packet.seq_no,
            packet.rtp_time,
            packet.wallclock,
            packet.payload,
        )
        .marker(packet.marker)
        .ext_vals(packet.ext)
        .nackable(nackable),
    );
}
