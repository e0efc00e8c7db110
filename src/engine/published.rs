//! Publisher first: a room's viewers (and a call's callee) dial once its publisher is published,
//! as an app only shows a stream that is live. Otherwise a viewer whose planned instant is the
//! publisher's can reach the server first and be refused (MediaMTX, SRS and Medooze's fronts
//! answer 404 or 400), which measures the race, not the provider.
//!
//! In a sharded run the publisher may run on another shard: its publication is announced to
//! the others through [`Elsewhere`] (shard 0's coordinator), and viewers here wait on that.

use crate::base::Micros;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// Publications shared with the other shards of a run (their clocks are all corrected to the
/// reference clock, so instants compare).
pub trait Elsewhere: Send + Sync {
    /// Tells the other shards that `room` was published at `at`.
    fn announce(&self, room: &str, at: Micros);
    /// When `room` was published on some shard; `None` if not by `deadline`.
    fn wait(
        &self,
        room: String,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Option<Micros>> + Send + 'static>>;
}

/// The shared publications of a run, if it is sharded.
pub type Relay = Option<Arc<dyn Elsewhere>>;

/// This process's publications by provider room, so a group that watches another group's
/// publisher (a CDN audience) dials once it is published, as that group's own viewers do.
#[derive(Clone, Default)]
pub struct Publications(Arc<std::sync::Mutex<std::collections::HashMap<String, Published>>>);

impl Publications {
    /// The publication into `room` made here (the same one for every group that asks).
    pub(super) fn here(&self, relay: &Relay, room: &str) -> Published {
        match self.0.lock() {
            Ok(mut all) => all
                .entry(room.to_string())
                .or_insert_with(|| Published::here(relay, room))
                .clone(),
            Err(_) => Published::here(relay, room),
        }
    }
}

#[derive(Clone)]
enum Source {
    /// Published from this process (and announced to the other shards, if any).
    Here {
        at: Arc<watch::Sender<Option<Micros>>>,
        announce: Option<(Arc<dyn Elsewhere>, String)>,
    },
    /// Published on another shard.
    There {
        relay: Arc<dyn Elsewhere>,
        room: String,
    },
}

/// When a room's publisher was published (its WHIP or join answered), once it was.
#[derive(Clone)]
pub(super) struct Published {
    source: Source,
}

impl Published {
    /// A publication made here, in a run of one process.
    #[cfg(test)]
    fn new() -> Self {
        Self {
            source: Source::Here {
                at: Arc::new(watch::Sender::new(None)),
                announce: None,
            },
        }
    }

    /// A publication made here into `room`, announced to the other shards through `relay`.
    pub(super) fn here(relay: &Relay, room: &str) -> Self {
        Self {
            source: Source::Here {
                at: Arc::new(watch::Sender::new(None)),
                announce: relay.clone().map(|r| (r, room.to_string())),
            },
        }
    }

    /// The publication into `room` another shard makes, when the run is sharded.
    pub(super) fn there(relay: &Relay, room: &str) -> Option<Self> {
        relay.clone().map(|relay| Self {
            source: Source::There {
                relay,
                room: room.to_string(),
            },
        })
    }

    /// The first publication counts; a publisher that rejoins was already live.
    pub(super) fn mark(&self, at: Micros) {
        let Source::Here {
            at: sender,
            announce,
        } = &self.source
        else {
            return;
        };
        let first = sender.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(at);
            }
            first
        });
        if let (true, Some((relay, room))) = (first, announce) {
            relay.announce(room, at);
        }
    }

    /// Waits until the publisher is published, `deadline` passes or the run stops; returns the
    /// instant it was published, if it was.
    pub(super) async fn wait(
        &self,
        deadline: Instant,
        mut stop: watch::Receiver<bool>,
    ) -> Option<Micros> {
        let published: Pin<Box<dyn Future<Output = Option<Micros>> + Send>> = match &self.source {
            Source::Here { at, .. } => {
                let mut at = at.subscribe();
                Box::pin(async move { at.wait_for(Option::is_some).await.ok().and_then(|v| *v) })
            }
            Source::There { relay, room } => relay.wait(room.clone(), deadline),
        };
        tokio::select! {
            v = published => v,
            _ = tokio::time::sleep_until(deadline.into()) => None,
            _ = stop.wait_for(|s| *s) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test]
    async fn a_viewer_waits_for_the_first_publication_only() {
        let published = Published::new();
        let (_tx, stop) = watch::channel(false);
        let marker = published.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            marker.mark(1_000);
            marker.mark(2_000);
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(published.wait(deadline, stop).await, Some(1_000));
    }

    #[tokio::test]
    async fn waiting_ends_at_the_deadline_when_nothing_is_published() {
        let (_tx, stop) = watch::channel(false);
        let deadline = Instant::now() + Duration::from_millis(30);
        let published = Published::new();
        assert_eq!(published.wait(deadline, stop).await, None);
    }

    /// Shards sharing one table of publications, as the coordinator keeps it.
    #[derive(Default)]
    struct Board(Mutex<HashMap<String, watch::Sender<Option<Micros>>>>);

    impl Board {
        fn slot(&self, room: &str) -> watch::Sender<Option<Micros>> {
            let mut rooms = self.0.lock().unwrap();
            rooms
                .entry(room.to_string())
                .or_insert_with(|| watch::Sender::new(None))
                .clone()
        }
    }

    impl Elsewhere for Board {
        fn announce(&self, room: &str, at: Micros) {
            self.slot(room).send_replace(Some(at));
        }
        fn wait(
            &self,
            room: String,
            _deadline: Instant,
        ) -> Pin<Box<dyn Future<Output = Option<Micros>> + Send + 'static>> {
            let mut rx = self.slot(&room).subscribe();
            Box::pin(async move { rx.wait_for(Option::is_some).await.ok().and_then(|v| *v) })
        }
    }

    #[tokio::test]
    async fn a_viewer_on_another_shard_waits_for_the_announced_publication() {
        let relay: Relay = Some(Arc::new(Board::default()));
        let (_tx, stop) = watch::channel(false);
        let there = Published::there(&relay, "room-a").unwrap();
        let here = Published::here(&relay, "room-a");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            here.mark(7_000);
            here.mark(9_000);
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(there.wait(deadline, stop).await, Some(7_000));
        assert!(Published::there(&None, "room-a").is_none());
    }
}
