//! Where a run goes beyond one machine: manifests for the engines platform teams already run.
//! `kubernetes` writes an Indexed Job of shards and the merge after it.

pub mod kubernetes;

use crate::runner::{self, sizing};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--name {0}: a Job's name must be a DNS label (a-z, 0-9 and '-', at most 52 characters, starting with a letter)")]
    Name(String),
    #[error("--shards {0}: between 1 and {max}", max = crate::plan::shard::MAX_SHARDS)]
    Shards(u32),
}

/// What `rtcbench deploy kubernetes` is asked for.
pub struct Request<'a> {
    pub scenario: &'a Path,
    pub provider: Option<&'a Path>,
    pub shards: u32,
    pub image: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub seed: Option<u64>,
    /// A Prometheus remote-write URL every shard pushes its live figures to.
    pub metrics_push: Option<String>,
}

fn read(path: &Path) -> Result<String, DeployError> {
    crate::base::files::read_to_string_limited(path, crate::scenario::MAX_FILE).map_err(|source| {
        DeployError::Read {
            path: path.display().to_string(),
            source,
        }
    })
}

fn dns_label(text: &str) -> String {
    let mut label: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    label.truncate(52);
    label.trim_matches('-').to_string()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 52
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The Job of a request, its pods sized from the busiest shard's measured cost.
pub fn kubernetes_job(r: Request) -> Result<kubernetes::JobSpec, DeployError> {
    let scenario = runner::load::scenario_file(r.scenario)?;
    if r.shards == 0 || r.shards > crate::plan::shard::MAX_SHARDS {
        return Err(DeployError::Shards(r.shards));
    }
    let name = r
        .name
        .unwrap_or_else(|| format!("rtcbench-{}", dns_label(&scenario.name)));
    if !valid_name(&name) {
        return Err(DeployError::Name(name));
    }
    let seed = r.seed.or(scenario.seed).unwrap_or(runner::DEFAULT_SEED);
    let plan = crate::plan::build(&scenario, seed, None);
    let sizes = sizing::shards(&scenario, &plan, r.shards);
    let busiest = |f: fn(&sizing::ShardSize) -> f64| sizes.iter().map(f).fold(0.0, f64::max);
    let cores = busiest(|s| s.cores) / sizing::TARGET_UTILISATION;
    let memory = busiest(|s| s.needs.memory_bytes as f64) * 1.25;
    let mut step_timeout = crate::provider::ProviderFile::embedded().step_timeout.0;
    let (provider, secret_vars) = match r.provider {
        Some(path) => {
            let file = crate::provider::load(path)?;
            step_timeout = file.step_timeout.0;
            let vars = crate::provider::file::unset_env(&file, &|_| false)
                .into_iter()
                .map(|(_, var)| var)
                .collect();
            let carried = kubernetes::Carried {
                name: "provider.toml".into(),
                text: read(path)?,
            };
            (Some(carried), vars)
        }
        None => (None, Vec::new()),
    };
    let mut secret_vars: Vec<String> = secret_vars;
    for (_, var) in crate::scenario::http::env_vars(&scenario) {
        if !secret_vars.contains(&var) {
            secret_vars.push(var);
        }
    }
    Ok(kubernetes::JobSpec {
        secret: format!("{name}-secrets"),
        namespace: r.namespace,
        image: r.image,
        shards: r.shards,
        scenario: kubernetes::Carried {
            name: "scenario.toml".into(),
            text: read(r.scenario)?,
        },
        provider,
        secret_vars,
        cores,
        memory_bytes: memory as u64,
        // A stopping shard waits up to a step timeout for sessions mid-signalling, then writes.
        grace_seconds: 2 * step_timeout.as_secs().max(1) + 30,
        barrier_seconds: 300,
        region: r.region,
        metrics_push: r.metrics_push,
        results_storage: "5Gi".into(),
        name,
    })
}
