//! The `janus` kind: Janus's VideoRoom plugin over Janus's HTTP API. A publisher offers and
//! Janus answers; a subscriber answers Janus's offer for the room's first publisher. Rooms the
//! run made are destroyed when it ends.

use super::file::ProviderFile;
use super::signal::janus::{self, Attachment, Janus, Rooms};
use super::{Abilities, Join, Joined, Pending, Provider, Step};
use crate::client::native::IcePolicy;
use crate::media::receiver::SessionFailure;
use std::time::Duration;

pub struct JanusRoom {
    name: String,
    base: String,
    step_timeout: Duration,
    ice_policy: IcePolicy,
    /// The rooms the run made.
    rooms: Rooms,
}

impl JanusRoom {
    pub fn new(p: &ProviderFile) -> Self {
        Self {
            name: p.name.clone(),
            base: p.janus_url.clone().unwrap_or_default(),
            step_timeout: p.step_timeout.0,
            ice_policy: p.ice_transport_policy,
            rooms: Rooms::default(),
        }
    }

    fn api(&self, http: &reqwest::Client) -> Janus {
        Janus::new(http.clone(), &self.base, self.step_timeout).recording(&self.rooms)
    }

    async fn negotiate(&self, join: Join<'_>) -> Result<Box<dyn Joined>, SessionFailure> {
        let api = self.api(join.http);
        let peer = join.peer;
        let attachment = if peer.sender().is_some() {
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
    fn name(&self) -> &str {
        &self.name
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            plays_back: true,
            rooms: true,
            impaired_viewers: true,
            impaired_publishers: true,
            server_faults: false,
            kernel_path: false,
            in_process: false,
        }
    }

    fn step_timeout(&self) -> Duration {
        self.step_timeout
    }

    fn ice_policy(&self) -> IcePolicy {
        self.ice_policy
    }

    fn signalling_url(&self, _room: &str, _publishing: bool) -> String {
        self.base.clone()
    }

    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        Box::pin(self.negotiate(join))
    }

    fn shut_down(&self) -> Pending<'_, Vec<String>> {
        Box::pin(async move {
            let api = Janus::new(reqwest::Client::new(), &self.base, self.step_timeout);
            // One Janus refuses to destroy is worth a line.
            api.destroy_rooms(&self.rooms)
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
    fn leave(self: Box<Self>) -> Pending<'static, ()> {
        Box::pin(self.0.leave())
    }
}
