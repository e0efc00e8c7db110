//! Publisher first: a room's viewers (and a call's callee) dial once its publisher is published,
//! as an app only shows a stream that is live. Otherwise a viewer whose planned instant is the
//! publisher's can reach the server first and be refused (MediaMTX, SRS and Medooze's fronts
//! answer 404 or 400), which measures the race, not the provider.

use crate::base::Micros;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// When a room's publisher was published (its WHIP or join answered), once it was.
#[derive(Clone)]
pub(super) struct Published {
    at: Arc<watch::Sender<Option<Micros>>>,
}

impl Published {
    pub(super) fn new() -> Self {
        Self {
            at: Arc::new(watch::Sender::new(None)),
        }
    }

    /// The first publication counts; a publisher that rejoins was already live.
    pub(super) fn mark(&self, at: Micros) {
        self.at.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(at);
            }
            first
        });
    }

    /// Waits until the publisher is published, `deadline` passes or the run stops; returns the
    /// instant it was published, if it was.
    pub(super) async fn wait(
        &self,
        deadline: Instant,
        mut stop: watch::Receiver<bool>,
    ) -> Option<Micros> {
        let mut at = self.at.subscribe();
        let published = async { at.wait_for(Option::is_some).await.ok().and_then(|v| *v) };
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
}
