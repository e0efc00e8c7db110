//! A lost connection's aftermath: the pause before each rejoin attempt, and counting drops,
//! rejoins and failed rejoins both in the session's figures and in the live view.

use super::webrtc::Ctx;
use crate::client::native::Role as PeerRole;
use crate::media::receiver::Reconnects;
use crate::scenario::faults::ReconnectMode;
use std::time::{Duration, Instant};

/// Counts a drop, rejoin or failed rejoin in the session's figures and, for a viewer, live.
pub(super) fn tally(
    ctx: &Ctx,
    role: &PeerRole,
    total: &mut Reconnects,
    change: impl Fn(&mut Reconnects),
) {
    change(total);
    if let PeerRole::Subscribe(r) = role {
        let mut one = Reconnects::default();
        change(&mut one);
        ctx.live.reconnect(&ctx.group, r.role, one);
    }
}

/// Waits before the next rejoin attempt; false when no attempt is left or time is up.
pub(super) async fn back_off(
    ctx: &Ctx,
    tries_left: &mut u32,
    wait: &mut Duration,
    until: Instant,
) -> bool {
    if ctx.reconnect.mode == ReconnectMode::None || *tries_left == 0 {
        return false;
    }
    *tries_left -= 1;
    let at = Instant::now() + *wait;
    if at >= until || *ctx.stop.borrow() {
        return false;
    }
    let mut stop = ctx.stop.clone();
    tokio::select! {
        _ = tokio::time::sleep_until(at.into()) => {}
        _ = stop.changed() => return false,
    }
    *wait *= 2;
    true
}
