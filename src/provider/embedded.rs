//! The `embedded` provider: rtcbench's reference SFU, started in this process on 127.0.0.1 and
//! reached over WHIP/WHEP like any other server.

use super::{Endpoints, ProviderError, ProviderFile};
use crate::sfu::server::{self, ReferenceServer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Starts the SFU on 127.0.0.1 (or `on`, an address clients in namespaces reach); keep the
/// returned server alive for as long as the endpoints are used.
pub async fn start(
    p: &ProviderFile,
    on: Option<IpAddr>,
) -> Result<(ReferenceServer, Endpoints), ProviderError> {
    let ip = on.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let server =
        server::start(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| ProviderError::Embedded {
                provider: p.name.clone(),
                reason: e.to_string(),
            })?;
    let endpoints = Endpoints::for_server(&p.name, &server, p.step_timeout.0);
    Ok((server, endpoints))
}
