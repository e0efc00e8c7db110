//! The reference SFU reached over WHIP/WHEP and its live-room API: from another shard's process
//! (shard 0 of a sharded run serves it; it schedules the SFU's faults), and by the `embedded`
//! kind in its own process, which adds the server and its faults around it.

use super::whip_whep::WhipWhep;
use super::{Abilities, Basics, Join, Joined, Pending, Provider};
use crate::media::receiver::SessionFailure;
use crate::scenario::audience::LiveProtocol;
use std::collections::BTreeMap;
use std::time::Duration;

pub struct SharedEmbedded {
    signalling: WhipWhep,
    api: String,
}

impl SharedEmbedded {
    /// `whip` and `whep` are URL templates with `{room}`; `api` the live-room API's base URL.
    pub fn at(name: &str, whip: String, whep: String, api: String, step_timeout: Duration) -> Self {
        Self {
            signalling: WhipWhep::at(name, whip, whep, step_timeout),
            api,
        }
    }
}

impl Provider for SharedEmbedded {
    fn basics(&self) -> &Basics {
        self.signalling.basics()
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            // Shard 0 has the SFU in its process and schedules its faults for every shard.
            server_faults: true,
            ..self.signalling.abilities()
        }
    }

    fn signalling_url(&self, room: &str, publishing: bool) -> String {
        self.signalling.url(room, publishing)
    }

    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        self.signalling.join(join)
    }

    fn page_endpoints(&self, room: &str) -> BTreeMap<String, String> {
        self.signalling.page_endpoints(room)
    }

    fn live_room_api(&self) -> Option<String> {
        Some(self.api.clone())
    }

    fn playback_url(&self, room: &str, protocol: LiveProtocol) -> Option<String> {
        // The edge is served beside the live-room API (`sfu::live_out::edge`).
        let base = &self.api;
        Some(match protocol {
            LiveProtocol::HttpFlv => format!("{base}/live/{room}.flv"),
            LiveProtocol::Hls => format!("{base}/hls/{room}/index.m3u8"),
            LiveProtocol::LlHls => format!("{base}/hls/{room}/ll.m3u8"),
        })
    }
}
