//! Costs of the per-frame and per-packet hot paths.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rtcbench::media::codec::{VideoDecoder, VideoEncoder};
use rtcbench::media::marker::{
    draw_pixel_marker, find_sei_marker, read_pixel_marker, sei_nal, FrameMarker,
};
use rtcbench::media::quality::{psnr_y, ssim_y};
use rtcbench::media::receiver::reference::reference_frame;
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role, VideoReceiver};
use rtcbench::media::rtp::RtpPacket;
use rtcbench::media::sender::{MediaSender, SenderConfig};
use rtcbench::media::source::VideoSource;
use rtcbench::metrics::{Metric, Recorder, Sample};
use std::hint::black_box;

const MARKER: FrameMarker = FrameMarker {
    frame: 123_456,
    capture_us: 1_764_000_000_123_456,
};

fn marker(c: &mut Criterion) {
    let mut frame = VideoSource::new(1, 640, 360).frame(10);
    let mut g = c.benchmark_group("marker");
    g.bench_function("pixel_draw_640x360", |b| {
        b.iter(|| draw_pixel_marker(black_box(&mut frame), MARKER))
    });
    draw_pixel_marker(&mut frame, MARKER);
    g.bench_function("pixel_read_640x360", |b| {
        b.iter(|| read_pixel_marker(black_box(&frame)))
    });
    g.bench_function("sei_build", |b| b.iter(|| sei_nal(black_box(MARKER))));
    let mut au = vec![0, 0, 0, 1];
    au.extend(sei_nal(MARKER));
    au.extend([0, 0, 0, 1, 0x65]);
    au.extend(vec![0x5A; 4000]);
    g.bench_function("sei_find_in_4kB_access_unit", |b| {
        b.iter(|| find_sei_marker(black_box(&au)))
    });
    g.finish();
}

fn source_and_encode(c: &mut Criterion) {
    let source = VideoSource::new(1, 640, 360);
    let mut g = c.benchmark_group("video");
    g.bench_function("source_frame_640x360", |b| {
        let mut n = 0;
        b.iter(|| {
            n += 1;
            source.frame(black_box(n))
        })
    });
    let mut encoder = VideoEncoder::new(30, 1_000_000, 120).expect("encoder");
    let frames: Vec<_> = (0..60).map(|n| source.frame(n)).collect();
    let mut i = 0;
    g.bench_function("h264_encode_640x360_1Mbps", |b| {
        b.iter(|| {
            i += 1;
            encoder
                .encode(&frames[i % frames.len()], MARKER)
                .expect("encode")
        })
    });
    g.finish();
}

/// A probe decodes every frame. A room of probes runs one decoder each, interleaved frame by
/// frame: their reference pictures together outgrow the caches, so each frame costs more than
/// in one decoder alone.
fn decoding(c: &mut Criterion) {
    const GOP: u32 = 60;
    let source = VideoSource::new(1, 640, 360);
    let mut encoder = VideoEncoder::new(30, 500_000, GOP).expect("encoder");
    // Two whole key-frame intervals, so decoding can wrap round to a key frame.
    let stream: Vec<Vec<u8>> = (0..2 * GOP as u64)
        .map(|n| {
            encoder
                .encode(&source.frame(n), MARKER)
                .expect("encode")
                .data
        })
        .collect();
    let mut g = c.benchmark_group("probe_decode");
    for probes in [1usize, 20] {
        let mut decoders: Vec<VideoDecoder> = (0..probes)
            .map(|_| VideoDecoder::new().expect("decoder"))
            .collect();
        let mut next = 0;
        g.throughput(Throughput::Elements(probes as u64));
        g.bench_function(format!("h264_640x360_500kbps_{probes}_interleaved"), |b| {
            b.iter(|| {
                let access_unit = &stream[next % stream.len()];
                next += 1;
                for decoder in decoders.iter_mut() {
                    black_box(decoder.decode(black_box(access_unit)).expect("decode"));
                }
            })
        });
    }
    g.finish();
}

/// A quality probe's per-frame work besides decoding: the reference picture (shared by every
/// probe of the process, so rendered once per frame, not per probe) and the two scores.
fn quality(c: &mut Criterion) {
    let source = VideoSource::new(1, 640, 360);
    let reference = source.frame(10);
    let mut encoder = VideoEncoder::new(30, 500_000, 120).expect("encoder");
    let mut decoder = VideoDecoder::new().expect("decoder");
    let mut received = reference.clone();
    for n in 0..=10 {
        let au = encoder.encode(&source.frame(n), MARKER).expect("encode");
        if let Ok(Some(picture)) = decoder.decode(&au.data) {
            received = picture;
        }
    }
    let mut g = c.benchmark_group("quality");
    g.bench_function("psnr_y_640x360", |b| {
        b.iter(|| psnr_y(black_box(&reference), black_box(&received), 8))
    });
    g.bench_function("ssim_y_640x360", |b| {
        b.iter(|| ssim_y(black_box(&reference), black_box(&received), 8))
    });
    let mut n = 1_000;
    g.bench_function("shared_reference_hit_640x360", |b| {
        reference_frame(&source, n, 1);
        b.iter(|| reference_frame(black_box(&source), n, 1))
    });
    g.bench_function("shared_reference_miss_640x360", |b| {
        b.iter(|| {
            n += 1;
            reference_frame(black_box(&source), n, 1)
        })
    });
    g.finish();
}

/// A stream of real packets from the sender, to feed receivers in the benches.
fn recorded_packets(seconds: u64) -> Vec<(u64, Vec<u8>)> {
    let config = SenderConfig {
        seed: 3,
        width: 640,
        height: 360,
        fps: 30,
        video_bitrate_bps: 1_000_000,
        keyframe_interval_us: 4_000_000,
        audio_bitrate_bps: Some(32_000),
        video_ssrc: 1,
        audio_ssrc: 2,
        probe_score_every: 1,
        lower_layers: Vec::new(),
    };
    let mut sender = MediaSender::new(config, 0).expect("sender");
    let mut out = Vec::new();
    while sender.poll_timeout() < seconds * 1_000_000 {
        let now = sender.poll_timeout();
        sender.handle_timeout(now).expect("capture");
        while let Some(p) = sender.poll_packet() {
            out.push((now + 20_000, p.to_bytes()));
        }
    }
    out
}

fn receiver(c: &mut Criterion) {
    let packets = recorded_packets(4);
    let mut g = c.benchmark_group("receiver");
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.bench_function("light_per_stream_of_4s", |b| {
        b.iter_batched(
            || {
                Receiver::new(
                    "b".into(),
                    Role::Light,
                    0,
                    VideoReceiver::new(0, None),
                    AudioReceiver::new(None),
                )
            },
            |mut r| {
                for (at, bytes) in &packets {
                    r.on_datagram(bytes, *at);
                }
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    c.bench_function("rtp_parse", |b| {
        b.iter(|| RtpPacket::parse(black_box(&packets[5].1)))
    });
}

fn histogram(c: &mut Criterion) {
    let mut recorder = Recorder::new(0, 1_000_000);
    let mut t = 0u64;
    c.bench_function("histogram_record_sample", |b| {
        b.iter(|| {
            t += 997;
            recorder.record(Sample {
                metric: Metric::E2eLatencyMs,
                at: t,
                value: black_box(42.5),
            })
        })
    });
}

/// One direction of the impairment layer with a 4G-like spec (delay, jitter, bursty loss, a
/// rate cap): datagrams through it per second, as its cost per client.
fn impairment(c: &mut Criterion) {
    use rtcbench::net::impair::{Direction, ImpairSpec};
    use std::time::{Duration, Instant};
    let spec = ImpairSpec {
        delay: Duration::from_millis(60),
        jitter: Duration::from_millis(20),
        loss: 0.01,
        burst: Some(3.0),
        rate_bps: Some(10_000_000),
        queue_bytes: 250_000,
        ..ImpairSpec::default()
    };
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    const DATAGRAMS: u64 = 2_000;
    let mut g = c.benchmark_group("impairment_layer");
    g.throughput(Throughput::Elements(DATAGRAMS));
    g.bench_function("4g_direction_2000_datagrams", |b| {
        b.iter_batched(
            || Direction::new(spec.clone(), 7, Instant::now()),
            |mut d| {
                let t0 = Instant::now();
                let mut out = 0;
                // 1,200-byte datagrams every 2 ms (4.8 Mbps), polled as a driver would.
                for n in 0..DATAGRAMS {
                    let now = t0 + Duration::from_millis(2 * n);
                    d.push(now, to, vec![0u8; 1200]);
                    while d.poll(now).is_some() {
                        out += 1;
                    }
                }
                out
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    marker,
    source_and_encode,
    decoding,
    quality,
    receiver,
    histogram,
    impairment
);
criterion_main!(benches);
