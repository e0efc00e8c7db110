//! The ITU-T G.107 E-model, reduced to what a transport changes: one-way delay and packet loss.
//! The codec and room terms are fixed, so the MOS ranks providers on what they deliver rather
//! than predicting what a listener would say about a particular codec.

use crate::media::receiver::ReceiverSummary;

/// R for a clean channel with the default G.107 terms (Ro − Is with A = 0).
const R_DEFAULT: f64 = 93.2;
/// Equipment impairment and packet-loss robustness: G.113 Appendix I gives Ie 0 and Bpl 25.1
/// for G.711 with packet-loss concealment. Opus has no G.113 entry; its concealment is at
/// least that good, so this is a conservative stand-in.
const IE: f64 = 0.0;
const BPL: f64 = 25.1;
/// Frames of audio held against jitter beyond the measured path: at least one 20 ms packet,
/// else twice the RFC 3550 jitter, as adaptive jitter buffers settle to.
const MIN_JITTER_BUFFER_MS: f64 = 20.0;

/// The delay impairment Id for a mouth-to-ear delay `d` in ms (G.107's simplified form, as in
/// Cole and Rosenbluth 2001).
pub fn delay_impairment(d: f64) -> f64 {
    let d = d.max(0.0);
    0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 }
}

/// Ie,eff for random loss `loss_pct` (0–100).
pub fn loss_impairment(loss_pct: f64) -> f64 {
    let ppl = loss_pct.clamp(0.0, 100.0);
    IE + (95.0 - IE) * ppl / (ppl + BPL)
}

pub fn r_factor(delay_ms: f64, loss_pct: f64) -> f64 {
    R_DEFAULT - delay_impairment(delay_ms) - loss_impairment(loss_pct)
}

/// G.107 Annex B: R to the estimated MOS (1–4.5).
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// A session's MOS: its one-way delay plus an audio jitter buffer, and the share of its time
/// with audio gaps as the loss. The delay is the marker-timed video latency p50 (audio and video
/// share the path, and every session with video has it); audio's own latency, from the capture
/// time on its packets, only where no video latency was measured. `None` without either: an
/// audio delay is never derived from RTP time, which servers re-base per subscriber.
pub fn session_mos(s: &ReceiverSummary) -> Option<f64> {
    let delay = s.e2e_latency_p50_ms.or(s.audio_latency_p50_ms)?;
    if !s.joined || s.rendered_ms <= 0.0 {
        return None;
    }
    let buffer = (2.0 * s.audio_jitter_ms).max(MIN_JITTER_BUFFER_MS);
    let loss = s.audio_gap_ms / s.rendered_ms * 100.0;
    Some(mos(r_factor(delay + buffer, loss)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points_of_the_e_model() {
        // A clean channel: R 93.2 is MOS 4.41, G.107's best narrowband figure.
        assert!((mos(r_factor(0.0, 0.0)) - 4.409).abs() < 0.001);
        // G.107's guide: R 80 → MOS 4.02, R 70 → 3.60, R 60 → 3.1 (the default thresholds).
        assert!((mos(80.0) - 4.024).abs() < 0.001);
        assert!((mos(70.0) - 3.597).abs() < 0.001);
        assert!((mos(60.0) - 3.1).abs() < 0.001);
        // 200 ms one way: Id = 0.024·200 + 0.11·22.7 = 7.297.
        assert!((delay_impairment(200.0) - 7.297).abs() < 1e-9);
        assert!((delay_impairment(100.0) - 2.4).abs() < 1e-9);
        // 5 % loss with Bpl 25.1: 95·5/30.1 = 15.78.
        assert!((loss_impairment(5.0) - 15.7807).abs() < 1e-3);
        // Delay and loss both lower the score, and the scale is bounded.
        assert!(mos(r_factor(400.0, 0.0)) < mos(r_factor(100.0, 0.0)));
        assert!(mos(r_factor(100.0, 10.0)) < mos(r_factor(100.0, 1.0)));
        assert_eq!(mos(-5.0), 1.0);
        assert_eq!(mos(120.0), 4.5);
    }
}
