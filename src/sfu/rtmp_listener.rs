//! The reference server's RTMP ingest on a socket: each connection is an [`RtmpIngest`] fed
//! from TCP (reads bounded by the session's own limits), its publish admitted by the SFU's loop
//! (a room has one publisher, WHIP or RTMP), its frames handed to that loop, and its room
//! ended when the connection closes.

use super::live_out::rtmp_in::{Ingested, RtmpIngest};
use super::server::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// A publisher that sends nothing for this long is dropped, as ingest servers time out.
const IDLE: Duration = Duration::from_secs(20);

pub(super) async fn serve(listener: TcpListener, commands: mpsc::Sender<Command>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, commands.clone()));
    }
}

async fn connection(mut stream: TcpStream, commands: mpsc::Sender<Command>) {
    let mut ingest = RtmpIngest::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut room: Option<String> = None;
    loop {
        let n = match tokio::time::timeout(IDLE, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        let Ok(events) = ingest.handle_input(&buf[..n]) else {
            break;
        };
        for event in events {
            match event {
                Ingested::PublishRequested {
                    request,
                    room: wanted,
                } => {
                    let (reply, answer) = oneshot::channel();
                    let start = Command::IngestStart {
                        room: wanted.clone(),
                        reply,
                    };
                    let admitted =
                        commands.send(start).await.is_ok() && matches!(answer.await, Ok(Ok(())));
                    let answered = if admitted {
                        room = Some(wanted.clone());
                        ingest.accept(request, &wanted)
                    } else {
                        ingest.refuse(request, "the room is live already")
                    };
                    if answered.is_err() {
                        break;
                    }
                }
                Ingested::Frame { room, frame } => {
                    if commands
                        .send(Command::IngestFrame { room, frame })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Ingested::Unpublished { room: ended } => {
                    let _ = commands.send(Command::IngestEnd { room: ended }).await;
                    room = None;
                }
            }
        }
        let out = ingest.take_output();
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            break;
        }
    }
    if let Some(room) = room {
        let _ = commands.send(Command::IngestEnd { room }).await;
    }
}
