//! One RTMP push connection on a socket: TCP to the ingest, the [`RtmpPublisher`] fed from it,
//! and the sender's frames captured on schedule and written as they are encoded. A write that
//! cannot complete within the step timeout (the ingest stopped reading) ends the connection,
//! as an encoder's send buffer overflowing does; the caller reconnects.

use super::rtmp_push::{PushedStream, RtmpPublisher, RtmpPushError, RtmpTarget};
use crate::base::{Micros, WallClock};
use crate::media::sender::MediaSender;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum PushLinkError {
    #[error("cannot reach the RTMP ingest {addr}: {why}")]
    Connect { addr: String, why: String },
    #[error("the RTMP ingest did not take the publish within {0:?}")]
    NotPublished(Duration),
    #[error("the RTMP ingest closed the connection")]
    Closed,
    #[error("the RTMP ingest stopped reading: a write did not complete within {0:?}")]
    Stalled(Duration),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Rtmp(#[from] RtmpPushError),
    #[error("encoder: {0}")]
    Encoder(String),
}

/// A push connection's limits and where it reports.
pub struct PushSpan {
    pub clock: WallClock,
    pub until: Instant,
    pub stop: watch::Receiver<bool>,
    pub step_timeout: Duration,
}

/// Pushes `sender`'s frames to `target` until the span ends or is stopped (`Ok`), or the
/// connection fails;
/// `on_published` is told when the ingest took the publish.
pub async fn push_connection(
    target: &RtmpTarget,
    stream: PushedStream,
    sender: &mut MediaSender,
    span: &mut PushSpan,
    on_published: &mut impl FnMut(Micros),
) -> Result<(), PushLinkError> {
    let addr = format!("{}:{}", target.host, target.port);
    let connect = TcpStream::connect(addr.as_str());
    let mut socket = match tokio::time::timeout(span.step_timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(PushLinkError::Connect {
                addr,
                why: e.to_string(),
            })
        }
        Err(_) => {
            let why = format!("no connection within {:?}", span.step_timeout);
            return Err(PushLinkError::Connect { addr, why });
        }
    };
    let _ = socket.set_nodelay(true);
    let mut publisher = RtmpPublisher::new(target.clone(), stream)?;
    let publish_by = Instant::now() + span.step_timeout;
    let mut buf = vec![0u8; 16 * 1024];
    let mut published = false;
    loop {
        let out = publisher.take_output();
        if !out.is_empty() {
            match tokio::time::timeout(span.step_timeout, socket.write_all(&out)).await {
                Ok(r) => r?,
                Err(_) => return Err(PushLinkError::Stalled(span.step_timeout)),
            }
        }
        if !published && publisher.is_publishing() {
            published = true;
            // The stream opens on a key frame, not on the rest of the GOP in progress.
            sender.request_keyframe();
            on_published(span.clock.now());
        }
        if !published && Instant::now() >= publish_by {
            return Err(PushLinkError::NotPublished(span.step_timeout));
        }
        let capture_at = span.clock.instant_of(sender.poll_timeout());
        let wake = if published {
            capture_at
        } else {
            capture_at.min(publish_by)
        };
        tokio::select! {
            read = socket.read(&mut buf) => match read? {
                0 => return Err(PushLinkError::Closed),
                n => publisher.handle_input(&buf[..n])?,
            },
            _ = tokio::time::sleep_until(wake.into()) => {
                sender
                    .handle_timeout(span.clock.now())
                    .map_err(|e| PushLinkError::Encoder(e.to_string()))?;
                while let Some(frame) = sender.poll_access_unit() {
                    publisher.send_frame(&frame)?;
                }
            }
            _ = tokio::time::sleep_until(span.until.into()) => return Ok(()),
            _ = span.stop.changed() => return Ok(()),
        }
    }
}
