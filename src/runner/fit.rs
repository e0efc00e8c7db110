//! Whether a provider can do what a plan asks of it, held before anything dials: the first
//! thing it cannot is the run's error.

use super::RunError;
use crate::provider::{Abilities, Provider};
use crate::scenario::schema::ViewerClient;
use crate::scenario::GroupKind;

/// How many rooms (streams with their own endpoint) the plan publishes into.
fn streams_needed(plan: &crate::plan::Plan) -> usize {
    plan.groups
        .iter()
        .filter(|g| g.publisher_of.is_none())
        .map(|g| match g.kind {
            GroupKind::Room => 1,
            GroupKind::Call => (g.receivers.len() / 2).max(1),
            GroupKind::Cohost => 2,
        })
        .sum()
}

/// A group whose clients' network rtcbench would impair (a profile, a blackhole) where the
/// provider's clients are out of its reach (a sidecar's have sockets of their own).
fn impaired_group(plan: &crate::plan::Plan, can: Abilities) -> Option<String> {
    use crate::net::impair::ImpairSpec;
    use crate::scenario::faults::FaultKind;
    if can.impaired_viewers && can.impaired_publishers {
        return None;
    }
    let blackholed = plan.faults.iter().any(|f| f.kind == FaultKind::Blackhole);
    let impaired = |p: &crate::scenario::NetworkProfile| {
        p.path == crate::scenario::schema::NetworkPath::Kernel
            || !ImpairSpec::from(p).is_clean()
            || !ImpairSpec::uplink(p).is_clean()
    };
    plan.groups
        .iter()
        .find(|g| {
            blackholed
                || (!can.impaired_viewers && impaired(&g.network))
                || (!can.impaired_publishers && g.publisher_network.as_ref().is_some_and(impaired))
        })
        .map(|g| g.name.clone())
}

/// Whether `provider` can do what `plan` asks of it: the first thing it cannot, as the error.
pub(super) fn check_fit(
    provider: &dyn Provider,
    plan: &crate::plan::Plan,
    kernel: bool,
) -> Result<(), RunError> {
    let can = provider.abilities();
    let name = || provider.name().to_string();
    if kernel && !can.kernel_path {
        return Err(RunError::KernelPathNeedsEmbedded(name()));
    }
    let webrtc_viewers = plan
        .groups
        .iter()
        .any(|g| g.kind != GroupKind::Room || (g.live.is_none() && !g.receivers.is_empty()));
    let webrtc_hosts = plan.groups.iter().any(|g| {
        g.kind != GroupKind::Room
            || (!g.rtmp_publisher && !g.external_publisher && g.publisher_of.is_none())
    });
    if !can.webrtc && (webrtc_viewers || webrtc_hosts) {
        return Err(RunError::NoWebrtc(name()));
    }
    if can.webrtc && !can.plays_back && webrtc_viewers {
        return Err(RunError::NoPlayback(name()));
    }
    let light = plan
        .groups
        .iter()
        .any(|g| g.viewer_client == ViewerClient::Light);
    let light_cannot = match (can.viewers_offer, provider.ice_policy()) {
        (false, _) => Some("offers to its viewers, and viewer_client = \"light\" only offers"),
        (_, crate::provider::IcePolicy::Relay) => Some("relays every client through TURN (ice_transport_policy = \"relay\"), and viewer_client = \"light\" connects from its host candidate"),
        _ => None,
    };
    if let Some(why) = light_cannot.filter(|_| light && webrtc_viewers) {
        return Err(RunError::LightViewerCannot {
            provider: name(),
            why,
        });
    }
    let rtmp_group = plan.groups.iter().find(|g| g.rtmp_publisher);
    if let Some(g) = rtmp_group.filter(|_| provider.rtmp_push_url("room").is_none()) {
        return Err(RunError::NoRtmpIngest {
            provider: name(),
            group: g.name.clone(),
        });
    }
    let streams = streams_needed(plan);
    if !can.rooms && streams > 1 {
        return Err(RunError::OneStream {
            provider: name(),
            streams,
        });
    }
    let cdn_group = plan.groups.iter().find_map(|g| {
        let live = g.live?;
        provider
            .playback_url("room", live.protocol)
            .is_none()
            .then(|| (g.name.clone(), live.protocol.name()))
    });
    if let Some((group, protocol)) = cdn_group {
        return Err(RunError::NoCdnPlayback {
            provider: name(),
            group,
            protocol,
        });
    }
    if let Some(group) = impaired_group(plan, can) {
        return Err(RunError::SidecarOwnNetwork {
            provider: name(),
            group,
        });
    }
    match plan.faults.iter().find(|f| f.kind.needs_embedded()) {
        Some(f) if !can.server_faults => Err(RunError::FaultNeedsEmbedded {
            provider: name(),
            fault: f.label.clone(),
        }),
        _ => Ok(()),
    }
}
