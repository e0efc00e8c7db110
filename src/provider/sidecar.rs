//! Sessions played by a sidecar client (docs/sidecar-protocol.md): on any provider, a share of
//! the viewers (a browser beside the native client); as `kind = "sidecar"`, every publisher and
//! viewer, through a vendor's SDK that does its own signalling.

use super::{ProviderError, ProviderFile, ProviderKind};
use crate::client::sidecar::{Credentials, Sidecar};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Sessions played by a sidecar process instead of the native client.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarSpec {
    /// The program and its arguments, e.g. ["node", "sidecar/browser/sidecar.js"]; relative
    /// paths are from the folder rtcbench runs in.
    pub command: Vec<String>,
    /// The sidecar's page: "whip-whep", or a vendor's ("agora", "trtc", "zego").
    pub page: String,
    /// Every this-many-th viewer uses the sidecar (1: all); the rest use the native client, so
    /// one run compares the two on the same stream.
    #[serde(default = "every_viewer")]
    pub every: u32,
    /// Credentials the page needs, as environment variables: e.g. { app_id = "AGORA_APP_ID" }.
    #[serde(default)]
    pub credentials_env: BTreeMap<String, String>,
}

fn every_viewer() -> u32 {
    1
}

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
