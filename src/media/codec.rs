//! Real codecs: H.264 through OpenH264 (built from source) and Opus through a pure-Rust build of
//! libopus, so a fresh machine needs nothing but Rust and a C compiler.

use super::frame::I420Frame;
use super::marker::{annexb_nals, sei_nal, FrameMarker};
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CodecError {
    #[error("H.264 encoder: {0}")]
    H264Encode(String),
    #[error("H.264 decoder: {0}")]
    H264Decode(String),
    #[error("Opus: {0}")]
    Opus(String),
}

/// One coded picture as an Annex B access unit, with our SEI marker inserted.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

pub struct VideoEncoder {
    encoder: Encoder,
    bitrate_bps: u32,
    /// OpenH264 takes options only once it has initialised, at the first frame.
    initialised: bool,
    bitrate_pending: bool,
}

impl VideoEncoder {
    pub fn new(
        fps: u32,
        bitrate_bps: u32,
        keyframe_interval_frames: u32,
    ) -> Result<Self, CodecError> {
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // Every captured frame is sent: dropped frames would look like network freezes.
            .skip_frames(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                keyframe_interval_frames.max(1),
            ))
            .num_threads(1);
        let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| CodecError::H264Encode(e.to_string()))?;
        // OpenH264 logs warnings while it initialises, before the configured trace level applies.
        let mut quiet = openh264_sys2::WELS_LOG_QUIET;
        // SAFETY: the option takes a pointer to an int that outlives the call.
        unsafe {
            encoder.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_TRACE_LEVEL,
                (&raw mut quiet).cast(),
            );
        }
        Ok(Self {
            encoder,
            bitrate_bps,
            initialised: false,
            bitrate_pending: false,
        })
    }

    /// Retargets the rate controller, as an SDK does when the bandwidth estimate moves.
    pub fn set_bitrate(&mut self, bps: u32) {
        if bps == self.bitrate_bps {
            return;
        }
        self.bitrate_bps = bps;
        self.bitrate_pending = true;
        if self.initialised {
            self.apply_bitrate();
        }
    }

    fn apply_bitrate(&mut self) {
        let mut info = openh264_sys2::TagBitrateInfo {
            iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
            iBitrate: self.bitrate_bps.min(i32::MAX as u32) as i32,
        };
        // SAFETY: the option takes a pointer to a bitrate record that outlives the call.
        let rc = unsafe {
            self.encoder.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_BITRATE,
                (&raw mut info).cast(),
            )
        };
        self.bitrate_pending = rc != 0;
    }

    pub fn bitrate_bps(&self) -> u32 {
        self.bitrate_bps
    }

    pub fn force_keyframe(&mut self) {
        self.encoder.force_intra_frame();
    }

    /// Encodes `frame` and puts `marker` in an SEI NAL unit ahead of the first slice.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        marker: FrameMarker,
    ) -> Result<EncodedFrame, CodecError> {
        let stream = self
            .encoder
            .encode(frame)
            .map_err(|e| CodecError::H264Encode(e.to_string()))?;
        let keyframe = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
        let raw = stream.to_vec();
        self.initialised = true;
        if self.bitrate_pending {
            self.apply_bitrate();
        }
        let mut data = Vec::with_capacity(raw.len() + 48);
        let mut sei_written = false;
        for nal in annexb_nals(&raw) {
            let kind = nal.first().map(|b| b & 0x1F).unwrap_or(0);
            if !sei_written && (kind == 1 || kind == 5) {
                data.extend_from_slice(&[0, 0, 0, 1]);
                data.extend_from_slice(&sei_nal(marker));
                sei_written = true;
            }
            data.extend_from_slice(&[0, 0, 0, 1]);
            data.extend_from_slice(nal);
        }
        Ok(EncodedFrame { data, keyframe })
    }
}

pub struct VideoDecoder {
    decoder: Decoder,
}

impl VideoDecoder {
    pub fn new() -> Result<Self, CodecError> {
        let config = DecoderConfig::new().flush_after_decode(Flush::Flush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| CodecError::H264Decode(e.to_string()))?;
        Ok(Self { decoder })
    }

    /// Decodes one access unit; `Ok(None)` when the decoder produced no picture for it.
    pub fn decode(&mut self, access_unit: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        let decoded = self
            .decoder
            .decode(access_unit)
            .map_err(|e| CodecError::H264Decode(e.to_string()))?;
        Ok(decoded.map(|yuv| {
            let (y_stride, uv_stride, _) = yuv.strides();
            I420Frame::from_strided(
                yuv.dimensions(),
                (yuv.y(), yuv.u(), yuv.v()),
                (y_stride, uv_stride),
            )
        }))
    }
}

/// Opus at 48 kHz mono, 20 ms frames.
pub struct OpusEncoder {
    state: *mut unsafe_libopus::OpusEncoder,
}

// The encoder state is plain memory owned by this value and used from one thread at a time.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    pub fn new(bitrate_bps: u32) -> Result<Self, CodecError> {
        let mut error = 0i32;
        // SAFETY: arguments are valid constants; the result is checked for null and error.
        let state = unsafe {
            unsafe_libopus::opus_encoder_create(
                48_000,
                1,
                unsafe_libopus::OPUS_APPLICATION_VOIP,
                &mut error,
            )
        };
        if state.is_null() || error != 0 {
            return Err(CodecError::Opus(format!("encoder create failed ({error})")));
        }
        // SAFETY: `state` is a live encoder; the request takes one i32.
        let rc = unsafe {
            unsafe_libopus::opus_encoder_ctl!(
                state,
                unsafe_libopus::OPUS_SET_BITRATE_REQUEST,
                bitrate_bps as i32
            )
        };
        if rc != 0 {
            // SAFETY: created above, not used after this.
            unsafe { unsafe_libopus::opus_encoder_destroy(state) };
            return Err(CodecError::Opus(format!(
                "cannot set bit rate {bitrate_bps} ({rc})"
            )));
        }
        Ok(Self { state })
    }

    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        let mut out = vec![0u8; 1500];
        // SAFETY: `pcm` holds `pcm.len()` samples of one channel; `out` has the capacity passed.
        let n = unsafe {
            unsafe_libopus::opus_encode(
                self.state,
                pcm.as_ptr(),
                pcm.len() as i32,
                out.as_mut_ptr(),
                out.len() as i32,
            )
        };
        if n < 0 {
            return Err(CodecError::Opus(format!("encode failed ({n})")));
        }
        out.truncate(n as usize);
        Ok(out)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create and destroyed once.
        unsafe { unsafe_libopus::opus_encoder_destroy(self.state) }
    }
}

pub struct OpusDecoder {
    state: *mut unsafe_libopus::OpusDecoder,
}

// As for the encoder: owned state, one thread at a time.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        let mut error = 0i32;
        // SAFETY: valid constants; checked below.
        let state = unsafe { unsafe_libopus::opus_decoder_create(48_000, 1, &mut error) };
        if state.is_null() || error != 0 {
            return Err(CodecError::Opus(format!("decoder create failed ({error})")));
        }
        Ok(Self { state })
    }

    /// Decodes one packet and returns the number of samples it held.
    pub fn decode(&mut self, packet: &[u8]) -> Result<usize, CodecError> {
        let mut pcm = vec![0i16; 5760];
        // SAFETY: buffers are valid for the lengths passed.
        let n = unsafe {
            unsafe_libopus::opus_decode(
                self.state,
                packet.as_ptr(),
                packet.len() as i32,
                pcm.as_mut_ptr(),
                pcm.len() as i32,
                0,
            )
        };
        if n < 0 {
            return Err(CodecError::Opus(format!("decode failed ({n})")));
        }
        Ok(n as usize)
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create and destroyed once.
        unsafe { unsafe_libopus::opus_decoder_destroy(self.state) }
    }
}

/// True when an access unit's slices are IDR slices (they all are when the first is).
pub fn is_keyframe(access_unit: &[u8]) -> bool {
    super::marker::first_slice_kind(access_unit) == Some(5)
}
