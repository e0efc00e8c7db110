//! Faults the reference SFU can be told to have, on a schedule: a restart (every session
//! lost, nothing answered until it is back) and signalling that fails or hangs for a while.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, RwLock};
use std::time::Instant;

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
#[derive(Debug, Clone, Default)]
pub struct FaultSchedule(Arc<RwLock<Vec<ServerFault>>>);

impl FaultSchedule {
    pub fn set(&self, faults: Vec<ServerFault>) {
        if let Ok(mut f) = self.0.write() {
            *f = faults;
        }
    }

    fn active(&self, now: Instant) -> Option<ServerFault> {
        self.0.read().ok()?.iter().find(|f| f.covers(now)).copied()
    }

    /// Whether the server is down (restarting) at `now`.
    pub fn down_at(&self, now: Instant) -> bool {
        self.0.read().is_ok_and(|f| {
            f.iter()
                .any(|f| f.kind == ServerFaultKind::Restart && f.covers(now))
        })
    }

    /// The next instant after `now` at which a restart begins or ends.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let faults = self.0.read().ok()?;
        faults
            .iter()
            .filter(|f| f.kind == ServerFaultKind::Restart)
            .flat_map(|f| [f.from, f.to])
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
