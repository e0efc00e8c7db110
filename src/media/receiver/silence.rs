//! Negotiated tracks that never carry a packet: a server that forwards no audio, or no video,
//! must fail the session rather than score as a clean one (no loss, no gaps, no freezes).

use crate::base::Micros;

/// A track is judged once the session has been connected this long.
pub const SILENT_TRACK_AFTER_US: u64 = 3_000_000;

#[derive(Debug, Default, Clone)]
pub struct SilenceWatch {
    connected_at: Option<Micros>,
    video_seen: bool,
    audio_seen: bool,
    /// The stream has no audio (a scenario without it, an RTMP host): none is expected.
    no_audio: bool,
}

impl SilenceWatch {
    /// The watched stream sends no audio: a silent audio track is not a failure.
    pub fn expect_no_audio(&mut self) {
        self.no_audio = true;
    }

    /// The first connection came up (later reconnections keep the first instant).
    pub fn on_connected(&mut self, now: Micros) {
        self.connected_at.get_or_insert(now);
    }

    pub fn on_video(&mut self) {
        self.video_seen = true;
    }

    pub fn on_audio(&mut self) {
        self.audio_seen = true;
    }

    /// The tracks ("audio", "video") that brought no packet, once the session has been
    /// connected for [`SILENT_TRACK_AFTER_US`]; nothing before that, or if it never connected
    /// (that failure is the connection's).
    pub fn silent_tracks(&self, end: Micros) -> Vec<String> {
        let judged = self
            .connected_at
            .is_some_and(|c| end.saturating_sub(c) >= SILENT_TRACK_AFTER_US);
        if !judged {
            return Vec::new();
        }
        [
            ("audio", self.audio_seen || self.no_audio),
            ("video", self.video_seen),
        ]
        .into_iter()
        .filter(|(_, seen)| !seen)
        .map(|(kind, _)| kind.to_string())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_without_packets_is_silent_once_judged() {
        let mut watch = SilenceWatch::default();
        watch.on_connected(1_000_000);
        watch.on_video();
        assert!(
            watch.silent_tracks(3_999_999).is_empty(),
            "judged too early"
        );
        assert_eq!(watch.silent_tracks(4_000_000), vec!["audio".to_string()]);
        watch.on_audio();
        assert!(watch.silent_tracks(9_000_000).is_empty());
    }

    #[test]
    fn a_session_that_never_connected_has_no_silent_track() {
        assert!(SilenceWatch::default().silent_tracks(60_000_000).is_empty());
        let mut video_only = SilenceWatch::default();
        video_only.expect_no_audio();
        video_only.on_connected(0);
        assert_eq!(
            video_only.silent_tracks(9_000_000),
            vec!["video".to_string()]
        );
        video_only.on_video();
        assert!(video_only.silent_tracks(9_000_000).is_empty());
    }
}
