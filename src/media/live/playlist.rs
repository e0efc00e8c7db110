//! HLS playlists (RFC 8216 and its LL-HLS draft, rfc8216bis): read through m3u8-rs, with the
//! low-latency tags it leaves unknown (EXT-X-SERVER-CONTROL, -PART-INF, -PART, -PRELOAD-HINT)
//! read from its unknown tags; and written for the embedded server.

use m3u8_rs::{ExtTag, Playlist};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    #[error("playlist is not UTF-8")]
    NotText,
    #[error("not a playlist: it does not start with #EXTM3U (starts {0:?})")]
    NoHeader(String),
    #[error("playlist does not parse: {0}")]
    Syntax(String),
    #[error("{tag}: {what}")]
    Tag { tag: String, what: String },
}

/// One variant of a master playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub uri: String,
    pub bandwidth_bps: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub uri: String,
    pub duration_us: u64,
    pub independent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Media sequence number.
    pub sequence: u64,
    pub uri: String,
    pub duration_us: u64,
    pub discontinuity: bool,
    /// LL-HLS parts of this segment, where the playlist lists them.
    pub parts: Vec<Part>,
    /// The init segment (EXT-X-MAP) in effect: an fMP4 stream's moov.
    pub init: Option<String>,
}

/// What EXT-X-SERVER-CONTROL and EXT-X-PART-INF say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LowLatency {
    pub part_target_us: u64,
    pub can_block_reload: bool,
    pub part_hold_back_us: Option<u64>,
    pub hold_back_us: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaPlaylist {
    pub target_duration_us: u64,
    pub media_sequence: u64,
    pub segments: Vec<Segment>,
    pub end_list: bool,
    pub low_latency: Option<LowLatency>,
    /// Parts of the segment being written, after the last whole segment.
    pub pending_parts: Vec<Part>,
    pub preload_hint: Option<String>,
}

impl MediaPlaylist {
    /// The sequence number the next segment will have.
    pub fn next_sequence(&self) -> u64 {
        self.media_sequence + self.segments.len() as u64
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Master(Vec<Variant>),
    Media(MediaPlaylist),
}

/// m3u8-rs keeps tags only when a segment URI follows them; a last line of ours carries the
/// trailing parts and preload hint through, and is taken off again.
const SENTINEL: &str = "\n#EXTINF:0,\nrtcbench-trailing-tags\n";

pub fn parse(bytes: &[u8]) -> Result<Parsed, PlaylistError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PlaylistError::NotText)?;
    let text = text.trim_start_matches('\u{feff}');
    if !text.starts_with("#EXTM3U") {
        let start: String = text.chars().take(24).collect();
        return Err(PlaylistError::NoHeader(start));
    }
    let mut input = text.to_string();
    if !m3u8_rs::is_master_playlist(text.as_bytes()) {
        input.push_str(SENTINEL);
    }
    match m3u8_rs::parse_playlist_res(input.as_bytes()) {
        Ok(Playlist::MasterPlaylist(master)) => Ok(Parsed::Master(
            master
                .variants
                .into_iter()
                .filter(|v| !v.is_i_frame)
                .map(|v| Variant {
                    uri: v.uri,
                    bandwidth_bps: v.bandwidth,
                })
                .collect(),
        )),
        Ok(Playlist::MediaPlaylist(media)) => media_from(media).map(Parsed::Media),
        Err(e) => Err(PlaylistError::Syntax(short(&format!("{e:?}")))),
    }
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

fn media_from(media: m3u8_rs::MediaPlaylist) -> Result<MediaPlaylist, PlaylistError> {
    let mut out = MediaPlaylist {
        target_duration_us: media.target_duration.saturating_mul(1_000_000),
        media_sequence: media.media_sequence,
        end_list: media.end_list,
        ..Default::default()
    };
    let mut low_latency = LowLatency::default();
    let mut any_low_latency = false;
    let mut segments = media.segments;
    let trailing = segments.pop().filter(|s| s.uri == "rtcbench-trailing-tags");
    let mut init = None;
    for (index, segment) in segments.into_iter().enumerate() {
        if let Some(map) = &segment.map {
            init = Some(map.uri.clone());
        }
        let parts = read_tags(
            &segment.unknown_tags,
            &mut low_latency,
            &mut any_low_latency,
        )?;
        out.segments.push(Segment {
            sequence: media.media_sequence + index as u64,
            duration_us: seconds_to_us(segment.duration as f64),
            uri: segment.uri,
            discontinuity: segment.discontinuity,
            parts: parts.0,
            init: init.clone(),
        });
    }
    if let Some(trailing) = trailing {
        let (parts, hint) = read_tags(
            &trailing.unknown_tags,
            &mut low_latency,
            &mut any_low_latency,
        )?;
        out.pending_parts = parts;
        out.preload_hint = hint;
    }
    out.low_latency = any_low_latency.then_some(low_latency);
    Ok(out)
}

/// The parts and preload hint among a segment's unknown tags; playlist-wide LL-HLS tags (which
/// m3u8-rs files under the first segment) go to `low_latency`.
fn read_tags(
    tags: &[ExtTag],
    low_latency: &mut LowLatency,
    any: &mut bool,
) -> Result<(Vec<Part>, Option<String>), PlaylistError> {
    let mut parts = Vec::new();
    let mut hint = None;
    for tag in tags {
        let attrs = attributes(tag.rest.as_deref().unwrap_or(""));
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let field = |what: String| PlaylistError::Tag {
            tag: format!("#EXT-{}", tag.tag),
            what,
        };
        let seconds = |name: &str| -> Result<Option<u64>, PlaylistError> {
            get(name)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(seconds_to_us)
                        .ok_or_else(|| field(format!("{name}={v:?} is not a duration")))
                })
                .transpose()
        };
        match tag.tag.as_str() {
            "X-PART" => {
                let uri = get("URI").ok_or_else(|| field("no URI".into()))?;
                let duration_us =
                    seconds("DURATION")?.ok_or_else(|| field("no DURATION".into()))?;
                parts.push(Part {
                    uri: uri.to_string(),
                    duration_us,
                    independent: get("INDEPENDENT") == Some("YES"),
                });
            }
            "X-PRELOAD-HINT" if get("TYPE") == Some("PART") => {
                hint = get("URI").map(str::to_string);
            }
            "X-PART-INF" => {
                *any = true;
                low_latency.part_target_us =
                    seconds("PART-TARGET")?.ok_or_else(|| field("no PART-TARGET".into()))?;
            }
            "X-SERVER-CONTROL" => {
                *any = true;
                low_latency.can_block_reload = get("CAN-BLOCK-RELOAD") == Some("YES");
                low_latency.part_hold_back_us = seconds("PART-HOLD-BACK")?;
                low_latency.hold_back_us = seconds("HOLD-BACK")?;
            }
            _ => {}
        }
    }
    Ok((parts, hint))
}

fn seconds_to_us(s: f64) -> u64 {
    (s.max(0.0) * 1e6).round().min(u64::MAX as f64) as u64
}

/// An attribute list (`A=1,B="x,y"`) as name/value pairs, quotes removed.
fn attributes(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = list.trim_start_matches(':');
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, a)) => (v, a.trim_start_matches(',')),
                None => (quoted, ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, a)) => (v, a),
                None => (after, ""),
            }
        };
        out.push((name.trim().to_string(), value.to_string()));
        rest = after;
    }
    out
}

/// Writes a live media playlist; `low_latency` adds the LL-HLS tags.
pub fn write_media(playlist: &MediaPlaylist) -> String {
    let mut out = String::with_capacity(256 + 96 * playlist.segments.len());
    let version = if playlist.low_latency.is_some() { 9 } else { 3 };
    let target = playlist.target_duration_us.div_ceil(1_000_000);
    let _ = writeln!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}"
    );
    if let Some(ll) = &playlist.low_latency {
        let _ = write!(
            out,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD={}",
            yes_no(ll.can_block_reload)
        );
        if let Some(us) = ll.part_hold_back_us {
            let _ = write!(out, ",PART-HOLD-BACK={}", secs(us));
        }
        let _ = writeln!(
            out,
            "\n#EXT-X-PART-INF:PART-TARGET={}",
            secs(ll.part_target_us)
        );
    }
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", playlist.media_sequence);
    let mut init: Option<&str> = None;
    for segment in &playlist.segments {
        if segment.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(uri) = segment.init.as_deref().filter(|u| init != Some(*u)) {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{uri}\"");
            init = Some(uri);
        }
        write_parts(&mut out, &segment.parts);
        let _ = writeln!(
            out,
            "#EXTINF:{},\n{}",
            secs(segment.duration_us),
            segment.uri
        );
    }
    write_parts(&mut out, &playlist.pending_parts);
    if let Some(hint) = &playlist.preload_hint {
        let _ = writeln!(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{hint}\"");
    }
    if playlist.end_list {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

fn write_parts(out: &mut String, parts: &[Part]) {
    for part in parts {
        let _ = write!(
            out,
            "#EXT-X-PART:DURATION={},URI=\"{}\"",
            secs(part.duration_us),
            part.uri
        );
        if part.independent {
            out.push_str(",INDEPENDENT=YES");
        }
        out.push('\n');
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "YES"
    } else {
        "NO"
    }
}

fn secs(us: u64) -> String {
    format!("{:.3}", us as f64 / 1e6)
}

#[cfg(test)]
mod tests;
