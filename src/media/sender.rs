//! The publisher: captures the synthetic sources on schedule, encodes, marks and packetizes.
//! Sans-IO: the caller asks when it next has work, hands it the time, and collects packets.

use super::codec::{CodecError, OpusEncoder};
use super::frame::I420Frame;
use super::marker::{draw_pixel_marker, FrameMarker};
use super::rtp::{
    RtpPacket, AUDIO_CLOCK_RATE, AUDIO_PAYLOAD_TYPE, VIDEO_CLOCK_RATE, VIDEO_PAYLOAD_TYPE,
};
use super::simulcast::{allocate, rid_of, EncodedLayer, LayerConfig};
use super::source::{AudioSource, VideoSource, AUDIO_FRAME_SAMPLES};
use super::Micros;
pub use crate::record::SenderStats;
use std::collections::VecDeque;
use str0m::unversioned::{OpusPacketizer, Packetizer};

/// RTP payload budget per packet: fits a 1280-byte datagram after SRTP and extensions.
pub const RTP_PAYLOAD_MTU: usize = 1150;
/// Forced key frames from receiver requests are spaced at least this far apart.
const MIN_KEYFRAME_SPACING_US: u64 = 200_000;
/// An upper simulcast layer stays on while the estimate leaves it this share of its rate.
const MIN_LAYER_SHARE: f64 = 0.6;

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
    /// Simulcast layers below the top one (`width` x `height` at `video_bitrate_bps`),
    /// smallest first; empty for one layer.
    pub lower_layers: Vec<LayerConfig>,
}

impl SenderConfig {
    /// Every video layer, smallest first; the last is the top.
    pub fn layers(&self) -> Vec<LayerConfig> {
        let top = LayerConfig {
            scale_down: 1,
            fps: self.fps,
            bitrate_bps: self.video_bitrate_bps,
        };
        self.lower_layers.iter().copied().chain([top]).collect()
    }

    /// The SSRC of layer `index` (the top layer's is `video_ssrc`).
    pub fn layer_ssrc(&self, index: usize) -> u32 {
        let below_top = self.lower_layers.len().saturating_sub(index) as u32;
        self.video_ssrc
            .wrapping_add(below_top.wrapping_mul(0x9E37_79B9))
    }

    /// The RTP stream id of the layer sent on `ssrc`, when the stream is simulcast.
    pub fn rid_of_ssrc(&self, ssrc: u32) -> Option<&'static str> {
        let count = self.lower_layers.len() + 1;
        if count == 1 {
            return None;
        }
        (0..count)
            .find(|&i| self.layer_ssrc(i) == ssrc)
            .map(|i| rid_of(i, count))
    }
}

pub struct MediaSender {
    config: SenderConfig,
    start: Micros,
    source: VideoSource,
    /// Smallest first; the last is the top layer.
    layers: Vec<EncodedLayer>,
    audio: Option<(AudioSource, OpusEncoder, OpusPacketizer)>,
    next_frame: u64,
    next_audio: u64,
    audio_seq: u16,
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
        let video_seq = (config.seed as u16).wrapping_mul(7);
        let layers = config
            .layers()
            .into_iter()
            .enumerate()
            .map(|(i, layer)| {
                let ssrc = config.layer_ssrc(i);
                let seq = video_seq.wrapping_add((i as u16).wrapping_mul(10_007));
                EncodedLayer::new(layer, config.fps, config.keyframe_interval_us, ssrc, seq)
            })
            .collect::<Result<Vec<_>, _>>()?;
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
            layers,
            audio,
            next_frame: 0,
            next_audio: 0,
            audio_seq: (config.seed as u16).wrapping_mul(13),
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
        let top = self.layers.len() - 1;
        self.layers.drain(..top);
        self.config.lower_layers.clear();
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

    /// What the layers that are on are asked for, together.
    pub fn video_bitrate_bps(&self) -> u32 {
        self.layers
            .iter()
            .filter(|l| l.active)
            .map(|l| l.encoder.bitrate_bps())
            .sum()
    }

    /// Shares the bandwidth estimate for video among the layers, each capped at its
    /// configured rate; an upper layer it cannot carry goes off, and comes back with a key
    /// frame when it can. Whether every layer is on.
    pub fn set_video_bitrate(&mut self, bps: u32) -> bool {
        let configured: Vec<u32> = self.layers.iter().map(|l| l.bitrate_bps).collect();
        let shares = allocate(&configured, bps, MIN_LAYER_SHARE);
        for (layer, share) in self.layers.iter_mut().zip(shares) {
            match share {
                Some(bps) => {
                    layer.encoder.set_bitrate(bps);
                    if !layer.active {
                        layer.active = true;
                        layer.keyframe_wanted = true;
                    }
                }
                None => layer.active = false,
            }
        }
        self.layers.iter().all(|l| l.active)
    }

    /// A key frame on every layer.
    pub fn request_keyframe(&mut self) {
        for layer in &mut self.layers {
            layer.keyframe_wanted = true;
        }
    }

    /// A key frame on the layer sent on `ssrc` (every layer if none is).
    pub fn request_keyframe_on(&mut self, ssrc: u32) {
        match self.layers.iter_mut().find(|l| l.ssrc == ssrc) {
            Some(layer) => layer.keyframe_wanted = true,
            None => self.request_keyframe(),
        }
    }

    /// A new connection starts at `now`: audio that fell due meanwhile is not sent late, and
    /// the new stream opens with a key frame.
    pub fn on_reconnect(&mut self, now: Micros) {
        while self.audio.is_some() && self.audio_due(self.next_audio) < now {
            self.next_audio += 1;
        }
        self.request_keyframe();
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
        let mut picture = self.source.frame(n);
        let marker = FrameMarker {
            frame: n as u32,
            capture_us: now,
        };
        let top = self.layers.len() - 1;
        for i in 0..top {
            if self.layer_takes(i, n) {
                // Scaled from the clean picture, then marked, so each layer's marker is whole.
                let mut small = picture.downscaled(self.layers[i].scale_down);
                draw_pixel_marker(&mut small, marker);
                self.encode_layer(i, &small, marker, now)?;
            }
        }
        if self.layer_takes(top, n) {
            draw_pixel_marker(&mut picture, marker);
            self.encode_layer(top, &picture, marker, now)?;
        }
        self.stats.frames_sent += 1;
        Ok(())
    }

    fn layer_takes(&self, layer: usize, frame: u64) -> bool {
        let layer = &self.layers[layer];
        layer.active && frame % layer.frame_every == 0
    }

    /// Encodes one layer's picture and queues its packets (or the whole frame, for RTMP).
    fn encode_layer(
        &mut self,
        index: usize,
        picture: &I420Frame,
        marker: FrameMarker,
        now: Micros,
    ) -> Result<(), CodecError> {
        let layer = &mut self.layers[index];
        if layer.keyframe_wanted
            && layer
                .last_forced_keyframe
                .is_none_or(|t| now.saturating_sub(t) >= MIN_KEYFRAME_SPACING_US)
        {
            layer.encoder.force_keyframe();
            layer.keyframe_wanted = false;
            layer.last_forced_keyframe = Some(now);
            self.stats.keyframe_requests_honoured += 1;
        }
        let encoded = layer.encoder.encode(picture, marker)?;
        if encoded.keyframe {
            self.stats.keyframes += 1;
        }
        let n = marker.frame as u64;
        if let Some(frames) = self.whole_frames.as_mut() {
            self.stats.video_bytes += encoded.data.len() as u64;
            frames.push_back(AccessUnit {
                pts_ms: n * 1000 / self.config.fps as u64,
                keyframe: encoded.keyframe,
                annexb: encoded.data,
            });
            return Ok(());
        }
        let payloads = layer
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
                sequence: layer.seq,
                timestamp,
                ssrc: layer.ssrc,
                abs_capture_us: (i == 0).then_some(now),
                payload,
            });
            layer.seq = layer.seq.wrapping_add(1);
        }
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
