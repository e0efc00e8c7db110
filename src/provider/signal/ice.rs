//! The I/O around a peer's ICE servers: resolving their names, and trickling the candidates
//! they give to the provider (WHIP/WHEP PATCH). What came of each server is kept as a group
//! note, counted over sessions, so a report says whether the provider's STUN/TURN servers worked.

use super::whip::{self, Resource};
use crate::client::ice_servers::ResolvedIceServer;
use crate::client::native::IceServerOutcome;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages about ICE servers, with the number of sessions each was seen in.
pub type Notes = Arc<Mutex<BTreeMap<String, u64>>>;

pub fn note(notes: &Notes, message: String) {
    if let Ok(mut n) = notes.lock() {
        *n.entry(message).or_default() += 1;
    }
}

/// Resolves the ICE servers a provider named; the ones that do not resolve become notes.
pub async fn resolve(
    resource: &Resource,
    timeout: Duration,
    notes: &Notes,
) -> Vec<ResolvedIceServer> {
    for e in &resource.link_errors {
        note(notes, format!("Link header: {e}"));
    }
    let mut resolved = Vec::new();
    for server in &resource.ice_servers {
        let target = (server.url.host.as_str(), server.url.port);
        let found = tokio::time::timeout(timeout, tokio::net::lookup_host(target)).await;
        match found {
            Ok(Ok(mut addrs)) => match addrs.next() {
                Some(addr) => resolved.push(ResolvedIceServer {
                    server: server.clone(),
                    addr,
                }),
                None => note(notes, format!("{}: the name has no address", server.url)),
            },
            Ok(Err(e)) => note(notes, format!("{}: cannot resolve: {e}", server.url)),
            Err(_) => note(
                notes,
                format!("{}: no DNS answer within {timeout:?}", server.url),
            ),
        }
    }
    resolved
}

/// Trickles each gathered candidate to `resource` and notes every outcome, until the peer's
/// driver drops its sender.
pub async fn trickle_outcomes(
    mut outcomes: mpsc::UnboundedReceiver<IceServerOutcome>,
    http: reqwest::Client,
    step_timeout: Duration,
    resource: Resource,
    notes: Notes,
) {
    while let Some(outcome) = outcomes.recv().await {
        let message = match outcome {
            IceServerOutcome::Failed { server, reason } => format!("{server}: {reason}"),
            IceServerOutcome::Trickle { server, fragment } => {
                let kind = if fragment.contains("typ relay") {
                    "relayed"
                } else {
                    "server-reflexive"
                };
                let sent = whip::trickle(&http, &resource, fragment, step_timeout).await;
                match sent {
                    Ok(status) if status.is_success() => {
                        format!("{server}: {kind} candidate gathered and trickled")
                    }
                    Ok(status) => format!(
                        "{server}: {kind} candidate gathered; the provider refused the trickle \
                         (HTTP {status}), so only our checks can reveal it"
                    ),
                    Err(e) => format!("{server}: {kind} candidate gathered; trickle failed: {e}"),
                }
            }
        };
        note(&notes, message);
    }
}
