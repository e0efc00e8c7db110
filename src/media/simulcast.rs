//! Simulcast on the sending side: the same captured picture encoded at several sizes, each
//! layer its own RTP stream (SSRC, sequence numbers, RID), with the same frame numbers and
//! capture times in every layer's markers. The bandwidth estimate turns upper layers off and on
//! as browsers do.

use super::codec::{CodecError, VideoEncoder};
use str0m::unversioned::H264Packetizer;

/// RTP stream ids for up to three layers, smallest first, as browsers and LiveKit name them
/// (quarter, half, full).
const RIDS: [&str; 3] = ["q", "h", "f"];

/// A layer below the top one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerConfig {
    /// Width and height are the top layer's divided by this (1, 2, 4 or 8).
    pub scale_down: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
}

/// The RTP stream id of layer `index` (0 the smallest) of `count`.
pub fn rid_of(index: usize, count: usize) -> &'static str {
    let first = RIDS.len().saturating_sub(count);
    RIDS.get(first + index).copied().unwrap_or("f")
}

/// The layer of `count` with stream id `rid`, if any.
pub fn layer_of_rid(rid: &str, count: usize) -> Option<usize> {
    (0..count).find(|&i| rid_of(i, count) == rid)
}

/// How often a probe ramp raises the wanted rate.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_millis(1500);
/// Each raise asks for this much more than the wanted rate, one step more each time, up to
/// [`PROBE_STEPS`] steps, then starts over (a decrease, which probes nothing).
const PROBE_STEP: f64 = 0.02;
const PROBE_STEPS: u32 = 25;

/// Raises the rate a bandwidth estimator is asked for, step by step, while a simulcast layer
/// waits for room. str0m probes when the wanted rate rises; otherwise an estimate held near
/// what is sent (a layer off, or a viewer on a lower layer) stays there long after the network
/// recovered, as its own probe for a stagnant estimate waits 15 s.
#[derive(Debug, Clone, Default)]
pub struct ProbeRamp {
    /// The last raise and its step.
    last: Option<(std::time::Instant, u32)>,
}

impl ProbeRamp {
    /// The step of a raise due at `now`, if one is.
    pub fn due(&mut self, now: std::time::Instant) -> Option<u32> {
        let step = match self.last {
            Some((at, _)) if now.saturating_duration_since(at) < PROBE_EVERY => return None,
            Some((_, step)) => (step + 1) % PROBE_STEPS,
            None => 1,
        };
        self.last = Some((now, step));
        Some(step)
    }

    /// What the wanted rate is multiplied by at `step`.
    pub fn factor(step: u32) -> f64 {
        1.0 + PROBE_STEP * f64::from(step)
    }

    /// Ends the ramp; whether one was running.
    pub fn stop(&mut self) -> bool {
        self.last.take().is_some()
    }
}

/// What a viewer asks its provider for: a layer of the publisher's simulcast, or the
/// provider's own choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerAsk {
    Auto,
    /// Layer `index` (0 the smallest) of `count`.
    Layer {
        index: usize,
        count: usize,
    },
}

impl LayerAsk {
    /// The RTP stream id asked for; `None` for the provider's choice.
    pub fn rid(self) -> Option<&'static str> {
        match self {
            LayerAsk::Auto => None,
            LayerAsk::Layer { index, count } => Some(rid_of(index, count)),
        }
    }
}

impl std::fmt::Display for LayerAsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LayerAsk::Auto => f.write_str("auto"),
            LayerAsk::Layer { index, count } if index + 1 >= count => f.write_str("high"),
            LayerAsk::Layer { index: 0, .. } => f.write_str("low"),
            LayerAsk::Layer { .. } => f.write_str("mid"),
        }
    }
}

/// One layer's encoder and RTP numbering.
pub(super) struct EncodedLayer {
    pub scale_down: usize,
    /// The layer encodes every n-th captured frame (the top layer's rate over its own).
    pub frame_every: u64,
    pub bitrate_bps: u32,
    pub encoder: VideoEncoder,
    pub packetizer: H264Packetizer,
    pub seq: u16,
    pub ssrc: u32,
    /// Off while the bandwidth estimate cannot carry it; it comes back with a key frame.
    pub active: bool,
    pub keyframe_wanted: bool,
    pub last_forced_keyframe: Option<u64>,
}

impl EncodedLayer {
    pub fn new(
        layer: LayerConfig,
        top_fps: u32,
        keyframe_interval_us: u64,
        ssrc: u32,
        seq: u16,
    ) -> Result<Self, CodecError> {
        let fps = layer.fps.clamp(1, top_fps.max(1));
        let keyframe_frames = (keyframe_interval_us * fps as u64 / 1_000_000).max(1) as u32;
        Ok(Self {
            scale_down: layer.scale_down.max(1) as usize,
            frame_every: (top_fps.max(1) / fps).max(1) as u64,
            bitrate_bps: layer.bitrate_bps,
            encoder: VideoEncoder::new(fps, layer.bitrate_bps, keyframe_frames)?,
            packetizer: H264Packetizer::default(),
            seq,
            ssrc,
            active: true,
            keyframe_wanted: false,
            last_forced_keyframe: None,
        })
    }
}

/// How much of `estimate_bps` each layer gets, smallest first: every layer the estimate
/// covers at its configured rate, the first always (at what is left if that is less), and the
/// highest one on only if at least `min_share` of its rate is left for it, as libwebrtc
/// switches a layer off rather than starve it. `None` is a layer turned off.
pub fn allocate(configured_bps: &[u32], estimate_bps: u32, min_share: f64) -> Vec<Option<u32>> {
    let mut left = estimate_bps as u64;
    let mut out = Vec::with_capacity(configured_bps.len());
    for (i, &want) in configured_bps.iter().enumerate() {
        let want = want as u64;
        let give = if i == 0 {
            Some(want.min(left.max(1)))
        } else if left >= want {
            Some(want)
        } else if left as f64 >= want as f64 * min_share {
            Some(left)
        } else {
            None
        };
        match give {
            Some(bps) => {
                left = left.saturating_sub(bps);
                out.push(Some(bps.min(u32::MAX as u64) as u32));
            }
            None => {
                // A layer is never on above one that is off.
                out.resize(configured_bps.len(), None);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_name_the_top_layer_f_however_many_there_are() {
        assert_eq!(rid_of(0, 1), "f");
        assert_eq!([rid_of(0, 2), rid_of(1, 2)], ["h", "f"]);
        assert_eq!([rid_of(0, 3), rid_of(1, 3), rid_of(2, 3)], ["q", "h", "f"]);
        assert_eq!(layer_of_rid("h", 3), Some(1));
        assert_eq!(layer_of_rid("q", 2), None);
    }

    #[test]
    fn the_estimate_fills_layers_from_the_smallest_and_turns_off_those_it_cannot_carry() {
        let layers = [150_000, 500_000, 2_000_000];
        assert_eq!(
            allocate(&layers, 5_000_000, 0.6),
            [Some(150_000), Some(500_000), Some(2_000_000)]
        );
        // 1.35 Mbps left for a 2 Mbps top layer: 67 %, kept at what is left.
        assert_eq!(
            allocate(&layers, 2_000_000, 0.6),
            [Some(150_000), Some(500_000), Some(1_350_000)]
        );
        assert_eq!(
            allocate(&layers, 1_000_000, 0.6),
            [Some(150_000), Some(500_000), None]
        );
        assert_eq!(allocate(&layers, 100_000, 0.6), [Some(100_000), None, None]);
        assert_eq!(allocate(&[800_000], 300_000, 0.6), [Some(300_000)]);
    }
}
