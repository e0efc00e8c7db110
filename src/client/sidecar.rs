//! The sidecar protocol (docs/sidecar-protocol.md): JSON lines over a child process's stdio,
//! by which another client (a headless browser running a Web SDK, say) takes a session's part.
//! Messages are plain serde types; `Sidecar` runs the process and routes its events to the
//! session each names.

use super::lines::{next_line, Line, MAX_LINE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::{mpsc, oneshot};

/// The protocol version this build speaks.
pub const PROTOCOL: u32 = 1;
/// How long a sidecar may take to say `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the sidecar's stderr kept for error messages.
const STDERR_LINES: usize = 12;

/// Strings a command carries that must not be printed (tokens, app ids).
#[derive(Clone, Default, Serialize, PartialEq)]
#[serde(transparent)]
pub struct Credentials(pub BTreeMap<String, String>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VideoSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    Join {
        id: String,
        page: String,
        room: String,
        endpoints: BTreeMap<String, String>,
        credentials: Credentials,
        timeout_ms: u64,
    },
    Publish {
        id: String,
        video: VideoSpec,
        audio: bool,
    },
    Subscribe {
        id: String,
    },
    Leave {
        id: String,
    },
    Shutdown,
}

/// The client's own counters (WebRTC `inbound-rtp` names), cumulative since `subscribed`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ClientStats {
    pub packets_received: Option<u64>,
    pub packets_lost: Option<i64>,
    pub bytes_received: Option<u64>,
    pub jitter_ms: Option<f64>,
    pub frames_decoded: Option<u64>,
    pub frames_dropped: Option<u64>,
    pub freeze_count: Option<u64>,
    pub total_freezes_duration_ms: Option<f64>,
    pub frame_width: Option<u32>,
    pub frame_height: Option<u32>,
    pub marker_misses: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Ready {
        protocol: u32,
        client: String,
        #[serde(default)]
        version: String,
        #[serde(default)]
        pages: Vec<String>,
    },
    Joined {
        id: String,
        t_us: u64,
    },
    Published {
        id: String,
        t_us: u64,
    },
    Subscribed {
        id: String,
        t_us: u64,
    },
    FirstFrame {
        id: String,
        t_us: u64,
    },
    /// `[frame, capture_us, received_us, rendered_us]` of shown frames whose marker was read.
    Frames {
        id: String,
        samples: Vec<(u32, u64, u64, u64)>,
    },
    Stats {
        id: String,
        t_us: u64,
        #[serde(flatten)]
        stats: ClientStats,
    },
    Error {
        #[serde(default)]
        id: Option<String>,
        step: String,
        message: String,
    },
    Left {
        id: String,
    },
}

impl Event {
    pub fn session(&self) -> Option<&str> {
        match self {
            Event::Ready { .. } => None,
            Event::Error { id, .. } => id.as_deref(),
            Event::Joined { id, .. }
            | Event::Published { id, .. }
            | Event::Subscribed { id, .. }
            | Event::FirstFrame { id, .. }
            | Event::Frames { id, .. }
            | Event::Stats { id, .. }
            | Event::Left { id } => Some(id),
        }
    }
}

/// One line of a sidecar's stdout; the error names what was wrong with it.
pub fn parse_event(line: &str) -> Result<Event, String> {
    serde_json::from_str(line).map_err(|e| {
        let excerpt: String = line.chars().take(120).collect();
        format!("not a protocol {PROTOCOL} event ({e}): {excerpt}")
    })
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SidecarError {
    #[error("sidecar {command}: cannot start: {reason}")]
    Spawn { command: String, reason: String },
    #[error("sidecar {command}: no \"ready\" within {}s{}", READY_TIMEOUT.as_secs(), tail(.stderr))]
    NotReady {
        command: String,
        stderr: Vec<String>,
    },
    #[error("sidecar {command} speaks protocol {found}; this rtcbench speaks {PROTOCOL}")]
    Version { command: String, found: u32 },
    #[error("sidecar {command}: {reason}{}", tail(.stderr))]
    Broken {
        command: String,
        reason: String,
        stderr: Vec<String>,
    },
}

fn tail(stderr: &[String]) -> String {
    match stderr.is_empty() {
        true => String::new(),
        false => format!("; its stderr ended: {}", stderr.join(" | ")),
    }
}

/// What the sidecar said it is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub client: String,
    pub version: String,
    pub pages: Vec<String>,
}

type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>>;
/// The last lines of the sidecar's stderr.
type Tail = Arc<Mutex<VecDeque<String>>>;

fn tail_lines(tail: &Tail) -> Vec<String> {
    tail.lock()
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default()
}

/// A running sidecar process shared by a run's sessions.
pub struct Sidecar {
    command: String,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    routes: Routes,
    stderr: Tail,
    /// Why the sidecar stopped answering, once it has.
    gone: Arc<Mutex<Option<String>>>,
    child: Mutex<Option<Child>>,
    pub identity: Identity,
}

impl Sidecar {
    /// Starts `command` (program and arguments) and waits for its `ready`.
    pub async fn start(command: &[String]) -> Result<Arc<Sidecar>, SidecarError> {
        let shown = command.join(" ");
        let (program, args) = command.split_first().ok_or_else(|| SidecarError::Spawn {
            command: shown.clone(),
            reason: "the command is empty".into(),
        })?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SidecarError::Spawn {
                command: shown.clone(),
                reason: e.to_string(),
            })?;
        let stderr_lines = Tail::default();
        if let Some(err) = child.stderr.take() {
            let keep = stderr_lines.clone();
            tokio::spawn(async move {
                let mut err = BufReader::new(err);
                while let Ok(Some(line)) = next_line(&mut err, MAX_LINE).await {
                    let line = match line {
                        Line::Text(text) => text,
                        Line::TooLong => format!("(a line over {MAX_LINE} bytes, dropped)"),
                    };
                    if let Ok(mut k) = keep.lock() {
                        if k.len() == STDERR_LINES {
                            k.pop_front();
                        }
                        k.push_back(line);
                    }
                }
            });
        }
        let routes: Routes = Arc::default();
        let gone = Arc::new(Mutex::new(None));
        let (ready_tx, ready_rx) = oneshot::channel();
        let stdout = child.stdout.take().ok_or_else(|| SidecarError::Spawn {
            command: shown.clone(),
            reason: "no stdout".into(),
        })?;
        tokio::spawn(read_events(stdout, routes.clone(), gone.clone(), ready_tx));
        let identity = match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
            Ok(Ok(Ok(identity))) => identity,
            Ok(Ok(Err(found))) => {
                return Err(SidecarError::Version {
                    command: shown,
                    found,
                })
            }
            _ => {
                // Give stderr a moment to drain: the reason is usually there.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Err(SidecarError::NotReady {
                    command: shown,
                    stderr: tail_lines(&stderr_lines),
                });
            }
        };
        Ok(Arc::new(Sidecar {
            command: shown,
            stdin: tokio::sync::Mutex::new(child.stdin.take()),
            routes,
            stderr: stderr_lines,
            gone,
            child: Mutex::new(Some(child)),
            identity,
        }))
    }

    /// Registers session `id`; its events arrive on the returned channel, which closes when
    /// the sidecar exits.
    pub fn open(&self, id: &str) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut r) = self.routes.lock() {
            // The reader marks the sidecar gone before it clears the routes: a session opened
            // after that gets a closed channel, not one nobody will ever close.
            let gone = self.gone.lock().map(|g| g.is_some()).unwrap_or(true);
            if !gone {
                r.insert(id.to_string(), tx);
            }
        }
        rx
    }

    pub fn close(&self, id: &str) {
        if let Ok(mut r) = self.routes.lock() {
            r.remove(id);
        }
    }

    pub async fn send(&self, command: &Command) -> Result<(), SidecarError> {
        let line = serde_json::to_string(command).map_err(|e| self.broken(e.to_string()))?;
        self.send_line(&line).await
    }

    /// Sends one line as it is: for conformance checks that send what rtcbench never would.
    pub async fn send_line(&self, line: &str) -> Result<(), SidecarError> {
        let line = format!("{line}\n");
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else {
            return Err(self.broken("its stdin is closed".into()));
        };
        pipe.write_all(line.as_bytes())
            .await
            .map_err(|e| self.broken(format!("writing a command: {e}")))
    }

    /// The error for a sidecar that stopped answering, with the end of its stderr.
    pub fn broken(&self, reason: String) -> SidecarError {
        let reason = self
            .gone
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or(reason);
        SidecarError::Broken {
            command: self.command.clone(),
            reason,
            stderr: tail_lines(&self.stderr),
        }
    }

    /// Sends `shutdown`, closes stdin and waits up to `grace` for the process to exit (then
    /// kills it); returns its exit code if it exited by itself.
    pub async fn shutdown(&self, grace: Duration) -> Option<i32> {
        let _ = self.send(&Command::Shutdown).await;
        self.stdin.lock().await.take();
        let child = self.child.lock().ok().and_then(|mut c| c.take());
        let mut child = child?;
        match tokio::time::timeout(grace, child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                let _ = child.kill().await;
                None
            }
        }
    }
}

/// Reads events until the sidecar's stdout ends: the first must be `ready`; the rest go to the
/// session they name. An event without a session (a fatal error) goes to every session.
async fn read_events(
    stdout: tokio::process::ChildStdout,
    routes: Routes,
    gone: Arc<Mutex<Option<String>>>,
    ready: oneshot::Sender<Result<Identity, u32>>,
) {
    let mut ready = Some(ready);
    let mut stdout = BufReader::new(stdout);
    let mut why = "it exited".to_string();
    loop {
        let line = match next_line(&mut stdout, MAX_LINE).await {
            Ok(Some(Line::Text(line))) => line,
            Ok(Some(Line::TooLong)) => {
                why = format!("it wrote a line over the {MAX_LINE}-byte limit");
                break;
            }
            Ok(None) => break,
            Err(e) => {
                why = format!("reading its output: {e}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let event = match parse_event(&line) {
            Ok(e) => e,
            Err(e) => {
                why = e;
                break;
            }
        };
        if let Event::Ready {
            protocol,
            client,
            version,
            pages,
        } = event
        {
            if let Some(tx) = ready.take() {
                let _ = tx.send(match protocol == PROTOCOL {
                    true => Ok(Identity {
                        client,
                        version,
                        pages,
                    }),
                    false => Err(protocol),
                });
            }
            continue;
        }
        let Ok(r) = routes.lock() else { break };
        match event.session() {
            Some(id) => {
                if let Some(tx) = r.get(id) {
                    let _ = tx.send(event);
                }
            }
            None => {
                for tx in r.values() {
                    let _ = tx.send(event.clone());
                }
            }
        }
    }
    if let Ok(mut g) = gone.lock() {
        *g = Some(why);
    }
    // Dropping the senders closes every session's channel.
    if let Ok(mut r) = routes.lock() {
        r.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_the_documented_json_and_credentials_do_not_print() {
        let join = Command::Join {
            id: "room/r001".into(),
            page: "whip-whep".into(),
            room: "r".into(),
            endpoints: BTreeMap::from([("whep_url".into(), "http://h/whep/r".into())]),
            credentials: Credentials(BTreeMap::from([("token".into(), "s3cret".into())])),
            timeout_ms: 10_000,
        };
        let json = serde_json::to_string(&join).unwrap();
        assert_eq!(
            json,
            r#"{"cmd":"join","id":"room/r001","page":"whip-whep","room":"r","endpoints":{"whep_url":"http://h/whep/r"},"credentials":{"token":"s3cret"},"timeout_ms":10000}"#
        );
        assert!(!format!("{join:?}").contains("s3cret"));
        assert_eq!(
            serde_json::to_string(&Command::Shutdown).unwrap(),
            r#"{"cmd":"shutdown"}"#
        );
    }

    #[test]
    fn events_parse_with_unknown_fields_and_bad_lines_are_named() {
        let e = parse_event(r#"{"event":"frames","id":"a","samples":[[7,100,150,160]],"x":1}"#);
        assert_eq!(
            e,
            Ok(Event::Frames {
                id: "a".into(),
                samples: vec![(7, 100, 150, 160)]
            })
        );
        let s =
            parse_event(r#"{"event":"stats","id":"a","t_us":5,"packets_lost":3,"jitter_ms":1.5}"#)
                .unwrap();
        let Event::Stats { stats, .. } = s else {
            panic!("{s:?}")
        };
        assert_eq!((stats.packets_lost, stats.jitter_ms), (Some(3), Some(1.5)));
        let fatal = parse_event(r#"{"event":"error","step":"protocol","message":"boom"}"#).unwrap();
        assert_eq!(fatal.session(), None);
        let bad = parse_event("{\"event\":\"joined\"}").unwrap_err();
        assert!(
            bad.contains("missing field `id`") && bad.contains("joined"),
            "{bad}"
        );
        assert!(parse_event("hello").unwrap_err().contains("hello"));
    }
}
