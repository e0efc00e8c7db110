//! Drives rooms through time: instantly in simulated time, or against the wall clock.

use super::room::Room;
use crate::base::Micros;
use crate::base::WallClock;
use crate::media::codec::CodecError;
use tokio::sync::watch;

/// Runs a room to its end in simulated time: each step jumps to the next event, so the outcome
/// depends only on the plan and seeds, not on how fast this machine is.
pub fn run_simulated(room: &mut Room) -> Result<(), CodecError> {
    while !room.is_done() {
        let now = room.poll_timeout();
        room.handle_timeout(now)?;
        room.transmit(now);
    }
    Ok(())
}

/// Runs a room in real time until its end or until `stop` turns true; returns when it stopped.
pub async fn run_realtime(
    room: &mut Room,
    clock: WallClock,
    mut stop: watch::Receiver<bool>,
) -> Result<Micros, CodecError> {
    while !room.is_done() {
        let due = room.poll_timeout();
        if *stop.borrow() {
            return Ok(clock.now());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(clock.instant_of(due).into()) => {}
            _ = stop.changed() => return Ok(clock.now()),
        }
        room.handle_timeout(clock.now())?;
        // Encoding took real time: packets leave when it is done, as they would from an SDK.
        room.transmit(clock.now());
    }
    Ok(room.end())
}
