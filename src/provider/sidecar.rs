//! Sessions played by a sidecar client (docs/sidecar-protocol.md): on any provider, a share of
//! the viewers (a browser beside the native client); as `kind = "sidecar"`, every publisher and
//! viewer, through a vendor's SDK that does its own signalling.

use super::file::{ProviderFile, ProviderKind, SidecarSpec};
use super::{Abilities, Basics, Join, Joined, Pending, Provider, ProviderError, Step};
use crate::base::{Micros, WallClock};
use crate::client::sidecar::{Credentials, Sidecar};
use crate::media::receiver::SessionFailure;
use crate::plan::faults::FaultPlan;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A started sidecar and how sessions use it.
#[derive(Clone)]
pub struct SidecarUse {
    pub process: Arc<Sidecar>,
    pub page: String,
    pub every: u32,
    /// The provider signals through the sidecar (kind "sidecar"): publishers use it too.
    pub publishes: bool,
    pub credentials: Credentials,
}

impl SidecarUse {
    /// Starts `spec`'s command; credentials come from the environment now.
    pub async fn start(
        provider: &ProviderFile,
        spec: &SidecarSpec,
        token: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let mut credentials = BTreeMap::new();
        if let Some(t) = token {
            credentials.insert("token".to_string(), t.to_string());
        }
        for (name, var) in &spec.credentials_env {
            let value = std::env::var(var).map_err(|_| ProviderError::MissingEnv {
                provider: provider.name.clone(),
                field: format!("sidecar.credentials_env.{name}"),
                var: var.clone(),
            })?;
            credentials.insert(name.clone(), value);
        }
        let process = Sidecar::start(&spec.command)
            .await
            .map_err(|e| ProviderError::Sidecar {
                provider: provider.name.clone(),
                reason: e.to_string(),
            })?;
        if !process.identity.pages.iter().any(|p| p == &spec.page) {
            let pages = process.identity.pages.join(", ");
            process.shutdown(Duration::from_secs(2)).await;
            return Err(ProviderError::Sidecar {
                provider: provider.name.clone(),
                reason: format!(
                    "the sidecar has no page \"{}\" (it has: {pages})",
                    spec.page
                ),
            });
        }
        Ok(Self {
            process,
            page: spec.page.clone(),
            every: spec.every,
            publishes: provider.kind == ProviderKind::Sidecar,
            credentials: Credentials(credentials),
        })
    }

    /// Whether viewer number `index` of a group plays through the sidecar.
    pub fn plays(&self, index: usize) -> bool {
        index as u64 % u64::from(self.every) == u64::from(self.every) - 1
    }
}

/// The `sidecar` kind: a vendor's SDK in the sidecar signals by itself, so every publisher and
/// viewer plays there and none signals through rtcbench.
pub struct SignalsInSidecar(Basics);

impl SignalsInSidecar {
    pub fn new(p: &ProviderFile) -> Self {
        Self(Basics::of(p))
    }
}

impl Provider for SignalsInSidecar {
    fn basics(&self) -> &Basics {
        &self.0
    }

    fn abilities(&self) -> Abilities {
        Abilities::REMOTE
    }

    fn signalling_url(&self, _room: &str, _publishing: bool) -> String {
        String::new()
    }

    fn join<'a>(&'a self, _join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        let why = format!(
            "provider \"{}\" signals only through its sidecar",
            self.name()
        );
        Box::pin(async move { Err(Step::Offer.failed(why)) })
    }
}

/// A kind with a sidecar beside it: the sidecar plays a share of the viewers (all of them, and
/// the publishers, for the `sidecar` kind). Its clients' sockets are its own, out of reach of
/// rtcbench's impairment.
pub struct WithSidecar {
    inner: Box<dyn Provider>,
    sidecar: SidecarUse,
}

impl WithSidecar {
    pub async fn start(
        inner: Box<dyn Provider>,
        file: &ProviderFile,
        spec: &SidecarSpec,
    ) -> Result<Self, ProviderError> {
        let token = inner.sidecar_token();
        let sidecar = SidecarUse::start(file, spec, token.as_deref()).await?;
        Ok(Self { inner, sidecar })
    }
}

impl Provider for WithSidecar {
    fn basics(&self) -> &Basics {
        self.inner.basics()
    }

    fn abilities(&self) -> Abilities {
        Abilities {
            impaired_viewers: false,
            impaired_publishers: !self.sidecar.publishes,
            ..self.inner.abilities()
        }
    }

    fn signalling_url(&self, room: &str, publishing: bool) -> String {
        self.inner.signalling_url(room, publishing)
    }

    fn join<'a>(&'a self, join: Join<'a>) -> Pending<'a, Result<Box<dyn Joined>, SessionFailure>> {
        self.inner.join(join)
    }

    fn sidecar(&self) -> Option<&SidecarUse> {
        Some(&self.sidecar)
    }

    fn page_endpoints(&self, room: &str) -> BTreeMap<String, String> {
        match self.sidecar.publishes {
            true => BTreeMap::new(),
            false => self.inner.page_endpoints(room),
        }
    }

    fn live_room_api(&self) -> Option<String> {
        self.inner.live_room_api()
    }

    fn redact(&self, text: &str) -> String {
        self.inner.redact(text)
    }

    fn playback_url(
        &self,
        room: &str,
        protocol: crate::scenario::audience::LiveProtocol,
    ) -> Option<String> {
        self.inner.playback_url(room, protocol)
    }

    fn rtmp_push_url(&self, room: &str) -> Option<String> {
        self.inner.rtmp_push_url(room)
    }

    fn schedule_faults(&self, faults: &[FaultPlan], clock: WallClock, run_start: Micros) {
        self.inner.schedule_faults(faults, clock, run_start);
    }

    fn shut_down(&self) -> Pending<'_, Vec<String>> {
        Box::pin(async move {
            self.sidecar.process.shutdown(Duration::from_secs(5)).await;
            self.inner.shut_down().await
        })
    }
}
