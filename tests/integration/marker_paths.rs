//! Latency survives when a server strips our SEI: light receivers fall back to abs-capture-time,
//! probes to the pixel marker.

use crate::common;

use rtcbench::media::receiver::{AudioReceiver, QualityProbe, Receiver, Role, VideoReceiver};
use rtcbench::media::rtp::{RtpPacket, VIDEO_PAYLOAD_TYPE};
use rtcbench::media::sender::{MediaSender, SenderConfig};
use rtcbench::media::source::VideoSource;
use rtcbench::metrics::{Metric, Recorder};

const DELAY_US: u64 = 30_000;

fn config() -> SenderConfig {
    SenderConfig {
        seed: 11,
        width: 320,
        height: 180,
        fps: 30,
        video_bitrate_bps: 500_000,
        keyframe_interval_us: 2_000_000,
        audio_bitrate_bps: None,
        video_ssrc: 5,
        audio_ssrc: 6,
        probe_score_every: 1,
        lower_layers: Vec::new(),
    }
}

/// Two seconds of video as a server that drops SEI NAL units (and, optionally,
/// abs-capture-time) would forward it, renumbering sequence numbers.
fn forwarded(keep_abs_capture_time: bool) -> Vec<(u64, RtpPacket)> {
    let mut sender = MediaSender::new(config(), 0).expect("sender");
    let mut out = Vec::new();
    let mut seq = 1000u16;
    while sender.poll_timeout() < 2_000_000 {
        let now = sender.poll_timeout();
        sender.handle_timeout(now).expect("capture");
        while let Some(mut p) = sender.poll_packet() {
            if p.payload_type != VIDEO_PAYLOAD_TYPE || p.payload[0] & 0x1F == 6 {
                continue;
            }
            if !keep_abs_capture_time {
                p.abs_capture_us = None;
            }
            p.sequence = seq;
            seq = seq.wrapping_add(1);
            out.push((now + DELAY_US, p));
        }
    }
    assert!(
        out.iter().all(|(_, p)| p.payload[0] & 0x1F != 6),
        "SEI stripped"
    );
    out
}

fn receive(role: Role, packets: &[(u64, RtpPacket)]) -> (Receiver, Recorder) {
    let probe = match role {
        Role::Probe => Some(QualityProbe::new(VideoSource::new(11, 320, 180)).expect("probe")),
        Role::Light => None,
    };
    let mut r = Receiver::new(
        "t".into(),
        role,
        0,
        VideoReceiver::new(0, probe),
        AudioReceiver::new(None),
    );
    let mut rec = Recorder::new(0, 1_000_000);
    for (at, p) in packets {
        r.on_packet(p.clone(), *at);
        rec.record_all(r.drain_samples());
    }
    (r, rec)
}

fn latency_ms(rec: &Recorder) -> Option<(f64, f64)> {
    let h = &rec.series.get(&Metric::E2eLatencyMs)?.total.0;
    Some((h.min() as f64 / 1000.0, h.max() as f64 / 1000.0))
}

#[test]
fn light_receivers_use_abs_capture_time_when_sei_is_stripped() {
    let _heavy = common::heavy_blocking();
    let (r, rec) = receive(Role::Light, &forwarded(true));
    assert!(r.video.freeze.frames() >= 59, "frames still render");
    let (min, max) = latency_ms(&rec).expect("latency from abs-capture-time");
    // Exact, up to HdrHistogram's 3 significant digits (0.1 %).
    assert!(
        (min - 30.0).abs() <= 0.03 && (max - 30.0).abs() <= 0.03,
        "{min}..{max} ms"
    );
}

#[test]
fn without_sei_or_abs_capture_time_a_light_receiver_reports_no_latency_rather_than_a_wrong_one() {
    let _heavy = common::heavy_blocking();
    let (r, rec) = receive(Role::Light, &forwarded(false));
    assert!(r.video.freeze.frames() >= 59);
    assert!(latency_ms(&rec).is_none());
}

#[test]
fn probes_read_latency_and_frame_number_from_pixels() {
    let _heavy = common::heavy_blocking();
    let (r, rec) = receive(Role::Probe, &forwarded(false));
    let probe = r.video.probe.as_ref().expect("probe");
    assert!(probe.marker_reads >= 59 && probe.marker_misses == 0);
    let (min, max) = latency_ms(&rec).expect("latency from the pixel marker");
    // Exact, up to HdrHistogram's 3 significant digits (0.1 %).
    assert!(
        (min - 30.0).abs() <= 0.03 && (max - 30.0).abs() <= 0.03,
        "{min}..{max} ms"
    );
    // PSNR needs the right reference frame, which only the pixel frame number gives here.
    let psnr = rec.series.get(&Metric::PsnrDb).expect("psnr").total.0.min() as f64 / 100.0;
    assert!(psnr > 30.0, "worst PSNR {psnr} dB: wrong reference frame?");
}
