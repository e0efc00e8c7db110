//! Who is in each room, across every worker of the SFU: a second publisher, a viewer beyond the
//! room's cap, or a viewer of an unpublished room is refused the same whichever worker would take
//! it. Taken only on joins and leaves, never per datagram.

use super::{SfuError, Side};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default, Clone)]
struct RoomCount {
    publishers: usize,
    viewers: usize,
    /// The stream ids of its publisher's simulcast layers, smallest first; empty without.
    layer_rids: Vec<String>,
}

/// Shared by the workers of one server.
#[derive(Debug, Default, Clone)]
pub(super) struct Census(Arc<Mutex<HashMap<String, RoomCount>>>);

/// What a room admits besides its one publisher.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Admission {
    pub max_viewers: Option<usize>,
    pub no_viewers_before_publisher: bool,
}

impl Census {
    fn rooms(&self) -> MutexGuard<'_, HashMap<String, RoomCount>> {
        // A worker that panicked mid-update leaves counts that are still whole numbers.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a peer into `room` if the room takes it; checked and counted at once, so two
    /// workers cannot both take the last place.
    pub fn admit(&self, room: &str, side: Side, rules: Admission) -> Result<(), SfuError> {
        let mut rooms = self.rooms();
        let (publishers, viewers) = rooms
            .get(room)
            .map_or((0, 0), |c| (c.publishers, c.viewers));
        match side {
            Side::Publisher if publishers > 0 => return Err(SfuError::RoomTaken(room.to_string())),
            Side::Subscriber if publishers == 0 && rules.no_viewers_before_publisher => {
                return Err(SfuError::NotPublished(room.to_string()))
            }
            Side::Subscriber => {
                if let Some(max) = rules.max_viewers.filter(|&max| viewers >= max) {
                    return Err(SfuError::RoomFull(room.to_string(), max));
                }
            }
            Side::Publisher => {}
        }
        let entry = rooms.entry(room.to_string()).or_default();
        match side {
            Side::Publisher => entry.publishers += 1,
            Side::Subscriber => entry.viewers += 1,
        }
        Ok(())
    }

    /// Counts a peer out of `room` (it left, failed to negotiate, or its worker restarted).
    /// Notes the stream ids of the room's (admitted) publisher's simulcast layers, smallest
    /// first (none when it sends one layer).
    pub fn mark_layers(&self, room: &str, rids: Vec<String>) {
        if let Some(count) = self.rooms().get_mut(room) {
            count.layer_rids = rids;
        }
    }

    pub fn is_simulcast(&self, room: &str) -> bool {
        self.rooms()
            .get(room)
            .is_some_and(|c| !c.layer_rids.is_empty())
    }

    /// The stream ids of the room's simulcast layers, smallest first.
    pub fn layer_rids(&self, room: &str) -> Vec<String> {
        self.rooms()
            .get(room)
            .map(|c| c.layer_rids.clone())
            .unwrap_or_default()
    }

    pub fn left(&self, room: &str, side: Side) {
        let mut rooms = self.rooms();
        let Some(count) = rooms.get_mut(room) else {
            return;
        };
        match side {
            Side::Publisher => {
                count.publishers = count.publishers.saturating_sub(1);
                count.layer_rids.clear();
            }
            Side::Subscriber => count.viewers = count.viewers.saturating_sub(1),
        }
        if count.publishers == 0 && count.viewers == 0 {
            rooms.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_takes_one_publisher_and_its_cap_of_viewers_across_workers() {
        let census = Census::default();
        let (a, b) = (census.clone(), census.clone());
        let rules = Admission {
            max_viewers: Some(2),
            no_viewers_before_publisher: true,
        };
        assert!(matches!(
            a.admit("r", Side::Subscriber, rules),
            Err(SfuError::NotPublished(_))
        ));
        a.admit("r", Side::Publisher, rules).unwrap();
        assert!(matches!(
            b.admit("r", Side::Publisher, rules),
            Err(SfuError::RoomTaken(_))
        ));
        a.admit("r", Side::Subscriber, rules).unwrap();
        b.admit("r", Side::Subscriber, rules).unwrap();
        assert!(matches!(
            b.admit("r", Side::Subscriber, rules),
            Err(SfuError::RoomFull(_, 2))
        ));
        a.left("r", Side::Subscriber);
        b.admit("r", Side::Subscriber, rules).unwrap();
        b.left("r", Side::Publisher);
        b.admit("r", Side::Publisher, rules).unwrap();
    }
}
