//! The HTTP endpoint of `--metrics` and `--dashboard`: `/metrics` (OpenMetrics), `/` (the
//! live page) and `/live.json` (what the page draws).
//!
//! It runs on a thread and runtime of its own at a lower CPU priority, so scrapers compete
//! with the run only for spare CPU, never for its runtime's workers. A reading is made at most
//! every [`FRESH_FOR`] and shared by every scrape in that time, connections are capped, and a
//! connection is closed [`CONNECTION_LIFETIME`] after it was accepted, however slowly its
//! reader reads.

use super::{page, Telemetry};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A reading younger than this is served again rather than made anew.
pub const FRESH_FOR: Duration = Duration::from_millis(250);
/// Connections served at once; more wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 64;
/// How long any one connection may stay open.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);
/// The nice value of the endpoint's thread.
const NICE: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        addr: String,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("cannot start the {what} endpoint: {source}")]
    Start {
        what: &'static str,
        source: std::io::Error,
    },
}

/// A running endpoint; dropping it stops it.
pub struct Endpoint {
    pub addr: SocketAddr,
    scrapes: Arc<AtomicU64>,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    /// `/metrics` requests answered so far.
    pub fn scrapes(&self) -> u64 {
        self.scrapes.load(Ordering::Relaxed)
    }

    /// Forgets the shared reading: the next scrape reads the run anew (its final figures).
    pub fn refresh(&self) {
        if let Ok(mut c) = self.state.cached.lock() {
            *c = None;
        }
    }

    /// Waits until `/metrics` is read once more than `seen` times, for at most `up_to`: the
    /// last reading of a finished run reaches the scraper.
    pub fn wait_for_scrape_after(&self, seen: u64, up_to: Duration) -> bool {
        let until = Instant::now() + up_to;
        while Instant::now() < until {
            if self.scrapes() > seen {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.scrapes() > seen
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    telemetry: Arc<Telemetry>,
    scrapes: Arc<AtomicU64>,
    cached: Mutex<Option<(Instant, Bytes)>>,
}

impl State {
    fn reading(&self) -> Bytes {
        let now = Instant::now();
        if let Ok(mut cached) = self.cached.lock() {
            if let Some((at, text)) = cached.as_ref() {
                if now.duration_since(*at) < FRESH_FOR {
                    return text.clone();
                }
            }
            let text = Bytes::from(self.telemetry.openmetrics());
            *cached = Some((now, text.clone()));
            return text;
        }
        Bytes::from(self.telemetry.openmetrics())
    }
}

/// Listens on `addr` and serves until the returned endpoint is dropped.
pub fn start(
    addr: &str,
    telemetry: Arc<Telemetry>,
    what: &'static str,
) -> Result<Endpoint, ServeError> {
    let bind = |source| ServeError::Bind {
        addr: addr.to_string(),
        what,
        source,
    };
    let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
    std_listener.set_nonblocking(true).map_err(bind)?;
    let local = std_listener.local_addr().map_err(bind)?;
    let scrapes = Arc::new(AtomicU64::new(0));
    let state = Arc::new(State {
        telemetry,
        scrapes: scrapes.clone(),
        cached: Mutex::new(None),
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("rtcbench-telemetry".into())
        .spawn({
            let state = state.clone();
            move || serve_on_own_runtime(std_listener, state, stop_rx)
        })
        .map_err(|source| ServeError::Start { what, source })?;
    Ok(Endpoint {
        addr: local,
        scrapes,
        state,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

fn serve_on_own_runtime(
    listener: std::net::TcpListener,
    state: Arc<State>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    // SAFETY: setpriority on this thread's id only lowers its own priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("telemetry: cannot start a runtime; the endpoint is not served");
        return;
    };
    runtime.block_on(async move {
        let Ok(listener) = TcpListener::from_std(listener) else {
            eprintln!("telemetry: cannot use the listening socket; the endpoint is not served");
            return;
        };
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/live.json", get(live_json))
            .route("/", get(page_html))
            .with_state(state);
        let capped = Capped {
            listener,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        };
        // Not a graceful shutdown: a slow reader must not hold the run's exit.
        let serving = std::future::IntoFuture::into_future(axum::serve(capped, router));
        tokio::select! {
            _ = serving => {}
            _ = stop => {}
        }
    });
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> impl IntoResponse {
    state.scrapes.fetch_add(1, Ordering::Relaxed);
    let text = state.reading();
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn live_json(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> impl IntoResponse {
    let body = page::live_json(&state.telemetry);
    ([(CONTENT_TYPE, "application/json")], body)
}

async fn page_html() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], page::HTML)
}

/// A listener that serves at most [`MAX_CONNECTIONS`] at once, each for a bounded time.
struct Capped {
    listener: TcpListener,
    slots: Arc<Semaphore>,
}

impl axum::serve::Listener for Capped {
    type Io = Bounded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                // The semaphore is never closed; wait as if full.
                std::future::pending::<()>().await;
                continue;
            };
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = Bounded {
                        stream,
                        deadline: Box::pin(tokio::time::sleep(CONNECTION_LIFETIME)),
                        _permit: permit,
                    };
                    return (io, addr);
                }
                // Out of descriptors, say: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A connection that fails once its lifetime is over, whether it is reading or writing.
struct Bounded {
    stream: TcpStream,
    deadline: Pin<Box<tokio::time::Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl Bounded {
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out<T>() -> Poll<std::io::Result<T>> {
    Poll::Ready(Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "telemetry connection open too long",
    )))
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.expired(cx) {
            return timed_out();
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.expired(cx) {
            return timed_out();
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.expired(cx) {
            return timed_out();
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
