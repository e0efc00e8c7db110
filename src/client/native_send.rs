//! What a publishing peer sends: the sender's due packets, each written to its layer's
//! stream with the abs-capture-time of its frame.

use super::{extend_sequence, negotiated_pt, ClientError, NativePeer, PeerState, Role};
use std::time::{Instant, UNIX_EPOCH};
use str0m::format::Codec;
use str0m::media::Rid;
use str0m::rtp::{AbsCaptureTime, ExtensionValues, RtpWrite};

impl NativePeer {
    pub(super) fn capture_and_send(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.state != PeerState::Connected {
            return Ok(());
        }
        let Role::Publish(sender) = &mut self.role else {
            return Ok(());
        };
        let now_us = self.clock.micros_of(now);
        if sender.poll_timeout() > now_us {
            return Ok(());
        }
        sender.handle_timeout(now_us)?;
        let mut packets = Vec::new();
        while let Some(p) = sender.poll_packet() {
            packets.push(p);
        }
        let (Some(video_mid), Some(audio_mid)) = (self.video_mid, self.audio_mid) else {
            return Ok(());
        };
        let rtc = &self.rtc;
        let (video_pt, audio_pt) = *self.send_pts.get_or_insert_with(|| {
            (
                negotiated_pt(rtc, video_mid, Codec::H264),
                negotiated_pt(rtc, audio_mid, Codec::Opus),
            )
        });
        for p in packets {
            let is_video = p.payload_type == crate::media::rtp::VIDEO_PAYLOAD_TYPE;
            let (mid, pt) = if is_video {
                (video_mid, video_pt)
            } else {
                (audio_mid, audio_pt)
            };
            let Some(pt) = pt else { continue };
            let rid = is_video
                .then(|| sender.config().rid_of_ssrc(p.ssrc))
                .flatten()
                .map(Rid::from);
            let ext_seq = extend_sequence(&mut self.sequences, p.ssrc, p.sequence);
            let capture = p.abs_capture_us.unwrap_or(now_us);
            let mut ext = ExtensionValues::default();
            if let Some(us) = p.abs_capture_us {
                ext.abs_capture_time = Some(AbsCaptureTime {
                    capture_time: UNIX_EPOCH + std::time::Duration::from_micros(us),
                    clock_offset: None,
                });
            }
            let wallclock = self.clock.instant_of(capture).min(now);
            let mut api = self.rtc.direct_api();
            let Some(stream) = api.stream_tx_by_mid(mid, rid) else {
                continue;
            };
            stream.write_rtp(
                RtpWrite::new(pt, ext_seq.into(), p.timestamp, wallclock, p.payload)
                    .marker(p.marker)
                    .ext_vals(ext)
                    .nackable(true),
            );
        }
        Ok(())
    }
}
