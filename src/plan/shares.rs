//! Shares of a room's viewers watching another way: on other network profiles (`NAME@PROFILE`)
//! or through the provider's CDN (`NAME~PROTOCOL`). Each share becomes a sibling group that
//! watches the same room and publisher, so its outcome is reported apart.

use super::{GroupPlan, LivePlan, ReceiverPlan};
use crate::media::live::playback::BufferConfig;
use crate::net::sim_link::LinkParams;
use crate::scenario::audience::audience_group_name;
use crate::scenario::profiles::share_group_name;
use crate::scenario::{self, GroupSpec, Scenario};

/// Spreads viewers over shares evenly in time as well as in number: viewer `i` falls at the
/// fractional part of `(i + 1) × φ`, a sequence that fills [0, 1) evenly at every length.
const GOLDEN: f64 = 0.618_033_988_749_895;

/// The room's plan with the shares' viewers moved to sibling groups, then the siblings.
pub fn split(s: &Scenario, g: &GroupSpec, mut room: GroupPlan) -> Vec<GroupPlan> {
    let fractions: Vec<f64> = if g.audience.is_empty() {
        g.networks
            .iter()
            .map(|n| n.get_ref().share.fraction())
            .collect()
    } else {
        g.audience
            .iter()
            .map(|a| a.get_ref().share.fraction())
            .collect()
    };
    if fractions.is_empty() {
        return vec![room];
    }
    let mut taken: Vec<Vec<ReceiverPlan>> = vec![Vec::new(); fractions.len()];
    let mut own = Vec::new();
    for (i, r) in room.receivers.drain(..).enumerate() {
        let x = ((i as f64 + 1.0) * GOLDEN).fract();
        let mut upto = 0.0;
        let share = fractions.iter().position(|f| {
            upto += f;
            x < upto
        });
        match share {
            Some(k) => taken[k].push(r),
            None => own.push(r),
        }
    }
    room.receivers = own;
    let sibling = |receivers: Vec<ReceiverPlan>| GroupPlan {
        external_publisher: true,
        rtmp_publisher: false,
        publisher_of: Some(room.name.clone()),
        room: Some(room.provider_room()),
        receivers,
        ..room.clone()
    };
    let siblings: Vec<GroupPlan> = if g.audience.is_empty() {
        g.networks
            .iter()
            .zip(taken)
            .map(|(share, receivers)| {
                let profile = &share.get_ref().profile;
                let network = scenario::network_for(s, profile);
                GroupPlan {
                    name: share_group_name(&room.name, profile),
                    network_name: profile.clone(),
                    link: LinkParams::from(&network),
                    network,
                    publisher_network: None,
                    publisher_network_name: String::new(),
                    ..sibling(receivers)
                }
            })
            .collect()
    } else {
        g.audience
            .iter()
            .zip(taken)
            .map(|(share, receivers)| {
                let share = share.get_ref();
                GroupPlan {
                    name: audience_group_name(&room.name, share.protocol),
                    live: Some(LivePlan {
                        protocol: share.protocol,
                        buffer: BufferConfig {
                            start_us: share.start_buffer().as_micros() as u64,
                            rebuffer_us: share.rebuffer().as_micros() as u64,
                        },
                    }),
                    ..sibling(receivers)
                }
            })
            .collect()
    };
    std::iter::once(room).chain(siblings).collect()
}
