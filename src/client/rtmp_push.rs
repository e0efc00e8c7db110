//! The host's RTMP push as an encoder (OBS, ffmpeg) makes it, sans-IO: the handshake,
//! `connect` / `createStream` / `publish` through rml_rtmp's client session, then onMetaData,
//! the AVC sequence header and one FLV video body per frame. Fed the server's bytes and the
//! sender's access units; what is to be written comes out of [`RtmpPublisher::take_output`].

use crate::media::live::avc::{annexb_to_length_prefixed, DecoderConfig};
use crate::media::live::flv::{avc_config_tag, avc_frame_tag};
use crate::media::sender::AccessUnit;
use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
    PublishRequestType, StreamMetadata,
};
use rml_rtmp::time::RtmpTimestamp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtmpPushError {
    #[error("\"{url}\" is not an RTMP push URL: {why}")]
    BadUrl { url: String, why: String },
    #[error("RTMP handshake: {0}")]
    Handshake(String),
    #[error("RTMP session: {0}")]
    Session(String),
    #[error("the server refused the connection to app \"{app}\": {why}")]
    Refused { app: String, why: String },
    #[error("the server answered publish with {0}")]
    PublishStatus(String),
}

/// Where a push goes: `rtmp://host[:port]/app/stream?query` (the query, where CDNs put their
/// signature, travels with the stream name as encoders send it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpTarget {
    pub host: String,
    pub port: u16,
    pub app: String,
    pub stream: String,
    pub tc_url: String,
}

impl RtmpTarget {
    pub fn parse(url: &str) -> Result<Self, RtmpPushError> {
        let bad = |why: &str| RtmpPushError::BadUrl {
            url: url.to_string(),
            why: why.to_string(),
        };
        let rest = url
            .strip_prefix("rtmp://")
            .ok_or_else(|| bad("it does not start rtmp://"))?;
        let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no app"))?;
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
            None => (authority, 1935),
        };
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let (app, stream) = path.rsplit_once('/').ok_or_else(|| bad("no stream name"))?;
        if host.is_empty() || app.is_empty() || stream.is_empty() {
            return Err(bad("host, app and stream name must all be present"));
        }
        let stream = match query {
            Some(q) => format!("{stream}?{q}"),
            None => stream.to_string(),
        };
        Ok(Self {
            host: host.to_string(),
            port,
            app: app.to_string(),
            stream,
            tc_url: format!("rtmp://{authority}/{app}"),
        })
    }
}

enum Phase {
    Handshaking(Box<Handshake>),
    Connecting,
    Publishing,
}

/// What the stream is, for onMetaData.
#[derive(Debug, Clone, Copy)]
pub struct PushedStream {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
}

pub struct RtmpPublisher {
    target: RtmpTarget,
    stream: PushedStream,
    phase: Phase,
    session: Option<ClientSession>,
    out: Vec<u8>,
    /// The decoder configuration last announced in a sequence header.
    announced: Option<DecoderConfig>,
    /// Frames dropped because the session was not publishing or awaited a key frame.
    pub frames_dropped: u64,
    pub frames_sent: u64,
}

fn session_error(e: impl std::fmt::Display) -> RtmpPushError {
    RtmpPushError::Session(e.to_string())
}

impl RtmpPublisher {
    pub fn new(target: RtmpTarget, stream: PushedStream) -> Result<Self, RtmpPushError> {
        let mut handshake = Handshake::new(PeerType::Client);
        let hello = handshake
            .generate_outbound_p0_and_p1()
            .map_err(|e| RtmpPushError::Handshake(e.to_string()))?;
        Ok(Self {
            target,
            stream,
            phase: Phase::Handshaking(Box::new(handshake)),
            session: None,
            out: hello,
            announced: None,
            frames_dropped: 0,
            frames_sent: 0,
        })
    }

    pub fn target(&self) -> &RtmpTarget {
        &self.target
    }

    pub fn is_publishing(&self) -> bool {
        matches!(self.phase, Phase::Publishing)
    }

    /// Bytes to write to the server, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The server's bytes; an error ends the connection.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<(), RtmpPushError> {
        if let Phase::Handshaking(handshake) = &mut self.phase {
            match handshake
                .process_bytes(bytes)
                .map_err(|e| RtmpPushError::Handshake(e.to_string()))?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    self.out.extend_from_slice(&response_bytes);
                    return Ok(());
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.out.extend_from_slice(&response_bytes);
                    self.start_session()?;
                    return self.handle_session_bytes(&remaining_bytes);
                }
            }
        }
        self.handle_session_bytes(bytes)
    }

    fn start_session(&mut self) -> Result<(), RtmpPushError> {
        let mut config = ClientSessionConfig::new();
        config.tc_url = Some(self.target.tc_url.clone());
        let (mut session, results) = ClientSession::new(config).map_err(session_error)?;
        let connect = session
            .request_connection(self.target.app.clone())
            .map_err(session_error)?;
        self.session = Some(session);
        self.phase = Phase::Connecting;
        self.apply(results)?;
        self.apply(vec![connect])
    }

    fn handle_session_bytes(&mut self, bytes: &[u8]) -> Result<(), RtmpPushError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let results = session.handle_input(bytes).map_err(session_error)?;
        self.apply(results)
    }

    fn apply(&mut self, results: Vec<ClientSessionResult>) -> Result<(), RtmpPushError> {
        for result in results {
            match result {
                ClientSessionResult::OutboundResponse(packet) => {
                    self.out.extend_from_slice(&packet.bytes)
                }
                ClientSessionResult::RaisedEvent(event) => self.on_event(event)?,
                ClientSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    fn on_event(&mut self, event: ClientSessionEvent) -> Result<(), RtmpPushError> {
        let metadata = self.metadata();
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        match event {
            ClientSessionEvent::ConnectionRequestAccepted => {
                let publish = session
                    .request_publishing(self.target.stream.clone(), PublishRequestType::Live)
                    .map_err(session_error)?;
                self.apply(vec![publish])
            }
            ClientSessionEvent::ConnectionRequestRejected { description } => {
                Err(RtmpPushError::Refused {
                    app: self.target.app.clone(),
                    why: description,
                })
            }
            ClientSessionEvent::PublishRequestAccepted => {
                self.phase = Phase::Publishing;
                let sent = session.publish_metadata(&metadata).map_err(session_error)?;
                self.apply(vec![sent])
            }
            // A refused or cut publish comes as NetStream.Publish.BadName and the like.
            ClientSessionEvent::UnhandleableOnStatusCode { code } if code.contains("Publish") => {
                Err(RtmpPushError::PublishStatus(code))
            }
            _ => Ok(()),
        }
    }

    fn metadata(&self) -> StreamMetadata {
        let mut m = StreamMetadata::new();
        m.video_width = Some(self.stream.width);
        m.video_height = Some(self.stream.height);
        m.video_codec_id = Some(7);
        m.video_frame_rate = Some(self.stream.fps as f32);
        m.video_bitrate_kbps = Some(self.stream.bitrate_bps / 1000);
        m.encoder = Some(format!("rtcbench {}", env!("CARGO_PKG_VERSION")));
        m
    }

    /// One frame; before publishing, and after a change of decoder configuration until the
    /// key frame that carries it, frames are dropped as an encoder's would be.
    pub fn send_frame(&mut self, frame: &AccessUnit) -> Result<(), RtmpPushError> {
        let publishing = self.is_publishing();
        let Some(session) = self.session.as_mut().filter(|_| publishing) else {
            self.frames_dropped += 1;
            return Ok(());
        };
        let timestamp = RtmpTimestamp::new(frame.pts_ms as u32);
        let mut packets = Vec::with_capacity(2);
        if frame.keyframe {
            if let Some(config) = DecoderConfig::from_annexb(&frame.annexb) {
                if self.announced.as_ref() != Some(&config) {
                    let tag = avc_config_tag(&config, 0);
                    packets.push(
                        session
                            .publish_video_data(Bytes::from(tag.data), timestamp, false)
                            .map_err(session_error)?,
                    );
                    self.announced = Some(config);
                }
            }
        }
        if self.announced.is_none() {
            self.frames_dropped += 1;
            return Ok(());
        }
        let nal_units = annexb_to_length_prefixed(&frame.annexb);
        let tag = avc_frame_tag(frame.keyframe, frame.pts_ms as u32, 0, &nal_units);
        packets.push(
            session
                .publish_video_data(Bytes::from(tag.data), timestamp, false)
                .map_err(session_error)?,
        );
        self.frames_sent += 1;
        self.apply(packets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_urls_split_into_app_and_stream_with_the_signature_kept() {
        let t =
            RtmpTarget::parse("rtmp://push.example.com/live/room-1?txSecret=ab&txTime=6F").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.app.as_str()),
            ("push.example.com", 1935, "live")
        );
        assert_eq!(t.stream, "room-1?txSecret=ab&txTime=6F");
        assert_eq!(t.tc_url, "rtmp://push.example.com/live");
        let t = RtmpTarget::parse("rtmp://127.0.0.1:19350/a/b/room").unwrap();
        assert_eq!(
            (t.port, t.app.as_str(), t.stream.as_str()),
            (19350, "a/b", "room")
        );
        for bad in [
            "http://x/live/a",
            "rtmp://x",
            "rtmp://x/live",
            "rtmp://x:p/live/a",
            "rtmp:///l/a",
        ] {
            assert!(RtmpTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
