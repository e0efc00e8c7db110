//! What shards and the coordinator (shard 0) say to each other over HTTP, as JSON. Every path
//! is under `/rtcbench/`; docs/shards.md describes the exchange.

use serde::{Deserialize, Serialize};

pub const TIME_PATH: &str = "/rtcbench/time";
pub const JOIN_PATH: &str = "/rtcbench/join";
pub const START_PATH: &str = "/rtcbench/start";
/// A publication made on one shard (POST), and the wait for one (POST, held until it is made).
pub const PUBLISHED_PATH: &str = "/rtcbench/published";
pub const PUBLISHED_WAIT_PATH: &str = "/rtcbench/published/wait";
/// The most any answer of the coordinator may hold.
pub const MAX_REPLY: usize = 64 * 1024;

/// What a shard is: the run it belongs to must be the same on every shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The scenario's `name`.
    pub scenario: String,
    /// CRC-32 of the scenario as run (after defaults), so an edited copy is told apart.
    pub scenario_crc: u32,
    pub seed: u64,
    pub version: String,
    pub count: u32,
    pub duration_us: u64,
}

impl Identity {
    /// The first field in which `other` differs from this one, as "field: ours vs theirs".
    pub fn differs(&self, other: &Identity) -> Option<String> {
        let pairs = [
            ("scenario", self.scenario.clone(), other.scenario.clone()),
            (
                "scenario (contents, CRC-32)",
                format!("{:08x}", self.scenario_crc),
                format!("{:08x}", other.scenario_crc),
            ),
            ("seed", self.seed.to_string(), other.seed.to_string()),
            ("version", self.version.clone(), other.version.clone()),
            (
                "shard count",
                self.count.to_string(),
                other.count.to_string(),
            ),
            (
                "duration (µs)",
                self.duration_us.to_string(),
                other.duration_us.to_string(),
            ),
        ];
        pairs
            .into_iter()
            .find(|(_, a, b)| a != b)
            .map(|(field, ours, theirs)| {
                format!("{field}: shard 0 has {ours}, this shard {theirs}")
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub shard: u32,
    pub identity: Identity,
    /// The shard's host name, for the report.
    pub host: String,
    pub region: Option<String>,
}

/// The coordinator's reading of its clock as the request came in and as it answered, µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeReply {
    pub received_us: u64,
    pub sent_us: u64,
}

/// The embedded SFU shard 0 serves to the others when no provider file is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedEmbedded {
    pub whip_url: String,
    pub whep_url: String,
    pub api_url: String,
}

/// The start every shard keeps, once the coordinator has announced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// When the run's clock starts, µs on the reference (shard 0's) clock.
    pub start_at_us: u64,
    /// Names the rooms rtcbench makes up, the same on every shard.
    pub room_tag: String,
    pub embedded: Option<SharedEmbedded>,
    /// Shards that joined before the start, and those that did not.
    pub joined: Vec<u32>,
    pub missing: Vec<u32>,
}

/// A room published on some shard, at an instant on the reference clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    pub room: String,
    pub at_us: Option<u64>,
}
