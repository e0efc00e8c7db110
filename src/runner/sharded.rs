//! The runner's part of a sharded run: the provider each shard reaches (on the embedded
//! provider, the SFU shard 0 serves), lining up with the other shards, and this shard's slice
//! of the plan.

use super::shards::protocol::{Identity, SharedEmbedded};
use super::shards::{self, FirstShard, Lined, ShardError, ShardOptions};
use super::RunError;
use crate::base::WallClock;
use crate::plan::{self, shard, Plan};
use crate::provider::{Provider, ProviderFile, ProviderKind};
use crate::scenario::Scenario;
use std::sync::Arc;
use tokio::sync::watch;

impl From<ShardError> for RunError {
    fn from(e: ShardError) -> Self {
        RunError::Shard(e.to_string())
    }
}

/// What identifies the run every shard must share.
pub fn identity(scenario: &Scenario, seed: u64, plan: &Plan, count: u32) -> Identity {
    let text = serde_json::to_vec(scenario).unwrap_or_default();
    Identity {
        scenario: scenario.name.clone(),
        scenario_crc: crc32fast::hash(&text),
        seed,
        version: env!("CARGO_PKG_VERSION").to_string(),
        count,
        duration_us: plan.duration_us,
    }
}

/// This shard's slice of the plan, its rooms tagged as every shard tags them.
pub fn slice(scenario: &Scenario, seed: u64, duration_us: Option<u64>, lined: &Lined) -> Plan {
    let mut p = plan::build_tagged(scenario, seed, duration_us, &lined.start.room_tag);
    shard::slice(&mut p, lined.shard);
    p
}

/// A room tag no earlier run shares: this process and the time.
fn fresh_room_tag(clock: WallClock) -> String {
    format!(
        "{}x{}",
        std::process::id(),
        clock.now() / 1_000_000 % 1_000_000
    )
}

/// Lines this shard up with the others; shard 0 brings the run's room tag and `embedded`, the
/// SFU it serves (if any). `stop` (Ctrl-C, SIGTERM) ends the wait at the barrier.
pub async fn line_up(
    o: &ShardOptions,
    identity: Identity,
    embedded: Option<SharedEmbedded>,
    mut stop: watch::Receiver<bool>,
) -> Result<Lined, RunError> {
    let raw = WallClock::start();
    let first = o.shard.is_first().then(|| FirstShard {
        embedded,
        room_tag: fresh_room_tag(raw),
    });
    tokio::select! {
        lined = shards::line_up(o, identity, first, raw) => Ok(lined?),
        _ = stop.wait_for(|s| *s) => Err(RunError::Shard("stopped while waiting at the start barrier".into())),
    }
}

fn is_embedded(file: &Option<ProviderFile>) -> bool {
    file.as_ref()
        .is_none_or(|f| f.kind == ProviderKind::Embedded && f.sidecar.is_none())
}

/// Opens this shard's provider and lines up with the other shards. Shard 0 on the embedded
/// provider starts the SFU where the others reach it and announces it; the others open it
/// once the start is announced.
pub async fn open_and_line_up(
    o: &ShardOptions,
    identity: Identity,
    draft: &Plan,
    file: Option<ProviderFile>,
    stop: watch::Receiver<bool>,
) -> Result<(Arc<dyn Provider>, Lined), RunError> {
    let embedded = is_embedded(&file);
    if embedded && o.coordinator.is_none() {
        return Err(ShardError::EmbeddedNeedsCoordinator(o.shard).into());
    }
    let mut provider = None;
    // What shard 0 announces: the SFU it serves, when it serves one.
    let mut first: Option<Option<SharedEmbedded>> = None;
    if o.shard.is_first() || !embedded {
        let host = match (&o.coordinator, embedded) {
            (Some(c), true) => Some(shards::reachable_ip(c)?),
            _ => None,
        };
        let p = super::open_provider_at(file.clone(), draft, None, host).await?;
        if o.shard.is_first() {
            first = Some(embedded.then(|| shared_embedded(p.as_ref())).flatten());
        }
        provider = Some(p);
    }
    let lined = line_up(o, identity, first.flatten(), stop).await?;
    let provider = match (provider, &lined.start.embedded) {
        (Some(p), _) => p,
        (None, Some(e)) => {
            let timeout = ProviderFile::embedded().step_timeout.0;
            let p: Arc<dyn Provider> = Arc::new(crate::provider::shared_embedded::SharedEmbedded::at(
                "embedded",
                e.whip_url.clone(),
                e.whep_url.clone(),
                e.api_url.clone(),
                timeout,
            ));
            super::fit::check_fit(p.as_ref(), draft, false)?;
            p
        }
        (None, None) => {
            return Err(RunError::Shard(
                "shard 0 announced no embedded SFU: it runs another provider; give this shard the same --provider".into(),
            ))
        }
    };
    Ok((provider, lined))
}

/// What the other shards need to reach shard 0's embedded SFU.
fn shared_embedded(p: &dyn Provider) -> Option<SharedEmbedded> {
    Some(SharedEmbedded {
        whip_url: p.signalling_url("{room}", true),
        whep_url: p.signalling_url("{room}", false),
        api_url: p.live_room_api()?,
    })
}
