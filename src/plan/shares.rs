//! Shares of a room's viewers on other network profiles: each share becomes a sibling group
//! that watches the same room and publisher, so its outcome and realised impairment are
//! reported apart (`NAME@PROFILE`).

use super::{GroupPlan, ReceiverPlan};
use crate::net::sim_link::LinkParams;
use crate::scenario::profiles::share_group_name;
use crate::scenario::{self, GroupSpec, Scenario};

/// Spreads viewers over shares evenly in time as well as in number: viewer `i` falls at the
/// fractional part of `(i + 1) × φ`, a sequence that fills [0, 1) evenly at every length.
const GOLDEN: f64 = 0.618_033_988_749_895;

/// The room's plan with the shares' viewers moved to sibling groups, then the siblings.
pub fn split(s: &Scenario, g: &GroupSpec, mut room: GroupPlan) -> Vec<GroupPlan> {
    if g.networks.is_empty() {
        return vec![room];
    }
    let shares: Vec<(String, f64)> = g
        .networks
        .iter()
        .map(|n| (n.get_ref().profile.clone(), n.get_ref().share.fraction()))
        .collect();
    let mut taken: Vec<Vec<ReceiverPlan>> = vec![Vec::new(); shares.len()];
    let mut own = Vec::new();
    for (i, r) in room.receivers.drain(..).enumerate() {
        let x = ((i as f64 + 1.0) * GOLDEN).fract();
        let mut upto = 0.0;
        let share = shares.iter().position(|(_, f)| {
            upto += f;
            x < upto
        });
        match share {
            Some(k) => taken[k].push(r),
            None => own.push(r),
        }
    }
    room.receivers = own;
    let provider_room = room.provider_room();
    let siblings: Vec<GroupPlan> = shares
        .iter()
        .zip(taken)
        .map(|((profile, _), receivers)| {
            let network = scenario::network_for(s, profile);
            GroupPlan {
                name: share_group_name(&room.name, profile),
                network_name: profile.clone(),
                link: LinkParams::from(&network),
                network,
                publisher_network: None,
                publisher_network_name: String::new(),
                external_publisher: true,
                publisher_of: Some(room.name.clone()),
                room: Some(provider_room.clone()),
                receivers,
                ..room.clone()
            }
        })
        .collect();
    std::iter::once(room).chain(siblings).collect()
}
