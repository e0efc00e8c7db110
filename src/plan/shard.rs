//! One shard's slice of a plan. Every shard of a run builds the same plan from the same scenario
//! and seed, then keeps the sessions this rule gives it (docs/shards.md):
//!
//! - The plan's sessions are numbered in plan order: group by group (shares of a room's viewers
//!   on other networks count as the groups they are reported as); within a group, its own
//!   publisher first (a room's host, or a co-hosting group's hosts together as one session),
//!   then its sessions in planned order (a room's viewers, a call's sides).
//! - Session `k` runs on shard `k mod N`. So each shard gets every N-th viewer of a ramp, its
//!   share of every stage; a call's two sides are two sessions and may sit on different shards.
//! - HTTP side-load `j` (in scenario order) runs whole on shard `j mod N`.
//!
//! A publisher runs once, on its shard; viewers on other shards watch it through the provider.
//! (A simulated-link room has no provider between sender and viewers: every shard runs its own
//! sender for its viewers, and the sender is not a numbered session.)

use super::Plan;
use crate::scenario::{GroupKind, Transport};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards one run may have.
pub const MAX_SHARDS: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    #[error("shard \"{0}\": expected I/N, such as 0/4 (shard I of N, counted from 0)")]
    Syntax(String),
    #[error("shard {index}/{count}: the index must be below the count")]
    OutOfRange { index: u32, count: u32 },
    #[error("shard count {0}: must be between 1 and {MAX_SHARDS}")]
    Count(u32),
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Count(count));
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }

    /// Whether session number `k` of the plan runs on this shard.
    pub fn owns(&self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// The reference shard: it coordinates the start and keeps the reference clock.
    pub fn is_first(&self) -> bool {
        self.index == 0
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let index = i.trim().parse().map_err(|_| syntax())?;
        let count = n.trim().parse().map_err(|_| syntax())?;
        Self::new(index, count)
    }
}

/// What a shard keeps of a plan, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SliceCount {
    /// Sessions numbered by the rule (publishers and viewers), over all shards.
    pub sessions: u64,
    /// Of them, this shard's.
    pub here: u64,
    /// Publishers (rooms' hosts, co-host groups, call sides) this shard runs.
    pub publishers_here: u64,
}

/// Marks what runs elsewhere in `plan` and drops the side-loads of other shards.
pub fn slice(plan: &mut Plan, shard: Shard) -> SliceCount {
    let mut count = SliceCount::default();
    let mut next = 0u64;
    let mut take = |count: &mut SliceCount| {
        let mine = shard.owns(next);
        next += 1;
        count.sessions += 1;
        count.here += u64::from(mine);
        mine
    };
    for g in &mut plan.groups {
        let own_publisher = g.transport == Transport::Webrtc
            && match g.kind {
                GroupKind::Room => !g.external_publisher && g.publisher_of.is_none(),
                GroupKind::Cohost => true,
                GroupKind::Call => false,
            };
        if own_publisher {
            let mine = take(&mut count);
            g.publisher_elsewhere = !mine;
            count.publishers_here += u64::from(mine);
        }
        for r in &mut g.receivers {
            let mine = take(&mut count);
            r.elsewhere = !mine;
            if g.kind == GroupKind::Call {
                count.publishers_here += u64::from(mine);
            }
        }
    }
    let mut j = 0u64;
    plan.http.retain(|_| {
        let mine = shard.owns(j);
        j += 1;
        mine
    });
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    fn plan(toml: &str) -> Plan {
        let s = parse(toml, "test.toml").unwrap();
        super::super::build_tagged(&s, 7, None, "t")
    }

    const SCENARIO: &str = r#"
name = "s"
duration = "30s"
transport = "webrtc"
[[group]]
name = "room"
receivers = 10
stagger = "100ms"
[[group]]
name = "call"
kind = "call"
pairs = 3
[[http]]
name = "a"
users = 1
[[http.request]]
name = "r"
path = "/x"
[[http]]
name = "b"
users = 1
[[http.request]]
name = "r"
path = "/y"
"#;

    #[test]
    fn shard_specs_parse_and_bad_ones_say_why() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(
            "4/4".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 4, count: 4 })
        );
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::Count(0)));
        assert!(matches!("x/4".parse::<Shard>(), Err(ShardError::Syntax(_))));
        assert!(matches!("3".parse::<Shard>(), Err(ShardError::Syntax(_))));
    }

    #[test]
    fn every_session_runs_on_exactly_one_shard() {
        let whole = plan(SCENARIO);
        let n = 3;
        let slices: Vec<Plan> = (0..n)
            .map(|i| {
                let mut p = whole.clone();
                slice(&mut p, Shard::new(i, n).unwrap());
                p
            })
            .collect();
        for (gi, g) in whole.groups.iter().enumerate() {
            for ri in 0..g.receivers.len() {
                let here: Vec<u32> = (0..n)
                    .filter(|&i| !slices[i as usize].groups[gi].receivers[ri].elsewhere)
                    .collect();
                assert_eq!(here.len(), 1, "{} #{ri}: {here:?}", g.name);
            }
            let hosts = (0..n)
                .filter(|&i| !slices[i as usize].groups[gi].publisher_elsewhere)
                .count();
            assert_eq!(hosts, if g.kind == GroupKind::Room { 1 } else { 3 });
        }
        let loads: usize = slices.iter().map(|p| p.http.len()).sum();
        assert_eq!(loads, 2);
        assert_eq!(slices[0].http[0].name, "a");
        assert_eq!(slices[1].http[0].name, "b");
    }

    #[test]
    fn the_rule_numbers_the_host_first_then_viewers_then_call_sides() {
        let mut p = plan(SCENARIO);
        let count = slice(&mut p, Shard::new(1, 4).unwrap());
        // 1 host + 10 viewers + 6 call sides.
        assert_eq!(count.sessions, 17);
        // Numbers 1, 5, 9, 13: viewers 0, 4, 8 and call side 1.
        assert_eq!(count.here, 4);
        assert!(p.groups[0].publisher_elsewhere);
        let mine: Vec<usize> = (0..10)
            .filter(|&i| !p.groups[0].receivers[i].elsewhere)
            .collect();
        assert_eq!(mine, vec![0, 4, 8]);
        let sides: Vec<usize> = (0..6)
            .filter(|&i| !p.groups[1].receivers[i].elsewhere)
            .collect();
        assert_eq!(sides, vec![2]);
        assert_eq!(count.publishers_here, 1);
    }

    #[test]
    fn one_shard_keeps_everything() {
        let whole = plan(SCENARIO);
        let mut p = whole.clone();
        let count = slice(&mut p, Shard::new(0, 1).unwrap());
        assert_eq!(count.here, count.sessions);
        assert!(p.groups.iter().all(|g| !g.publisher_elsewhere));
        assert_eq!(p.http.len(), whole.http.len());
    }
}
