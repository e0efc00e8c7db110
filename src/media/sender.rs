//! The publisher: captures the synthetic sources on schedule, encodes, marks and packetizes.
//! Sans-IO: the caller asks when it next has work, hands it the time, and collects packets.

use super::codec::{CodecError, OpusEncoder, VideoEncoder};
use super::marker::{draw_pixel_marker, FrameMarker};
use super::rtp::{
    RtpPacket, AUDIO_CLOCK_RATE, AUDIO_PAYLOAD_TYPE, VIDEO_CLOCK_RATE, VIDEO_PAYLOAD_TYPE,
};
use super::source::{AudioSource, VideoSource, AUDIO_FRAME_SAMPLES};
use super::Micros;
pub use crate::record::SenderStats;
use std::collections::VecDeque;
use str0m::unversioned::{H264Packetizer, OpusPacketizer, Packetizer};

/// RTP payload budget per packet: fits a 1280-byte datagram after SRTP and extensions.
pub const RTP_PAYLOAD_MTU: usize = 1150;
/// Forced key frames from receiver requests are spaced at least this far apart.
const MIN_KEYFRAME_SPACING_US: u64 = 200_000;

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub seed: u64,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
    pub video_bitrate_bps: u32,
    pub keyframe_interval_us: u64,
    pub audio_bitrate_bps: Option<u32>,
    pub video_ssrc: u32,
    pub audio_ssrc: u32,
    /// Probes of this stream score PSNR/SSIM on every n-th frame (by frame number).
    pub probe_score_every: u32,
}

pub struct MediaSender {
    config: SenderConfig,
    start: Micros,
    source: VideoSource,
    encoder: VideoEncoder,
    packetizer: H264Packetizer,
    audio: Option<(AudioSource, OpusEncoder, OpusPacketizer)>,
    next_frame: u64,
    next_audio: u64,
    video_seq: u16,
    audio_seq: u16,
    keyframe_wanted: bool,
    last_forced_keyframe: Option<Micros>,
    /// Windows (absolute µs) in which captured frames are withheld: scripted stalls.
    stalls: Vec<(Micros, Micros)>,
    pub stats: SenderStats,
    out: VecDeque<RtpPacket>,
    /// Whole encoded frames instead of RTP packets, for a container-based push (RTMP).
    whole_frames: Option<VecDeque<AccessUnit>>,
}

/// One encoded picture as an RTMP or file muxer takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// Annex B, with the SEI marker (and SPS/PPS before a key frame).
    pub annexb: Vec<u8>,
    pub keyframe: bool,
    /// Presentation time from the sender's start, in milliseconds (RTMP's clock).
    pub pts_ms: u64,
}

impl MediaSender {
    pub fn new(config: SenderConfig, start: Micros) -> Result<Self, CodecError> {
        let keyframe_frames =
            (config.keyframe_interval_us * config.fps as u64 / 1_000_000).max(1) as u32;
        let encoder = VideoEncoder::new(config.fps, config.video_bitrate_bps, keyframe_frames)?;
        let audio = match config.audio_bitrate_bps {
            Some(bps) => Some((
                AudioSource::new(config.seed),
                OpusEncoder::new(bps)?,
                OpusPacketizer,
            )),
            None => None,
        };
        Ok(Self {
            source: VideoSource::new(config.seed, config.width, config.height),
            encoder,
            packetizer: H264Packetizer::default(),
            audio,
            next_frame: 0,
            next_audio: 0,
            video_seq: (config.seed as u16).wrapping_mul(7),
            audio_seq: (config.seed as u16).wrapping_mul(13),
            keyframe_wanted: false,
            last_forced_keyframe: None,
            stalls: Vec::new(),
            stats: SenderStats::default(),
            out: VecDeque::new(),
            whole_frames: None,
            config,
            start,
        })
    }

    /// The same sender handing out whole video frames ([`Self::poll_access_unit`]) instead of
    /// RTP packets, for an RTMP push. Video only: RTMP's audio codecs (AAC, or Opus in
    /// enhanced RTMP) are not sent (docs/cdn.md says why).
    pub fn into_whole_frames(mut self) -> Self {
        self.audio = None;
        self.config.audio_bitrate_bps = None;
        self.whole_frames = Some(VecDeque::new());
        self
    }

    /// The next whole frame, in whole-frame mode.
    pub fn poll_access_unit(&mut self) -> Option<AccessUnit> {
        self.whole_frames.as_mut()?.pop_front()
    }

    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// Withholds every frame captured within `[from, to)`.
    pub fn add_stall(&mut self, from: Micros, to: Micros) {
        self.stalls.push((from, to));
    }

    pub fn video_bitrate_bps(&self) -> u32 {
        self.encoder.bitrate_bps()
    }

    /// Sets the encoder's target, capped at the configured rate.
    pub fn set_video_bitrate(&mut self, bps: u32) {
        self.encoder
            .set_bitrate(bps.min(self.config.video_bitrate_bps));
    }

    pub fn request_keyframe(&mut self) {
        self.keyframe_wanted = true;
    }

    /// A new connection starts at `now`: audio that fell due meanwhile is not sent late, and
    /// the new stream opens with a key frame.
    pub fn on_reconnect(&mut self, now: Micros) {
        while self.audio.is_some() && self.audio_due(self.next_audio) < now {
            self.next_audio += 1;
        }
        self.keyframe_wanted = true;
    }

    fn frame_due(&self, n: u64) -> Micros {
        self.start + n * 1_000_000 / self.config.fps as u64
    }
    fn audio_due(&self, n: u64) -> Micros {
        self.start + n * 20_000
    }

    /// The next instant at which the sender has something to capture.
    pub fn poll_timeout(&self) -> Micros {
        let video = self.frame_due(self.next_frame);
        if self.audio.is_some() {
            video.min(self.audio_due(self.next_audio))
        } else {
            video
        }
    }

    /// Captures whatever is due at `now`; `now` is the capture instant stamped in the markers.
    pub fn handle_timeout(&mut self, now: Micros) -> Result<(), CodecError> {
        while self.audio.is_some() && self.audio_due(self.next_audio) <= now {
            self.capture_audio()?;
        }
        if self.frame_due(self.next_frame) <= now {
            // A late generator captures the newest due frame only, as a camera would.
            while self.frame_due(self.next_frame + 1) <= now {
                self.next_frame += 1;
                self.stats.frames_captured += 1;
            }
            self.capture_video(now)?;
        }
        Ok(())
    }

    pub fn poll_packet(&mut self) -> Option<RtpPacket> {
        self.out.pop_front()
    }

    fn capture_video(&mut self, now: Micros) -> Result<(), CodecError> {
        let n = self.next_frame;
        self.next_frame += 1;
        self.stats.frames_captured += 1;
        if self
            .stalls
            .iter()
            .any(|&(from, to)| now >= from && now < to)
        {
            return Ok(());
        }
        if self.keyframe_wanted
            && self
                .last_forced_keyframe
                .is_none_or(|t| now.saturating_sub(t) >= MIN_KEYFRAME_SPACING_US)
        {
            self.encoder.force_keyframe();
            self.keyframe_wanted = false;
            self.last_forced_keyframe = Some(now);
            self.stats.keyframe_requests_honoured += 1;
        }
        let mut picture = self.source.frame(n);
        let marker = FrameMarker {
            frame: n as u32,
            capture_us: now,
        };
        draw_pixel_marker(&mut picture, marker);
        let encoded = self.encoder.encode(&picture, marker)?;
        if encoded.keyframe {
            self.stats.keyframes += 1;
        }
        if let Some(frames) = self.whole_frames.as_mut() {
            self.stats.video_bytes += encoded.data.len() as u64;
            self.stats.frames_sent += 1;
            frames.push_back(AccessUnit {
                pts_ms: n * 1000 / self.config.fps as u64,
                keyframe: encoded.keyframe,
                annexb: encoded.data,
            });
            return Ok(());
        }
        let payloads = self
            .packetizer
            .packetize(RTP_PAYLOAD_MTU, &encoded.data)
            .map_err(|e| CodecError::H264Encode(format!("packetize: {e}")))?;
        let timestamp = (n * VIDEO_CLOCK_RATE as u64 / self.config.fps as u64) as u32;
        let count = payloads.len();
        for (i, payload) in payloads.into_iter().enumerate() {
            self.stats.video_packets += 1;
            self.stats.video_bytes += payload.len() as u64;
            self.out.push_back(RtpPacket {
                payload_type: VIDEO_PAYLOAD_TYPE,
                marker: i + 1 == count,
                sequence: self.video_seq,
                timestamp,
                ssrc: self.config.video_ssrc,
                abs_capture_us: (i == 0).then_some(now),
                payload,
            });
            self.video_seq = self.video_seq.wrapping_add(1);
        }
        self.stats.frames_sent += 1;
        Ok(())
    }

    fn capture_audio(&mut self) -> Result<(), CodecError> {
        let n = self.next_audio;
        self.next_audio += 1;
        let Some((source, encoder, packetizer)) = self.audio.as_mut() else {
            return Ok(());
        };
        let payload = encoder.encode(&source.frame(n))?;
        let payloads = packetizer
            .packetize(RTP_PAYLOAD_MTU, &payload)
            .map_err(|e| CodecError::Opus(format!("packetize: {e}")))?;
        let timestamp = (n * AUDIO_FRAME_SAMPLES as u64) as u32;
        let capture =
            self.start + n * 1_000_000 * AUDIO_FRAME_SAMPLES as u64 / AUDIO_CLOCK_RATE as u64;
        debug_assert_eq!(AUDIO_CLOCK_RATE as usize / 50, AUDIO_FRAME_SAMPLES);
        for payload in payloads {
            self.stats.audio_packets += 1;
            self.out.push_back(RtpPacket {
                payload_type: AUDIO_PAYLOAD_TYPE,
                marker: false,
                sequence: self.audio_seq,
                timestamp,
                ssrc: self.config.audio_ssrc,
                // On every packet: audio latency is measured from it alone.
                abs_capture_us: Some(capture),
                payload,
            });
            self.audio_seq = self.audio_seq.wrapping_add(1);
        }
        Ok(())
    }
}
