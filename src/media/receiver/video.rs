//! The video half of a receiver: RTP stats, frame assembly, the decode chain, freezes and
//! latency for every receiver; decoding, the pixel marker and PSNR/SSIM for quality probes.

use super::assembler::{AssembledFrame, FrameAssembler};
use super::freeze::FreezeDetector;
use super::layers::LayerTrack;
use super::recovery::RecoveryWatch;
use super::reference::reference_frame;
use super::rtp_stats::{Arrival, RtpStats};
use super::shared_decode::{DecodeShare, Picture, ProbeDecoder};
use crate::base::Micros;
use crate::media::codec::is_keyframe;
use crate::media::marker::{
    annexb_nals, find_sei_marker, read_pixel_marker, strip_height, FrameMarker,
};
use crate::media::quality::{psnr_y, ssim_y};
use crate::media::rtp::{RtpPacket, VIDEO_CLOCK_RATE};
use crate::media::sender::SenderConfig;
use crate::media::source::VideoSource;
use crate::metrics::{Metric, Sample};
use str0m::format::CodecExtra;
use str0m::unversioned::{Depacketizer, H264Depacketizer};

/// Keyframe requests are repeated no more often than this while the picture stays broken.
const KEYFRAME_REQUEST_INTERVAL_US: u64 = 250_000;

pub struct QualityProbe {
    decoder: ProbeDecoder,
    reference: VideoSource,
    pub marker_reads: u64,
    pub marker_misses: u64,
    pub decode_errors: u64,
    pub psnr_sum: f64,
    pub ssim_sum: f64,
    pub scored_frames: u64,
    /// Scores frames whose number is a multiple of this (1: all).
    score_every: u64,
}

impl QualityProbe {
    pub fn new(reference: VideoSource) -> Result<Self, crate::media::codec::CodecError> {
        Ok(Self {
            decoder: ProbeDecoder::new(DecodeShare::process(), stream_of(&reference)),
            reference,
            marker_reads: 0,
            marker_misses: 0,
            decode_errors: 0,
            psnr_sum: 0.0,
            ssim_sum: 0.0,
            scored_frames: 0,
            score_every: 1,
        })
    }

    /// A probe of `stream`, scoring the frames its config says.
    pub fn of(stream: &SenderConfig) -> Result<Self, crate::media::codec::CodecError> {
        let mut probe = Self::new(VideoSource::new(stream.seed, stream.width, stream.height))?;
        probe.score_every = stream.probe_score_every.max(1) as u64;
        Ok(probe)
    }

    /// Decodes one access unit, in decoding order, and scores its picture against the source;
    /// for players that show frames on a schedule of their own (the CDN players).
    pub fn score_access_unit(&mut self, access_unit: &[u8], now: Micros, out: &mut Vec<Sample>) {
        match self.decoder.decode(access_unit) {
            Ok(Some(picture)) => {
                let pixel = read_pixel_marker(&picture.frame);
                if pixel.is_some() {
                    self.marker_reads += 1;
                } else {
                    self.marker_misses += 1;
                }
                if let Some(marker) = pixel.or_else(|| find_sei_marker(access_unit)) {
                    score_picture(self, &picture, marker.frame, now, out);
                }
            }
            Ok(None) => {}
            Err(_) => self.decode_errors += 1,
        }
    }
}

/// Names the stream a probe expects, to keep it in one shard of the shared decoding.
fn stream_of(reference: &VideoSource) -> u64 {
    let (width, height) = reference.dimensions();
    reference.seed() ^ ((width as u64) << 40) ^ ((height as u64) << 20)
}

impl std::fmt::Debug for QualityProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QualityProbe")
            .field("scored_frames", &self.scored_frames)
            .field("decode_errors", &self.decode_errors)
            .finish_non_exhaustive()
    }
}

pub struct VideoReceiver {
    pub stats: RtpStats,
    assembler: FrameAssembler,
    depacketizer: H264Depacketizer,
    pub probe: Option<QualityProbe>,
    pub freeze: FreezeDetector,
    subscribed_at: Micros,
    pub first_frame_ms: Option<f64>,
    /// Extended sequence number of the last packet of the last frame handed to the decoder.
    chain_end: Option<u64>,
    awaiting_keyframe: bool,
    last_keyframe_request: Option<Micros>,
    pub keyframe_requests: u64,
    pub frames_complete: u64,
    pub frames_undecodable: u64,
    pub latency: hdrhistogram::Histogram<u64>,
    interval_frames: u64,
    interval_bytes: u64,
    samples: Vec<Sample>,
    wants_keyframe: bool,
    /// The source's number of the last frame shown, and the frames never shown between.
    last_frame_number: Option<u32>,
    pub frames_lost: u64,
    pub recovery: RecoveryWatch,
    pub recoveries_us: Vec<u64>,
    /// The picture sizes shown (simulcast layers).
    pub layers: LayerTrack,
}

impl VideoReceiver {
    pub fn new(subscribed_at: Micros, probe: Option<QualityProbe>) -> Self {
        Self {
            stats: RtpStats::new(VIDEO_CLOCK_RATE),
            assembler: FrameAssembler::default(),
            depacketizer: H264Depacketizer::default(),
            probe,
            freeze: FreezeDetector::default(),
            subscribed_at,
            first_frame_ms: None,
            chain_end: None,
            awaiting_keyframe: true,
            last_keyframe_request: None,
            keyframe_requests: 0,
            frames_complete: 0,
            frames_undecodable: 0,
            latency: hdrhistogram::Histogram::new(2).expect("valid precision"),
            interval_frames: 0,
            interval_bytes: 0,
            samples: Vec::new(),
            wants_keyframe: false,
            last_frame_number: None,
            frames_lost: 0,
            recovery: RecoveryWatch::default(),
            recoveries_us: Vec::new(),
            layers: LayerTrack::default(),
        }
    }

    /// The stream comes again on a new connection: new sequence numbers, a key frame first.
    pub fn on_reconnect(&mut self) {
        self.stats.restart();
        self.assembler = FrameAssembler::default();
        self.depacketizer = H264Depacketizer::default();
        self.chain_end = None;
        self.awaiting_keyframe = true;
    }

    pub fn on_packet(&mut self, packet: RtpPacket, now: Micros) {
        let ext =
            match self
                .stats
                .on_packet(packet.sequence, packet.timestamp, now, packet.payload.len())
            {
                Arrival::Duplicate => return,
                Arrival::InOrder(e) | Arrival::Late(e) => e,
            };
        self.interval_bytes += packet.payload.len() as u64;
        for frame in self.assembler.insert(ext, packet, now) {
            self.on_frame(frame, now);
        }
    }

    fn on_frame(&mut self, frame: AssembledFrame, now: Micros) {
        self.frames_complete += 1;
        let mut access_unit = Vec::with_capacity(frame.bytes + 16 * frame.payloads.len());
        let mut extra = CodecExtra::None;
        for payload in &frame.payloads {
            if self
                .depacketizer
                .depacketize(payload, &mut access_unit, &mut extra)
                .is_err()
            {
                self.frames_undecodable += 1;
                self.request_keyframe(now);
                return;
            }
        }
        let keyframe = is_keyframe(&access_unit);
        // A delta frame decodes only if the frame before it in the stream did.
        let continues_chain = self.chain_end.is_some_and(|end| end + 1 == frame.first_seq);
        if !(keyframe || (continues_chain && !self.awaiting_keyframe)) {
            self.frames_undecodable += 1;
            self.awaiting_keyframe = true;
            self.request_keyframe(now);
            return;
        }
        self.awaiting_keyframe = false;
        self.chain_end = Some(frame.last_seq);
        if keyframe {
            for sps in
                annexb_nals(&access_unit).filter(|n| n.first().is_some_and(|b| b & 0x1F == 7))
            {
                self.layers.on_sps(sps);
            }
        }

        let sei = find_sei_marker(&access_unit);
        let mut capture_us = sei.map(|m| m.capture_us).or(frame.abs_capture_us);
        let mut number = sei.map(|m| m.frame);
        if let Some(probe) = self.probe.as_mut() {
            match probe.decoder.decode(&access_unit) {
                Ok(Some(picture)) => {
                    let pixel = read_pixel_marker(&picture.frame);
                    if pixel.is_some() {
                        probe.marker_reads += 1;
                    } else {
                        probe.marker_misses += 1;
                    }
                    if let Some(FrameMarker {
                        frame: n,
                        capture_us: c,
                    }) = pixel.or(sei)
                    {
                        capture_us = Some(pixel.map_or(c, |p| p.capture_us));
                        number = Some(n);
                        if let Some(db) = score_picture(probe, &picture, n, now, &mut self.samples)
                        {
                            self.layers.on_psnr(db);
                        }
                    }
                }
                // No picture for this access unit: nothing was shown.
                Ok(None) => return,
                Err(_) => {
                    probe.decode_errors += 1;
                    self.awaiting_keyframe = true;
                    self.request_keyframe(now);
                    return;
                }
            }
        }
        self.layers.on_frame(now, number);
        self.render(now, capture_us, number);
    }

    fn render(&mut self, now: Micros, capture_us: Option<Micros>, number: Option<u32>) {
        self.show(now, now, capture_us, number);
    }

    /// A frame another client (a sidecar) received complete at `complete_at` and showed at
    /// `shown_at`: latency counts to the first, as for our own frames; the picture's timing
    /// (first frame, freezes, frame rate, recovery) to the second.
    pub fn show(
        &mut self,
        complete_at: Micros,
        shown_at: Micros,
        capture_us: Option<Micros>,
        number: Option<u32>,
    ) {
        let now = shown_at;
        self.interval_frames += 1;
        if let Some(n) = number {
            if let Some(last) = self.last_frame_number.filter(|&last| n > last) {
                self.frames_lost += u64::from(n - last - 1);
            }
            self.last_frame_number = Some(n);
        }
        for us in self.recovery.on_render(now) {
            self.recoveries_us.push(us);
            self.samples.push(Sample {
                metric: Metric::RecoveryMs,
                at: now,
                value: us as f64 / 1000.0,
            });
        }
        if self.first_frame_ms.is_none() {
            let ms = now.saturating_sub(self.subscribed_at) as f64 / 1000.0;
            self.first_frame_ms = Some(ms);
            self.samples.push(Sample {
                metric: Metric::FirstFrameMs,
                at: now,
                value: ms,
            });
        }
        if let Some(gap) = self.freeze.on_render(now) {
            self.samples.push(Sample {
                metric: Metric::FreezeDurationMs,
                at: now,
                value: gap as f64 / 1000.0,
            });
        }
        if let Some(capture) = capture_us.filter(|&c| c != FrameMarker::CAPTURE_UNKNOWN) {
            let latency_us = complete_at.saturating_sub(capture);
            let _ = self.latency.record(latency_us);
            self.samples.push(Sample {
                metric: Metric::E2eLatencyMs,
                at: now,
                value: latency_us as f64 / 1000.0,
            });
        }
    }

    fn request_keyframe(&mut self, now: Micros) {
        let due = self
            .last_keyframe_request
            .is_none_or(|t| now.saturating_sub(t) >= KEYFRAME_REQUEST_INTERVAL_US);
        if due {
            self.last_keyframe_request = Some(now);
            self.keyframe_requests += 1;
            self.wants_keyframe = true;
        }
    }

    /// True once per keyframe request; the transport turns it into a PLI.
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.wants_keyframe)
    }

    /// Closes an interval of `interval_us` ending at `now`: frame rate, bit rate, jitter.
    pub fn on_interval(&mut self, now: Micros, interval_us: u64) {
        let secs = interval_us as f64 / 1e6;
        let at = now.saturating_sub(1);
        if self.stats.received() > 0 {
            self.samples.push(Sample {
                metric: Metric::Fps,
                at,
                value: self.interval_frames as f64 / secs,
            });
            self.samples.push(Sample {
                metric: Metric::BitrateKbps,
                at,
                value: self.interval_bytes as f64 * 8.0 / 1000.0 / secs,
            });
            self.samples.push(Sample {
                metric: Metric::JitterMs,
                at,
                value: self.stats.jitter_ms(),
            });
        }
        self.interval_frames = 0;
        self.interval_bytes = 0;
    }

    /// `on_interval` for a stream another client (a sidecar) received: its frames came through
    /// `show`, its byte count and jitter from that client's own statistics.
    pub fn on_reported_interval(
        &mut self,
        now: Micros,
        interval_us: u64,
        bytes: u64,
        jitter_ms: Option<f64>,
    ) {
        let secs = interval_us as f64 / 1e6;
        let at = now.saturating_sub(1);
        let mut push = |metric, value| self.samples.push(Sample { metric, at, value });
        push(Metric::Fps, self.interval_frames as f64 / secs);
        push(Metric::BitrateKbps, bytes as f64 * 8.0 / 1000.0 / secs);
        if let Some(j) = jitter_ms {
            push(Metric::JitterMs, j);
        }
        self.interval_frames = 0;
        self.interval_bytes = 0;
    }

    pub fn drain_samples(&mut self) -> std::vec::Drain<'_, Sample> {
        self.samples.drain(..)
    }

    pub fn dropped_packets(&self) -> u64 {
        self.assembler.dropped_packets()
    }
}

fn score_picture(
    probe: &mut QualityProbe,
    picture: &Picture,
    n: u32,
    now: Micros,
    out: &mut Vec<Sample>,
) -> Option<f64> {
    // A simulcast layer is scored against the source scaled as the publisher scaled it.
    let frame = &picture.frame;
    let (width, height) = probe.reference.dimensions();
    let scale = (width / frame.width.max(1)).max(1);
    if (width / scale, height / scale) != (frame.width, frame.height)
        || n as u64 % probe.score_every != 0
    {
        return None;
    }
    let source = &probe.reference;
    let key = (source.seed(), source.dimensions(), n as u64, scale);
    let (psnr, ssim) = picture.scores(key, || {
        let reference = reference_frame(source, n as u64, scale);
        // The marker strip is not part of the scene: both figures start below it.
        let skip = strip_height(frame.width);
        Some((
            psnr_y(&reference, frame, skip)?,
            ssim_y(&reference, frame, skip)?,
        ))
    })?;
    probe.psnr_sum += psnr;
    probe.ssim_sum += ssim;
    probe.scored_frames += 1;
    out.push(Sample {
        metric: Metric::PsnrDb,
        at: now,
        value: psnr,
    });
    out.push(Sample {
        metric: Metric::Ssim,
        at: now,
        value: ssim,
    });
    Some(psnr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sender::MediaSender;

    /// Frames from a real sender (encoded, with the marker in pixels and SEI) to a probe of
    /// the same stream scoring every `every`-th: how many it scored, and how many it read.
    fn scored_of(every: u32, frames: u64) -> (u64, u64) {
        let config = SenderConfig {
            seed: 3,
            width: 160,
            height: 96,
            fps: 25,
            video_bitrate_bps: 300_000,
            keyframe_interval_us: 1_000_000,
            audio_bitrate_bps: None,
            video_ssrc: 1,
            audio_ssrc: 2,
            probe_score_every: every,
            lower_layers: Vec::new(),
        };
        let mut sender = MediaSender::new(config.clone(), 0)
            .unwrap()
            .into_whole_frames();
        let mut probe = QualityProbe::of(&config).unwrap();
        let mut samples = Vec::new();
        let mut sent = 0;
        while sent < frames {
            let now = sender.poll_timeout();
            sender.handle_timeout(now).unwrap();
            while let Some(au) = sender.poll_access_unit() {
                probe.score_access_unit(&au.annexb, now, &mut samples);
                sent += 1;
            }
        }
        (probe.scored_frames, probe.marker_reads)
    }

    #[test]
    fn a_probe_scores_every_nth_frame_and_reads_every_marker() {
        // Frames 0..=11: multiples of 4 are 0, 4 and 8.
        assert_eq!(scored_of(4, 12), (3, 12));
        assert_eq!(scored_of(1, 12), (12, 12));
    }
}
