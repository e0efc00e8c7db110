//! The `embedded` kind: rtcbench's reference SFU, started in this process on 127.0.0.1 and
//! reached over WHIP/WHEP like any other server. Being ours, it can be told to have faults.

use super::file::ProviderFile;
use super::shared_embedded::SharedEmbedded;
use super::{Abilities, Basics, Join, Joined, Pending, Provider, ProviderError};
use crate::base::{Micros, WallClock};
use crate::media::receiver::SessionFailure;
use crate::plan::faults::FaultPlan;
use crate::scenario::faults::FaultKind;
use crate::sfu::faults::{ServerFault, ServerFaultKind};
use crate::sfu::server::{self, ReferenceServer};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The running reference SFU and its WHIP/WHEP endpoints; the server lives as long as this.
pub struct Embedded {
    server: ReferenceServer,
    reached: SharedEmbedded,
}

impl Embedded {
    /// Starts the SFU on 127.0.0.1, or on `host` (an address clients in namespaces reach).
    pub async fn start(p: &ProviderFile, host: Option<IpAddr>) -> Result<Self, ProviderError> {
        let ip = host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        // Half the cores forward, the other half are left to the load generator beside it.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let options = server::ServerOptions {
            workers: (cores / 2).max(1),
            ..server::ServerOptions::default()
        };
        let server = server::start_with(SocketAddr::new(ip, 0), options)
            .await
            .map_err(|e| ProviderError::Embedded {
                provider: p.name.clone(),
                reason: e.to_string(),
            })?;
        let reached = SharedEmbedded::at(
            &p.name,
            server.whip_url("{room}"),
            server.whep_url("{room}"),
            format!("http://{}", server.http_addr),
            p.step_timeout.0,
        );
        Ok(Self { server, reached })
    }
}

/// The provider-side faults of a plan, on the wall clock.
fn server_faults(faults: &[FaultPlan], clock: WallClock, run_start: Micros) -> Vec<ServerFault> {
    faults
        .iter()
        .filter_map(|f| {
            let kind = match f.kind {
                FaultKind::Blackhole => return None,
                FaultKind::Restart => ServerFaultKind::Restart,
                FaultKind::SignallingError => {
                    ServerFaultKind::SignallingError(f.status.unwrap_or(503))
                }
                FaultKind::SignallingTimeout => ServerFaultKind::SignallingTimeout,
            };
            Some(ServerFault {
                kind,
                from: clock.instant_of(run_start + f.start_us),
                to: clock.instant_of(run_start + f.end_us),
            })
        })
        .collect()
}

impl Provider for Embedded {
    fn basics(&self) -> &Basics {
        self.reached.basics()
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            kernel_path: true,
            in_process: true,
            ..self.reached.abilities()
        }
    }

    fn signalling_url(&self, room: &str, publishing: bool) -> String {
        self.reached.signalling_url(room, publishing)
    }

    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        self.reached.join(join)
    }

    fn page_endpoints(&self, room: &str) -> BTreeMap<String, String> {
        self.reached.page_endpoints(room)
    }

    fn live_room_api(&self) -> Option<String> {
        self.reached.live_room_api()
    }

    fn playback_url(
        &self,
        room: &str,
        protocol: crate::scenario::audience::LiveProtocol,
    ) -> Option<String> {
        self.reached.playback_url(room, protocol)
    }

    fn rtmp_push_url(&self, room: &str) -> Option<String> {
        Some(self.server.rtmp_url(room))
    }

    fn schedule_faults(&self, faults: &[FaultPlan], clock: WallClock, run_start: Micros) {
        self.server
            .faults()
            .set(server_faults(faults, clock, run_start));
    }
}
