//! One RTMP publisher's connection to the edge, sans-IO: the handshake and rml_rtmp's server
//! session, `connect` taken for the edge's app, a publish to stream name ROOM proposed to the
//! caller (the room may already be live), and each FLV video body turned back into an Annex B
//! access unit for the packager and the WebRTC viewers. Audio is not taken (video only).

use super::packager::LiveFrame;
use crate::media::live::avc::{to_annexb, DecoderConfig};
use crate::media::live::flv::{parse_video, Tag, Video, TAG_VIDEO};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

/// The one application the edge takes pushes on: `rtmp://HOST:PORT/live/ROOM`.
pub const APP: &str = "live";
/// The largest video message taken (a 4K key frame is well under this).
const MAX_FRAME_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("RTMP handshake: {0}")]
    Handshake(String),
    #[error("RTMP session: {0}")]
    Session(String),
    #[error("stream \"{room}\": {what}")]
    Video { room: String, what: String },
}

/// What a connection asks of the edge, or brings it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// A publish to `room` awaits [`RtmpIngest::accept`] or [`RtmpIngest::refuse`].
    PublishRequested {
        request: u32,
        room: String,
    },
    Frame {
        room: String,
        frame: LiveFrame,
    },
    Unpublished {
        room: String,
    },
}

enum Phase {
    Handshaking(Box<Handshake>),
    Session(Box<ServerSession>),
}

pub struct RtmpIngest {
    phase: Phase,
    out: Vec<u8>,
    /// The room being published once accepted, and its decoder configuration.
    room: Option<String>,
    config: Option<DecoderConfig>,
}

fn session_error(e: impl std::fmt::Display) -> IngestError {
    IngestError::Session(e.to_string())
}

impl Default for RtmpIngest {
    fn default() -> Self {
        Self {
            phase: Phase::Handshaking(Box::new(Handshake::new(PeerType::Server))),
            out: Vec::new(),
            room: None,
            config: None,
        }
    }
}

impl RtmpIngest {
    /// Bytes to write to the publisher, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The room this connection publishes, once accepted.
    pub fn room(&self) -> Option<&str> {
        self.room.as_deref()
    }

    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Vec<Ingested>, IngestError> {
        let rest = match &mut self.phase {
            Phase::Handshaking(handshake) => match handshake
                .process_bytes(bytes)
                .map_err(|e| IngestError::Handshake(e.to_string()))?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    self.out.extend_from_slice(&response_bytes);
                    return Ok(Vec::new());
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.out.extend_from_slice(&response_bytes);
                    let (session, results) =
                        ServerSession::new(ServerSessionConfig::new()).map_err(session_error)?;
                    self.phase = Phase::Session(Box::new(session));
                    let mut events = self.apply(results)?;
                    events.extend(self.session_input(&remaining_bytes)?);
                    return Ok(events);
                }
            },
            Phase::Session(_) => bytes,
        };
        self.session_input(rest)
    }

    fn session_input(&mut self, bytes: &[u8]) -> Result<Vec<Ingested>, IngestError> {
        let Phase::Session(session) = &mut self.phase else {
            return Ok(Vec::new());
        };
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let results = session.handle_input(bytes).map_err(session_error)?;
        self.apply(results)
    }

    /// Takes the publish the edge agreed to.
    pub fn accept(&mut self, request: u32, room: &str) -> Result<(), IngestError> {
        let Phase::Session(session) = &mut self.phase else {
            return Ok(());
        };
        let results = session.accept_request(request).map_err(session_error)?;
        self.room = Some(room.to_string());
        self.apply(results).map(|_| ())
    }

    /// Answers a publish with an error status (the room is live from elsewhere).
    pub fn refuse(&mut self, request: u32, why: &str) -> Result<(), IngestError> {
        let Phase::Session(session) = &mut self.phase else {
            return Ok(());
        };
        let results = session
            .reject_request(request, "NetStream.Publish.BadName", why)
            .map_err(session_error)?;
        self.apply(results).map(|_| ())
    }

    fn apply(&mut self, results: Vec<ServerSessionResult>) -> Result<Vec<Ingested>, IngestError> {
        let mut events = Vec::new();
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(p) => self.out.extend_from_slice(&p.bytes),
                ServerSessionResult::RaisedEvent(e) => events.extend(self.on_event(e)?),
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(events)
    }

    fn on_event(&mut self, event: ServerSessionEvent) -> Result<Option<Ingested>, IngestError> {
        let Phase::Session(session) = &mut self.phase else {
            return Ok(None);
        };
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                let results = if app_name == APP {
                    session.accept_request(request_id)
                } else {
                    let why = format!("no app \"{app_name}\" here: push to /{APP}/ROOM");
                    session.reject_request(request_id, "NetConnection.Connect.Rejected", &why)
                }
                .map_err(session_error)?;
                self.apply(results).map(|_| None)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => {
                // A signature in the query (as CDNs take) is not the room's name.
                let room = stream_key.split('?').next().unwrap_or_default().to_string();
                Ok(Some(Ingested::PublishRequested {
                    request: request_id,
                    room,
                }))
            }
            ServerSessionEvent::PublishStreamFinished { .. } => {
                Ok(self.room.take().map(|room| Ingested::Unpublished { room }))
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => self.on_video(data.to_vec(), timestamp.value),
            _ => Ok(None),
        }
    }

    fn on_video(
        &mut self,
        data: Vec<u8>,
        timestamp_ms: u32,
    ) -> Result<Option<Ingested>, IngestError> {
        let Some(room) = self.room.clone() else {
            return Ok(None);
        };
        let bad = |what: String| IngestError::Video {
            room: room.clone(),
            what,
        };
        if data.len() > MAX_FRAME_BYTES {
            return Err(bad(format!("a video message of {} bytes", data.len())));
        }
        let tag = Tag {
            kind: TAG_VIDEO,
            timestamp_ms,
            data,
        };
        match parse_video(&tag).map_err(|e| bad(e.to_string()))? {
            Video::Config(config) => {
                self.config = Some(config);
                Ok(None)
            }
            Video::Frame {
                keyframe,
                pts_ms,
                nal_units,
            } => {
                let Some(config) = &self.config else {
                    return Err(bad("a frame before the AVC sequence header".into()));
                };
                let frame = LiveFrame {
                    annexb: to_annexb(nal_units, config, keyframe),
                    keyframe,
                    pts_90k: pts_ms.max(0) as u64 * 90,
                };
                Ok(Some(Ingested::Frame { room, frame }))
            }
            Video::EndOfSequence => Ok(None),
            Video::OtherCodec(id) => Err(bad(format!("video codec {id}, not AVC"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::rtmp_push::{PushedStream, RtmpPublisher, RtmpTarget};
    use crate::media::marker::find_sei_marker;
    use crate::media::sender::{MediaSender, SenderConfig};

    fn sender() -> MediaSender {
        let config = SenderConfig {
            seed: 3,
            width: 160,
            height: 96,
            fps: 25,
            video_bitrate_bps: 300_000,
            keyframe_interval_us: 1_000_000,
            audio_bitrate_bps: Some(32_000),
            video_ssrc: 1,
            audio_ssrc: 2,
            probe_score_every: 1,
            lower_layers: Vec::new(),
        };
        MediaSender::new(config, 0).unwrap().into_whole_frames()
    }

    /// Carries bytes both ways until neither side has any.
    fn exchange(client: &mut RtmpPublisher, server: &mut RtmpIngest) -> Vec<Ingested> {
        let mut events = Vec::new();
        for _ in 0..32 {
            let up = client.take_output();
            if !up.is_empty() {
                events.extend(server.handle_input(&up).unwrap());
            }
            for event in &events {
                if let Ingested::PublishRequested { request, room } = event {
                    if server.room().is_none() {
                        server.accept(*request, room).unwrap();
                    }
                }
            }
            let down = server.take_output();
            if up.is_empty() && down.is_empty() {
                break;
            }
            client.handle_input(&down).unwrap();
        }
        events
    }

    #[test]
    fn a_pushed_stream_arrives_frame_by_frame_with_its_markers_and_times() {
        let target = RtmpTarget::parse("rtmp://127.0.0.1/live/room-7?sign=x").unwrap();
        let stream = PushedStream {
            width: 160,
            height: 96,
            fps: 25,
            bitrate_bps: 300_000,
        };
        let mut client = RtmpPublisher::new(target, stream).unwrap();
        let mut server = RtmpIngest::default();
        let events = exchange(&mut client, &mut server);
        assert!(client.is_publishing(), "{events:?}");
        assert_eq!(server.room(), Some("room-7"));
        let mut sender = sender();
        let mut frames = Vec::new();
        for n in 0..30u64 {
            let now = n * 40_000;
            sender.handle_timeout(now).unwrap();
            while let Some(au) = sender.poll_access_unit() {
                client.send_frame(&au).unwrap();
            }
            frames.extend(
                exchange(&mut client, &mut server)
                    .into_iter()
                    .filter_map(|e| match e {
                        Ingested::Frame { frame, .. } => Some(frame),
                        _ => None,
                    }),
            );
        }
        assert_eq!(frames.len(), 30);
        assert!(frames[0].keyframe && frames[25].keyframe && !frames[1].keyframe);
        for (n, f) in frames.iter().enumerate() {
            assert_eq!(f.pts_90k, n as u64 * 3_600);
            let marker = find_sei_marker(&f.annexb).expect("SEI marker survives the push");
            assert_eq!(marker.capture_us, n as u64 * 40_000);
        }
    }

    #[test]
    fn garbage_and_a_wrong_app_are_errors_not_panics() {
        let mut server = RtmpIngest::default();
        assert!(server.handle_input(&[9u8; 1537]).is_err());
        let target = RtmpTarget::parse("rtmp://127.0.0.1/other/room").unwrap();
        let stream = PushedStream {
            width: 2,
            height: 2,
            fps: 1,
            bitrate_bps: 1,
        };
        let mut client = RtmpPublisher::new(target, stream).unwrap();
        let mut server = RtmpIngest::default();
        let mut refused = None;
        for _ in 0..16 {
            let up = client.take_output();
            server.handle_input(&up).unwrap();
            if let Err(e) = client.handle_input(&server.take_output()) {
                refused = Some(e);
                break;
            }
        }
        let refused = refused.expect("the connect is refused");
        assert!(
            matches!(
                refused,
                crate::client::rtmp_push::RtmpPushError::Refused { .. }
            ),
            "{refused}"
        );
    }
}
