//! A viewer's whole receive path without the kernel: SRTP, str0m's RTP and RTCP handling
//! (NACK, TWCC and receiver reports it sends back), and rtcbench's receiver, fed a real
//! 640x360 / 500 kbps + Opus stream from a publishing peer in simulated time. Only the viewer's
//! calls are timed; the publisher's encoding is not. Throughput is in datagrams the viewer
//! received, so criterion reports the cost per packet, and one iteration is one second of
//! stream, so the time per iteration is the CPU a viewer needs per second. The light viewer is
//! timed twice: on str0m, as runs use it today, and on rtcbench's own light path
//! (`client::light::LightPeer`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtcbench::base::WallClock;
use rtcbench::client::light::peer::LightPeer;
use rtcbench::client::native::{NativePeer, PeerOutput, PeerState, Role};
use rtcbench::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, Role as ReceiverRole, VideoReceiver,
};
use rtcbench::media::sender::{MediaSender, SenderConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SEED: u64 = 5;

fn sender_config() -> SenderConfig {
    SenderConfig {
        seed: SEED,
        width: 640,
        height: 360,
        fps: 30,
        video_bitrate_bps: 500_000,
        keyframe_interval_us: 2_000_000,
        audio_bitrate_bps: Some(32_000),
        video_ssrc: 1,
        audio_ssrc: 2,
        probe_score_every: 4,
        lower_layers: Vec::new(),
    }
}

/// A publisher and one viewer, connected, stepping through simulated time together.
struct Pair {
    publisher: NativePeer,
    viewer: Viewer,
    addrs: (SocketAddr, SocketAddr),
    now: Instant,
    publisher_due: Instant,
    viewer_due: Instant,
    /// From the publisher to the viewer, sent after the viewer's last step.
    in_flight: Vec<Vec<u8>>,
}

/// What one stretch of simulated time cost the viewer.
struct ViewerCost {
    spent: Duration,
    datagrams: u64,
}

/// The viewer under test: a str0m session, or rtcbench's own light path.
enum Viewer {
    Str0m(Box<NativePeer>),
    Own(Box<LightPeer>),
}

impl Viewer {
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Viewer::Str0m(p) => p.handle_timeout(now).expect("viewer runs"),
            Viewer::Own(p) => p.handle_timeout(now).expect("viewer runs"),
        }
    }

    fn handle_receive(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match self {
            Viewer::Str0m(p) => p.handle_receive(now, from, datagram).expect("viewer reads"),
            Viewer::Own(p) => p.handle_receive(now, from, datagram).expect("viewer reads"),
        }
    }

    fn state(&self) -> PeerState {
        match self {
            Viewer::Str0m(p) => p.state(),
            Viewer::Own(p) => p.state(),
        }
    }

    fn receiver(&self) -> &Receiver {
        match self {
            Viewer::Str0m(p) => p.receiver().expect("a viewer"),
            Viewer::Own(p) => p.receiver(),
        }
    }
}

/// A peer's next output.
trait Outputs {
    fn next_output(&mut self) -> PeerOutput;
}

impl Outputs for NativePeer {
    fn next_output(&mut self) -> PeerOutput {
        self.poll_output().expect("peer runs")
    }
}

impl Outputs for Viewer {
    fn next_output(&mut self) -> PeerOutput {
        match self {
            Viewer::Str0m(p) => p.next_output(),
            Viewer::Own(p) => p.poll_output(),
        }
    }
}

/// Which viewer a pair times.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Light,
    Probe,
    OwnLight,
}

impl Pair {
    fn new(kind: Kind) -> Self {
        let probe = kind == Kind::Probe;
        rtcbench::client::init_crypto();
        let clock = WallClock::start();
        let now = Instant::now();
        let start = clock.now();
        let addrs: (SocketAddr, SocketAddr) = (
            "127.0.0.1:41001".parse().expect("address"),
            "127.0.0.1:41002".parse().expect("address"),
        );
        let sender = MediaSender::new(sender_config(), start).expect("sender");
        let probe = probe.then(|| QualityProbe::of(&sender_config()).expect("probe"));
        let role = if probe.is_some() {
            ReceiverRole::Probe
        } else {
            ReceiverRole::Light
        };
        let receiver = Receiver::new(
            "bench".into(),
            role,
            start,
            VideoReceiver::new(start, probe),
            AudioReceiver::new(None),
        );
        let mut publisher =
            NativePeer::new(Role::Publish(Box::new(sender)), addrs.0, clock, now).expect("peer");
        let viewer = match kind {
            Kind::OwnLight => {
                let mut viewer = LightPeer::new(receiver, addrs.1, clock, now).expect("peer");
                let answer = publisher
                    .accept_offer(&viewer.create_offer())
                    .expect("answer");
                viewer.accept_answer(&answer).expect("accept");
                Viewer::Own(Box::new(viewer))
            }
            _ => {
                let mut viewer =
                    NativePeer::new(Role::Subscribe(Box::new(receiver)), addrs.1, clock, now)
                        .expect("peer");
                let offer = viewer.create_offer().expect("offer");
                let answer = publisher.accept_offer(&offer).expect("answer");
                viewer.accept_answer(&answer).expect("accept");
                Viewer::Str0m(Box::new(viewer))
            }
        };
        let mut pair = Self {
            publisher,
            viewer,
            addrs,
            now,
            publisher_due: now,
            viewer_due: now,
            in_flight: Vec::new(),
        };
        // Connected and past the first key frame before anything is timed.
        pair.run(Duration::from_secs(2));
        assert_eq!(pair.viewer.state(), PeerState::Connected);
        pair
    }

    /// Runs both peers for `span` of simulated time, each woken when it asked to be.
    fn run(&mut self, span: Duration) -> ViewerCost {
        let end = self.now + span;
        let mut cost = ViewerCost {
            spent: Duration::ZERO,
            datagrams: 0,
        };
        while self.now < end {
            self.now = self.publisher_due.min(self.viewer_due).max(self.now);
            if self.now >= self.publisher_due {
                self.publisher
                    .handle_timeout(self.now)
                    .expect("publisher runs");
            }
            let mut to_viewer = std::mem::take(&mut self.in_flight);
            to_viewer.extend(drain(&mut self.publisher, &mut self.publisher_due));
            let timed = Instant::now();
            if self.now >= self.viewer_due {
                self.viewer.handle_timeout(self.now);
            }
            let mut to_publisher = drain(&mut self.viewer, &mut self.viewer_due);
            for datagram in &to_viewer {
                self.viewer.handle_receive(self.now, self.addrs.0, datagram);
                to_publisher.extend(drain(&mut self.viewer, &mut self.viewer_due));
            }
            cost.spent += timed.elapsed();
            cost.datagrams += to_viewer.len() as u64;
            for datagram in &to_publisher {
                self.publisher
                    .handle_receive(self.now, self.addrs.1, datagram)
                    .expect("publisher reads");
                // What the publisher answers (ICE, DTLS, resends) reaches the viewer next step.
                let answered = drain(&mut self.publisher, &mut self.publisher_due);
                self.in_flight.extend(answered);
            }
            // At least 1 ms per step, as a socket wake-up would be.
            self.now += Duration::from_millis(1);
        }
        cost
    }
}

/// Everything the peer has to send now, and when it next wants a timeout.
fn drain(peer: &mut impl Outputs, due: &mut Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match peer.next_output() {
            PeerOutput::Transmit(_, bytes) => out.push(bytes),
            PeerOutput::Timeout(t) => {
                *due = t;
                return out;
            }
            PeerOutput::IceServer(_) => {}
        }
    }
}

fn viewer_path(c: &mut Criterion, name: &str, kind: Kind) {
    let mut pair = Pair::new(kind);
    let per_second = pair.run(Duration::from_secs(1)).datagrams;
    let mut g = c.benchmark_group("viewer_receive_path");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(per_second));
    g.bench_function(name, |b| {
        b.iter_custom(|seconds| {
            (0..seconds)
                .map(|_| pair.run(Duration::from_secs(1)).spent)
                .sum()
        })
    });
    g.finish();
    let end = rtcbench::base::WallClock::start().now();
    let received = pair.viewer.receiver().summary("bench", end);
    assert!(received.frames_rendered > 0, "the viewer rendered nothing");
}

fn light_viewer(c: &mut Criterion) {
    viewer_path(
        c,
        "light_viewer_one_second_640x360_500kbps_opus",
        Kind::Light,
    );
}

fn own_light_viewer(c: &mut Criterion) {
    viewer_path(
        c,
        "own_light_path_one_second_640x360_500kbps_opus",
        Kind::OwnLight,
    );
}

fn probe_viewer(c: &mut Criterion) {
    viewer_path(c, "probe_one_second_640x360_500kbps_opus", Kind::Probe);
}

/// The light receive path's own SRTP (`client::light::srtp`): one 1,200-byte video packet
/// authenticated and decrypted, for each profile a browser offers.
fn light_srtp(c: &mut Criterion) {
    use rtcbench::client::light::srtp::{MasterKey, Profile, SrtpSession};
    let provider = str0m::crypto::from_feature_flags();
    let mut g = c.benchmark_group("light_srtp_unprotect_1200_byte_rtp");
    g.throughput(Throughput::Elements(1));
    let profiles = [
        (
            "aes_cm_128_hmac_sha1_80",
            Profile::AesCm128HmacSha1_80,
            16,
            14,
        ),
        ("aead_aes_128_gcm", Profile::AeadAes128Gcm, 16, 12),
        ("aead_aes_256_gcm", Profile::AeadAes256Gcm, 32, 12),
    ];
    for (name, profile, key_len, salt_len) in profiles {
        let (key, salt) = (vec![7u8; key_len], vec![9u8; salt_len]);
        let master = MasterKey {
            key: &key,
            salt: &salt,
        };
        let mut session = SrtpSession::new(&provider, profile, master, master).expect("keys");
        let mut packet = vec![0x80, 96, 0x12, 0x34, 0, 0, 0x10, 0, 0, 0, 0, 1];
        packet.resize(1200, 0xAB);
        let mut protected = Vec::new();
        session
            .protect_rtp(&packet, 0, &mut protected)
            .expect("protect");
        let mut plain = Vec::with_capacity(1500);
        g.bench_function(name, |b| {
            b.iter(|| {
                session
                    .unprotect_rtp(&protected, &mut plain)
                    .expect("unprotect")
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    light_viewer,
    own_light_viewer,
    probe_viewer,
    light_srtp
);
criterion_main!(benches);
