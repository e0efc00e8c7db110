//! An HTTP-FLV player as apps run one (flv.js, ijkplayer): one long GET whose body is the live
//! FLV stream, frames playable from the first key frame after the AVC sequence header, and a
//! reconnect after a delay when the stream breaks or ends.

use super::{Fetch, FetchKind, FrameFeed, LiveStats, FLV_CLOCK};
use crate::base::Micros;
use crate::media::live::avc::{self, DecoderConfig};
use crate::media::live::flv::{self, Demuxer, Video};
use crate::media::live::playback::BufferConfig;
use crate::media::receiver::QualityProbe;

#[derive(Debug, Clone, PartialEq)]
pub struct FlvConfig {
    pub buffer: BufferConfig,
    pub max_tag_bytes: usize,
    pub reconnect_delay_us: u64,
}

impl Default for FlvConfig {
    fn default() -> Self {
        Self {
            buffer: BufferConfig {
                start_us: 500_000,
                rebuffer_us: 500_000,
            },
            max_tag_bytes: 4 * 1024 * 1024,
            reconnect_delay_us: 1_000_000,
        }
    }
}

#[derive(Debug)]
enum Connection {
    /// Not connected; the next request may go at this instant.
    Idle(Micros),
    Open {
        id: u64,
    },
}

#[derive(Debug)]
pub struct FlvPlayer {
    config: FlvConfig,
    url: String,
    connection: Connection,
    next_id: u64,
    demuxer: Demuxer,
    decoder: Option<DecoderConfig>,
    /// A key frame has come since the sequence header: what follows decodes.
    decodable: bool,
    feed: FrameFeed,
    pub stats: LiveStats,
    pub reconnects: u64,
    /// Decodes and scores every frame (a quality probe); none for a light viewer.
    pub probe: Option<QualityProbe>,
}

impl FlvPlayer {
    pub fn new(url: &str, config: FlvConfig, now: Micros) -> Self {
        Self {
            demuxer: Demuxer::new(config.max_tag_bytes),
            feed: FrameFeed::new(config.buffer),
            config,
            url: url.to_string(),
            connection: Connection::Idle(now),
            next_id: 1,
            decoder: None,
            decodable: false,
            stats: LiveStats::new(now),
            reconnects: 0,
            probe: None,
        }
    }

    pub fn advance(&mut self, now: Micros) {
        self.feed.advance(&mut self.stats, now);
    }

    pub fn wakeup(&self) -> Option<Micros> {
        match self.connection {
            Connection::Idle(at) => Some(at),
            Connection::Open { .. } => None,
        }
    }

    /// The request to open the stream, when one is due.
    pub fn poll(&mut self, now: Micros) -> Option<Fetch> {
        match self.connection {
            Connection::Idle(at) if at <= now => {}
            _ => return None,
        }
        let id = self.next_id;
        self.next_id += 1;
        self.connection = Connection::Open { id };
        self.demuxer = Demuxer::new(self.config.max_tag_bytes);
        self.decoder = None;
        self.decodable = false;
        Some(Fetch {
            id,
            url: self.url.clone(),
            kind: FetchKind::Stream,
            max_bytes: usize::MAX,
        })
    }

    fn is_open(&self, id: u64) -> bool {
        matches!(self.connection, Connection::Open { id: open } if open == id)
    }

    /// The response's status line arrived.
    pub fn on_status(&mut self, id: u64, status: u16, now: Micros) {
        if self.is_open(id) && status != 200 {
            self.close(format!("HTTP {status}"), now);
        }
    }

    /// Bytes of the body arrived.
    pub fn on_bytes(&mut self, id: u64, bytes: &[u8], now: Micros) {
        if !self.is_open(id) {
            return;
        }
        self.advance(now);
        self.stats.bytes += bytes.len() as u64;
        self.demuxer.push(bytes);
        while let Some(tag) = self.demuxer.next_tag() {
            let result = tag.and_then(|tag| self.on_tag(&tag, now));
            if let Err(e) = result {
                self.close(e.to_string(), now);
                return;
            }
        }
    }

    fn on_tag(&mut self, tag: &flv::Tag, now: Micros) -> Result<(), flv::FlvError> {
        if tag.kind != flv::TAG_VIDEO {
            return Ok(());
        }
        match flv::parse_video(tag)? {
            Video::Config(config) => {
                self.decoder = Some(config);
                self.decodable = false;
            }
            Video::Frame {
                keyframe,
                pts_ms,
                nal_units,
            } => {
                let Some(config) = &self.decoder else {
                    return Ok(());
                };
                self.decodable |= keyframe;
                if !self.decodable {
                    return Ok(());
                }
                if let Some(probe) = self.probe.as_mut() {
                    let access_unit = avc::to_annexb(nal_units, config, keyframe);
                    probe.score_access_unit(&access_unit, now, &mut self.stats.samples);
                }
                let marker = avc::find_marker(nal_units, config.length_size);
                let pts = pts_ms.max(0) as u64;
                self.feed.push(&mut self.stats, pts, FLV_CLOCK, marker, now);
            }
            Video::EndOfSequence | Video::OtherCodec(_) => {}
        }
        Ok(())
    }

    /// The body ended (`error`: how, if it broke): a live stream that ends is reconnected.
    pub fn on_end(&mut self, id: u64, error: Option<String>, now: Micros) {
        if !self.is_open(id) {
            return;
        }
        self.advance(now);
        let what = match (error, self.demuxer.finish()) {
            (Some(e), _) => Some(e),
            (None, Err(cut)) => Some(cut.to_string()),
            // The host stopped: not a failure of the delivery, but the app reconnects.
            (None, Ok(())) => None,
        };
        match what {
            Some(what) => self.close(what, now),
            None => self.reconnect(now),
        }
    }

    fn close(&mut self, what: String, now: Micros) {
        let url = self.url.clone();
        self.stats.error(now, &url, what);
        self.reconnect(now);
    }

    fn reconnect(&mut self, now: Micros) {
        self.reconnects += 1;
        self.stats.retries += 1;
        self.connection = Connection::Idle(now + self.config.reconnect_delay_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::live::avc::LENGTH_SIZE;
    use crate::media::live::flv::{avc_config_tag, avc_frame_tag, header, write_tag};
    use crate::media::marker::{sei_nal, FrameMarker};

    const EPOCH: Micros = 1_000_000_000;
    const FRAME_US: u64 = 40_000;

    fn config() -> DecoderConfig {
        DecoderConfig {
            sps: vec![0x67, 0x42, 0xC0, 0x1F, 0xAA],
            pps: vec![0x68, 0xCE],
            length_size: LENGTH_SIZE,
        }
    }

    /// Frame n as a tag: a key frame every 25, each with its marker.
    fn frame(n: u64) -> Vec<u8> {
        let sei = sei_nal(FrameMarker {
            frame: n as u32,
            capture_us: EPOCH + n * FRAME_US,
        });
        let mut nals = (sei.len() as u32).to_be_bytes().to_vec();
        nals.extend_from_slice(&sei);
        let key = n % 25 == 0;
        nals.extend_from_slice(&[0, 0, 0, 2, if key { 0x65 } else { 0x41 }, 0]);
        let mut out = Vec::new();
        write_tag(&avc_frame_tag(key, (n * 40) as u32, 0, &nals), &mut out);
        out
    }

    fn stream_head() -> Vec<u8> {
        let mut out = header(false, true);
        write_tag(&avc_config_tag(&config(), 0), &mut out);
        out
    }

    /// Each frame arrives `delay` after capture; the stream starts at frame `from`.
    fn play(from: u64, to: u64, delay: u64, gap: Option<(u64, u64)>) -> FlvPlayer {
        let tap = EPOCH + from * FRAME_US;
        let mut player = FlvPlayer::new("http://o.test/live/room.flv", FlvConfig::default(), tap);
        let fetch = player.poll(tap).unwrap();
        player.on_status(fetch.id, 200, tap + delay);
        player.on_bytes(fetch.id, &stream_head(), tap + delay);
        for n in from..to {
            let mut at = EPOCH + n * FRAME_US + delay;
            if let Some((at_frame, held)) = gap {
                if n >= at_frame {
                    at = at.max(EPOCH + at_frame * FRAME_US + held);
                }
            }
            player.on_bytes(fetch.id, &frame(n), at);
        }
        player.advance(EPOCH + to * FRAME_US + delay);
        player
    }

    #[test]
    fn play_starts_at_the_first_key_frame_and_lags_by_the_buffer() {
        let player = play(10, 500, 30_000, None);
        let stats = &player.stats;
        // Frames 10–24 are not decodable; frame 25 comes 30 ms after its capture, and 500 ms
        // are buffered once frame 37 is in (13 frames of 40 ms).
        assert_eq!(stats.first_frame_us(), Some(15 * FRAME_US + 30_000));
        assert_eq!(stats.startup_us(), Some(27 * FRAME_US + 30_000));
        assert_eq!(stats.playback.stalls, 0);
        // Frame 25 is shown when frame 37 arrives: 12 frames and the 30 ms path behind.
        let p50 = stats.latency_us.value_at_quantile(0.5);
        assert!((509_000..=511_000).contains(&p50), "latency {p50}");
        assert!(stats.latency_us.max() - stats.latency_us.min() < 1_000);
    }

    #[test]
    fn a_held_stream_stalls_once_for_the_hold_beyond_the_buffer() {
        let player = play(0, 500, 0, Some((200, 2_000_000)));
        let stats = &player.stats;
        assert_eq!(stats.playback.stalls, 1);
        // 2 s held; the 480 ms the player ran behind (12 frames) covered part of it.
        assert_eq!(stats.playback.stall_time_us, 2_000_000 - 12 * FRAME_US);
    }

    #[test]
    fn a_cut_tag_and_a_refusal_are_errors_with_the_url_and_reconnect() {
        let tap = EPOCH;
        let mut player = FlvPlayer::new("http://o.test/live/room.flv", FlvConfig::default(), tap);
        let fetch = player.poll(tap).unwrap();
        player.on_status(fetch.id, 200, tap);
        let mut bytes = stream_head();
        bytes.extend_from_slice(&frame(0)[..9]);
        player.on_bytes(fetch.id, &bytes, tap);
        player.on_end(fetch.id, None, tap + 1);
        assert!(player.stats.errors[0].what.contains("ends inside a tag"));
        assert_eq!(player.stats.errors[0].url, "http://o.test/live/room.flv");
        assert!(player.poll(tap + 2).is_none(), "waits before reconnecting");
        let again = player.poll(tap + 1 + 1_000_000).expect("reconnects");
        player.on_status(again.id, 404, tap + 1_000_002);
        assert_eq!(player.stats.errors[1].what, "HTTP 404");
        assert_eq!(player.reconnects, 2);
        // A stream that ends cleanly (the host stopped) is reconnected without an error.
        let third = player.poll(tap + 3_000_000).expect("reconnects");
        player.on_status(third.id, 200, tap + 3_000_000);
        player.on_bytes(third.id, &stream_head(), tap + 3_000_000);
        player.on_end(third.id, None, tap + 3_000_001);
        assert_eq!(player.stats.http_errors, 2);
        assert_eq!(player.reconnects, 3);
    }
}
