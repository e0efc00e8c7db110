//! Faults the reference SFU can be told to have, on a schedule: a restart (every session
//! lost, nothing answered until it is back) and signalling that fails or hangs for a while.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFaultKind {
    /// Down from the window's start, back empty at its end.
    Restart,
    /// WHIP/WHEP requests are answered with this status.
    SignallingError(u16),
    /// WHIP/WHEP requests are held until the window ends, then answered 504.
    SignallingTimeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerFault {
    pub kind: ServerFaultKind,
    pub from: Instant,
    pub to: Instant,
}

impl ServerFault {
    fn covers(&self, now: Instant) -> bool {
        now >= self.from && now < self.to
    }
}

/// The faults a running server is to have; shared by its media loop and its HTTP front.
#[derive(Debug, Clone)]
pub struct FaultSchedule(Arc<watch::Sender<Vec<ServerFault>>>);

impl Default for FaultSchedule {
    fn default() -> Self {
        Self(Arc::new(watch::channel(Vec::new()).0))
    }
}

impl FaultSchedule {
    pub fn set(&self, faults: Vec<ServerFault>) {
        self.0.send_replace(faults);
    }

    fn active(&self, now: Instant) -> Option<ServerFault> {
        self.0.borrow().iter().find(|f| f.covers(now)).copied()
    }

    /// The restart windows as the media loop follows them: a copy of its own, taken again only
    /// when the schedule changes, so no datagram waits on a lock.
    pub fn restarts(&self) -> Restarts {
        let mut r = Restarts {
            schedule: self.0.subscribe(),
            windows: Vec::new(),
        };
        r.take_windows();
        r
    }
}

pub struct Restarts {
    schedule: watch::Receiver<Vec<ServerFault>>,
    windows: Vec<(Instant, Instant)>,
}

impl Restarts {
    fn take_windows(&mut self) {
        self.windows = self
            .schedule
            .borrow_and_update()
            .iter()
            .filter(|f| f.kind == ServerFaultKind::Restart)
            .map(|f| (f.from, f.to))
            .collect();
    }

    /// Whether the server is down (restarting) at `now`.
    pub fn down_at(&mut self, now: Instant) -> bool {
        if self.schedule.has_changed().unwrap_or(false) {
            self.take_windows();
        }
        self.windows
            .iter()
            .any(|&(from, to)| now >= from && now < to)
    }

    /// The next instant after `now` at which a restart begins or ends.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        self.windows
            .iter()
            .flat_map(|&(from, to)| [from, to])
            .filter(|&t| t > now)
            .min()
    }
}

/// The HTTP front of a server with faults: what a load balancer in front of a restarting
/// process, or a failing signalling tier, answers.
pub async fn gate(State(faults): State<FaultSchedule>, request: Request, next: Next) -> Response {
    let Some(fault) = faults.active(Instant::now()) else {
        return next.run(request).await;
    };
    match fault.kind {
        ServerFaultKind::Restart => {
            (StatusCode::SERVICE_UNAVAILABLE, "the server is restarting").into_response()
        }
        ServerFaultKind::SignallingError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            (status, "signalling fault injected by rtcbench").into_response()
        }
        ServerFaultKind::SignallingTimeout => {
            tokio::time::sleep_until(fault.to.into()).await;
            (StatusCode::GATEWAY_TIMEOUT, "signalling held by rtcbench").into_response()
        }
    }
}
