//! The `janus` kind: Janus's VideoRoom plugin over Janus's HTTP API. A publisher offers and
//! Janus answers; a subscriber answers Janus's offer for the room's first publisher. Rooms the
//! run made are destroyed when it ends.

use super::file::ProviderFile;
use super::signal::janus::{self, Attachment, Janus, Rooms};
use super::{Abilities, Basics, Join, Joined, Pending, Provider, SignalError, Step};
use crate::media::receiver::SessionFailure;
use crate::media::simulcast::LayerAsk;

pub struct JanusRoom {
    basics: Basics,
    base: String,
    /// The rooms the run made.
    rooms: Rooms,
}

impl JanusRoom {
    pub fn new(p: &ProviderFile) -> Self {
        Self {
            basics: Basics::of(p),
            base: p.janus_url.clone().unwrap_or_default(),
            rooms: Rooms::default(),
        }
    }

    fn api(&self, http: &reqwest::Client) -> Janus {
        Janus::new(http.clone(), &self.base, self.basics.step_timeout)
            .limiting_replies_to(self.basics.max_body)
            .recording(&self.rooms)
    }

    async fn negotiate(&self, join: Join<'_>) -> Result<Box<dyn Joined>, SessionFailure> {
        let api = self.api(join.http);
        let peer = join.peer;
        let attachment = if peer.publishing() {
            let offer = peer
                .create_offer()
                .map_err(|e| Step::Offer.failed(e.to_string()))?;
            let (answer, attachment) = janus::join_publisher(&api, join.room, &offer).await?;
            if let Err(e) = peer.accept_answer(&answer) {
                attachment.leave().await;
                return Err(Step::Answer.failed(e.to_string()));
            }
            attachment
        } else {
            let (offer, pending) = janus::join_subscriber(&api, join.room).await?;
            let answer = peer
                .accept_offer(&offer)
                .map_err(|e| Step::Answer.failed(e.to_string()))?;
            pending.answer(&answer).await?
        };
        Ok(Box::new(Held(attachment)))
    }
}

impl Provider for JanusRoom {
    fn basics(&self) -> &Basics {
        &self.basics
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            viewers_offer: false,
            ..Abilities::REMOTE
        }
    }

    fn signalling_url(&self, _room: &str, _publishing: bool) -> String {
        self.base.clone()
    }

    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        Box::pin(self.negotiate(join))
    }

    fn shut_down(&self) -> Pending<'_, Vec<String>> {
        Box::pin(async move {
            let http = match reqwest::Client::builder().build() {
                Ok(http) => http,
                Err(e) => {
                    return vec![format!(
                        "cannot destroy the rooms this run made in Janus: {e}"
                    )]
                }
            };
            // One Janus refuses to destroy is worth a line.
            self.api(&http)
                .destroy_rooms(&self.rooms)
                .await
                .into_iter()
                .map(|refused| format!("Janus did not destroy a room this run made: {refused}"))
                .collect()
        })
    }
}

/// A Janus session with a VideoRoom handle, ended on leaving.
struct Held(Attachment);

impl Joined for Held {
    /// VideoRoom forwards the substream a subscriber configured; it has no choice of its own
    /// to go back to (only a fallback when a substream stops).
    fn ask_layer(&self, ask: LayerAsk) -> Pending<'_, Result<(), SignalError>> {
        Box::pin(async move {
            match ask {
                LayerAsk::Layer { index, .. } => self.0.ask_substream(index).await,
                LayerAsk::Auto => Err(SignalError::new(
                    Step::Layer,
                    "Janus VideoRoom does not choose a subscriber's substream itself; ask for low, mid or high",
                )),
            }
        })
    }

    fn leave(self: Box<Self>) -> Pending<'static, ()> {
        Box::pin(self.0.leave())
    }
}
