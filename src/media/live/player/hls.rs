//! An HLS and LL-HLS player as hls.js behaves by default: it picks a variant, starts a few
//! segments (or, low-latency, a part hold-back) behind the live edge, fetches one segment or part
//! at a time, reloads the playlist every target duration (half of it when nothing changed,
//! RFC 8216 §6.3.4) or asks the server to hold the reload until the next part exists
//! (`_HLS_msn`/`_HLS_part`), retries a failed fetch with back-off and then skips it.

use super::{resolve, Fetch, FetchKind, Fetched, FrameFeed, LiveStats, MPEG_CLOCK};
use crate::base::Micros;
use crate::media::live::fmp4::{self, InitSegment};
use crate::media::live::playback::BufferConfig;
use crate::media::live::playlist::{self, MediaPlaylist, Parsed, Part, Segment, Variant};
use crate::media::live::ts::{self, Pids};
use crate::media::marker::find_sei_marker;
use crate::media::receiver::QualityProbe;

#[derive(Debug, Clone, PartialEq)]
pub struct HlsConfig {
    pub buffer: BufferConfig,
    /// Fetch parts where the playlist offers them (LL-HLS).
    pub low_latency: bool,
    /// Start this many segments behind the live edge (hls.js `liveSyncDurationCount`).
    pub live_sync_segments: u64,
    /// The highest variant at or under this bandwidth; the lowest if none is.
    pub max_bandwidth_bps: Option<u64>,
    pub max_playlist_bytes: usize,
    pub max_segment_bytes: usize,
    pub retries: u32,
    pub retry_delay_us: u64,
}

impl Default for HlsConfig {
    fn default() -> Self {
        Self {
            buffer: BufferConfig {
                start_us: 1_000_000,
                rebuffer_us: 1_000_000,
            },
            low_latency: false,
            live_sync_segments: 3,
            max_bandwidth_bps: None,
            max_playlist_bytes: 256 * 1024,
            max_segment_bytes: 16 * 1024 * 1024,
            retries: 3,
            retry_delay_us: 500_000,
        }
    }
}

/// Where the player is in the stream: the next segment, or the next part of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Segment(u64),
    Part { msn: u64, index: usize },
}

#[derive(Debug)]
struct Outstanding {
    id: u64,
    url: String,
    kind: FetchKind,
    attempt: u32,
    position: Option<Position>,
}

/// What the playlist says about the current position.
enum Next {
    Get(String, FetchKind),
    Wait,
}

#[derive(Debug)]
pub struct HlsPlayer {
    config: HlsConfig,
    url: String,
    media_url: Option<String>,
    playlist: Option<MediaPlaylist>,
    playlist_at: Micros,
    /// Whether the last reload found something new (the next reload waits a whole target).
    grew: bool,
    grew_at: Micros,
    stale_reported: bool,
    position: Option<Position>,
    outstanding: Option<Outstanding>,
    /// A retry due at this instant: (url, kind, attempt, position).
    retry: Option<(Micros, String, FetchKind, u32, Option<Position>)>,
    not_before: Micros,
    next_id: u64,
    pids: Pids,
    feed: FrameFeed,
    pub stats: LiveStats,
    /// Decodes and scores every frame (a quality probe); none for a light viewer.
    pub probe: Option<QualityProbe>,
    /// The fMP4 init segment last loaded (its URL and what it says).
    init: Option<(String, InitSegment)>,
}

/// The playlist has not grown for this many target durations: the stream has stopped.
const STALE_TARGETS: u64 = 3;

impl HlsPlayer {
    /// A viewer taps play at `now` on a master or media playlist URL.
    pub fn new(url: &str, config: HlsConfig, now: Micros) -> Self {
        Self {
            feed: FrameFeed::new(config.buffer),
            config,
            url: url.to_string(),
            media_url: None,
            playlist: None,
            playlist_at: now,
            grew: true,
            grew_at: now,
            stale_reported: false,
            position: None,
            outstanding: None,
            retry: None,
            not_before: now,
            next_id: 1,
            pids: Pids::default(),
            stats: LiveStats::new(now),
            probe: None,
            init: None,
        }
    }

    /// Plays out up to `now`.
    pub fn advance(&mut self, now: Micros) {
        self.feed.advance(&mut self.stats, now);
    }

    /// When the player next wants to act if nothing arrives first.
    pub fn wakeup(&self) -> Micros {
        match &self.retry {
            Some((at, ..)) => *at,
            None => self.not_before,
        }
    }

    /// The next fetch to start at `now`, if any (one at a time).
    pub fn poll(&mut self, now: Micros) -> Option<Fetch> {
        if self.outstanding.is_some() {
            return None;
        }
        if let Some((at, ..)) = &self.retry {
            if *at > now {
                return None;
            }
            let (_, url, kind, attempt, position) = self.retry.take()?;
            return Some(self.issue(url, kind, attempt, position));
        }
        let Some(media_url) = self.media_url.clone() else {
            return Some(self.issue(self.url.clone(), FetchKind::Playlist, 0, None));
        };
        if self.playlist.is_none() {
            return Some(self.issue(media_url, FetchKind::Playlist, 0, None));
        }
        let position = self.position?;
        match self.next_fetch(position) {
            Next::Get(url, kind) => {
                let position = self.position;
                Some(self.issue(url, kind, 0, position))
            }
            Next::Wait => self.reload(&media_url, now),
        }
    }

    fn reload(&mut self, media_url: &str, now: Micros) -> Option<Fetch> {
        let playlist = self.playlist.as_ref()?;
        if let (Some(ll), Some(Position::Part { msn, index })) =
            (playlist.low_latency, self.position)
        {
            if ll.can_block_reload && self.config.low_latency {
                let sep = if media_url.contains('?') { '&' } else { '?' };
                let url = format!("{media_url}{sep}_HLS_msn={msn}&_HLS_part={index}");
                return Some(self.issue(url, FetchKind::Playlist, 0, None));
            }
        }
        let target = playlist.target_duration_us.max(100_000);
        let interval = match (playlist.low_latency, self.config.low_latency, self.grew) {
            (Some(ll), true, _) => ll.part_target_us.max(50_000),
            (_, _, true) => target,
            (_, _, false) => target / 2,
        };
        let due = self.playlist_at + interval;
        if now < due {
            self.not_before = due;
            return None;
        }
        Some(self.issue(media_url.to_string(), FetchKind::Playlist, 0, None))
    }

    fn issue(
        &mut self,
        url: String,
        kind: FetchKind,
        attempt: u32,
        position: Option<Position>,
    ) -> Fetch {
        let id = self.next_id;
        self.next_id += 1;
        let max_bytes = match kind {
            FetchKind::Playlist => self.config.max_playlist_bytes,
            _ => self.config.max_segment_bytes,
        };
        self.outstanding = Some(Outstanding {
            id,
            url: url.clone(),
            kind,
            attempt,
            position,
        });
        Fetch {
            id,
            url,
            kind,
            max_bytes,
        }
    }

    /// A fetch ended: its response, or why there is none (refused, cut, too large, timed out).
    pub fn on_fetched(&mut self, id: u64, result: Result<Fetched, String>, now: Micros) {
        self.advance(now);
        let Some(done) = self.outstanding.take_if(|o| o.id == id) else {
            return;
        };
        let body = match result {
            Ok(fetched) if fetched.status == 200 => {
                self.stats.bytes += fetched.body.len() as u64;
                let took = fetched.done_at.saturating_sub(fetched.sent_at);
                let histogram = match done.kind {
                    FetchKind::Part => Some(&mut self.stats.part_us),
                    FetchKind::Segment => Some(&mut self.stats.segment_us),
                    _ => None,
                };
                if let Some(h) = histogram {
                    let _ = h.record(took.max(1));
                }
                fetched.body
            }
            Ok(fetched) => return self.failed(done, format!("HTTP {}", fetched.status), now),
            Err(e) => return self.failed(done, e, now),
        };
        let outcome = match done.kind {
            FetchKind::Playlist => self.on_playlist(&done.url, &body, now),
            FetchKind::Init => fmp4::parse_init(&body)
                .map(|init| self.init = Some((done.url.clone(), init)))
                .map_err(|e| e.to_string()),
            _ => self.on_media(&body, now),
        };
        match outcome {
            Ok(()) => {
                if !matches!(done.kind, FetchKind::Playlist | FetchKind::Init) {
                    self.step_past(done.position, done.kind);
                }
            }
            Err(what) => self.failed(done, what, now),
        }
    }

    fn failed(&mut self, done: Outstanding, what: String, now: Micros) {
        self.stats.error(now, &done.url, what);
        if done.kind == FetchKind::Playlist || done.attempt < self.config.retries {
            self.stats.retries += 1;
            let delay = self.config.retry_delay_us << done.attempt.min(6);
            let attempt = if done.kind == FetchKind::Playlist {
                0
            } else {
                done.attempt + 1
            };
            self.retry = Some((now + delay, done.url, done.kind, attempt, done.position));
        } else {
            self.stats.skipped += 1;
            self.step_past(done.position, done.kind);
        }
    }

    fn on_playlist(&mut self, url: &str, body: &[u8], now: Micros) -> Result<(), String> {
        match playlist::parse(body).map_err(|e| e.to_string())? {
            Parsed::Master(variants) => {
                let chosen = self
                    .choose(&variants)
                    .ok_or("master playlist lists no variant")?;
                let media = resolve(url, &chosen.uri).ok_or("variant URI does not resolve")?;
                self.stats.rendition = Some((media.clone(), chosen.bandwidth_bps));
                self.media_url = Some(media);
                self.not_before = now;
            }
            Parsed::Media(media) => {
                if self.media_url.is_none() {
                    self.media_url = Some(self.url.clone());
                }
                self.take_playlist(media, now);
            }
        }
        Ok(())
    }

    fn choose<'a>(&self, variants: &'a [Variant]) -> Option<&'a Variant> {
        let under = |v: &&Variant| {
            self.config
                .max_bandwidth_bps
                .is_none_or(|m| v.bandwidth_bps <= m)
        };
        variants
            .iter()
            .filter(under)
            .max_by_key(|v| v.bandwidth_bps)
            .or_else(|| variants.iter().min_by_key(|v| v.bandwidth_bps))
    }

    fn take_playlist(&mut self, media: MediaPlaylist, now: Micros) {
        let size = |p: &MediaPlaylist| (p.next_sequence(), p.pending_parts.len());
        let grew = self
            .playlist
            .as_ref()
            .is_none_or(|old| size(&media) > size(old));
        self.grew = grew;
        if grew {
            self.grew_at = now;
            self.stale_reported = false;
        } else if !media.end_list
            && !self.stale_reported
            && now.saturating_sub(self.grew_at) > STALE_TARGETS * media.target_duration_us.max(1)
        {
            self.stale_reported = true;
            let url = self.media_url.clone().unwrap_or_default();
            let stalled_for = now.saturating_sub(self.grew_at) as f64 / 1e6;
            self.stats.error(
                now,
                &url,
                format!("playlist has not advanced for {stalled_for:.1} s"),
            );
        }
        self.playlist_at = now;
        if self.position.is_none() {
            self.position = Some(self.start_position(&media));
        }
        self.playlist = Some(media);
    }

    fn start_position(&self, media: &MediaPlaylist) -> Position {
        if let (Some(ll), true) = (media.low_latency, self.config.low_latency) {
            let hold_back = ll.part_hold_back_us.unwrap_or(3 * ll.part_target_us);
            if let Some(position) = part_start(media, hold_back) {
                return position;
            }
            let msn = media
                .next_sequence()
                .saturating_sub(1)
                .max(media.media_sequence);
            return Position::Part { msn, index: 0 };
        }
        let back = self.config.live_sync_segments.max(1);
        let start = media
            .next_sequence()
            .saturating_sub(back)
            .max(media.media_sequence);
        Position::Segment(start)
    }

    fn next_fetch(&mut self, mut position: Position) -> Next {
        let Some(playlist) = self.playlist.as_ref() else {
            return Next::Wait;
        };
        let base = self.media_url.clone().unwrap_or_default();
        let loaded = self.init.as_ref().map(|(url, _)| url.as_str());
        let get = |uri: &str, kind| match resolve(&base, uri) {
            Some(url) => Next::Get(url, kind),
            None => Next::Wait,
        };
        // An fMP4 segment is read with its init segment, fetched first when it changes.
        let media = |segment: &Segment, uri: &str, kind| {
            let init = segment.init.as_deref().and_then(|i| resolve(&base, i));
            match init {
                Some(init) if Some(init.as_str()) != loaded => Next::Get(init, FetchKind::Init),
                _ => get(uri, kind),
            }
        };
        loop {
            let msn = match position {
                Position::Segment(s) | Position::Part { msn: s, .. } => s,
            };
            if msn < playlist.media_sequence {
                self.stats.skipped += playlist.media_sequence - msn;
                position = match position {
                    Position::Segment(_) => Position::Segment(playlist.media_sequence),
                    Position::Part { .. } => Position::Part {
                        msn: playlist.media_sequence,
                        index: 0,
                    },
                };
                self.position = Some(position);
                continue;
            }
            let listed = playlist.segments.iter().find(|s| s.sequence == msn);
            return match (position, listed) {
                (Position::Segment(_), Some(segment)) => {
                    media(segment, &segment.uri, FetchKind::Segment)
                }
                (Position::Segment(_), None) => Next::Wait,
                (Position::Part { index, .. }, Some(segment)) => {
                    if index < segment.parts.len() {
                        media(segment, &segment.parts[index].uri, FetchKind::Part)
                    } else if index == 0 {
                        media(segment, &segment.uri, FetchKind::Segment)
                    } else {
                        position = Position::Part {
                            msn: msn + 1,
                            index: 0,
                        };
                        self.position = Some(position);
                        continue;
                    }
                }
                (Position::Part { index, .. }, None) if msn == playlist.next_sequence() => {
                    match playlist.pending_parts.get(index) {
                        Some(part) => get(&part.uri, FetchKind::Part),
                        None if index == playlist.pending_parts.len() => {
                            match &playlist.preload_hint {
                                Some(hint) => get(hint, FetchKind::Part),
                                None => Next::Wait,
                            }
                        }
                        None => Next::Wait,
                    }
                }
                (Position::Part { .. }, None) => Next::Wait,
            };
        }
    }

    fn step_past(&mut self, position: Option<Position>, kind: FetchKind) {
        self.position = match (position, kind) {
            (Some(Position::Segment(s)), _) => Some(Position::Segment(s + 1)),
            (Some(Position::Part { msn, .. }), FetchKind::Segment) => Some(Position::Part {
                msn: msn + 1,
                index: 0,
            }),
            (Some(Position::Part { msn, index }), _) => Some(Position::Part {
                msn,
                index: index + 1,
            }),
            (None, _) => self.position,
        };
    }

    fn on_media(&mut self, body: &[u8], now: Micros) -> Result<(), String> {
        // MPEG-TS starts with its sync byte; anything else is read as fMP4 with its init.
        let (frames, clock) = match &self.init {
            Some((_, init)) if body.first() != Some(&0x47) => (
                fmp4::demux(body, init).map_err(|e| e.to_string())?,
                (u64::from(init.timescale), 1 << 62),
            ),
            _ => (
                ts::demux_with(body, self.config.max_segment_bytes, &mut self.pids)
                    .map_err(|e| e.to_string())?,
                MPEG_CLOCK,
            ),
        };
        if frames.is_empty() {
            return Err("no video frame in it".into());
        }
        for frame in frames {
            if let Some(probe) = self.probe.as_mut() {
                probe.score_access_unit(&frame.data, now, &mut self.stats.samples);
            }
            let marker = find_sei_marker(&frame.data);
            self.feed
                .push(&mut self.stats, frame.pts, clock, marker, now);
        }
        Ok(())
    }
}

/// The latest independent part at least `hold_back` behind the end of the listed parts.
fn part_start(media: &MediaPlaylist, hold_back: u64) -> Option<Position> {
    let mut parts: Vec<(u64, usize, &Part)> = Vec::new();
    for segment in &media.segments {
        parts.extend(
            segment
                .parts
                .iter()
                .enumerate()
                .map(|(i, p)| (segment.sequence, i, p)),
        );
    }
    let pending = media.next_sequence();
    parts.extend(
        media
            .pending_parts
            .iter()
            .enumerate()
            .map(|(i, p)| (pending, i, p)),
    );
    let mut behind = 0;
    for &(msn, index, part) in parts.iter().rev() {
        if behind >= hold_back && part.independent {
            return Some(Position::Part { msn, index });
        }
        behind += part.duration_us;
    }
    // Not that much listed yet: as far back as can be decoded.
    parts
        .iter()
        .find(|(_, _, p)| p.independent)
        .map(|&(msn, index, _)| Position::Part { msn, index })
}

#[cfg(test)]
mod tests;
