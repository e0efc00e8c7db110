//! `rtcbench deploy kubernetes`: the manifests of a sharded run as a Kubernetes Indexed Job
//! (docs/kubernetes.md). Shard `i` is the pod with completion index `i`; shard 0's pod is found
//! by the others at `NAME-0.NAME` through a headless Service; every pod writes its folder to a
//! ReadWriteMany volume, and a second Job merges them once the first has completed.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The port shard 0 serves the barrier and reference clock on.
pub const COORDINATOR_PORT: u16 = 7700;
/// Where the pods find the scenario and provider files, and write results.
const CONFIG_DIR: &str = "/config";
const RESULTS_DIR: &str = "/results";
/// The user the image runs as (the Dockerfile makes it).
pub const RUN_AS_USER: u64 = 10001;

/// A file the pods read, carried by the ConfigMap.
#[derive(Debug, Clone)]
pub struct Carried {
    /// Its name in the ConfigMap and under /config.
    pub name: String,
    pub text: String,
}

/// Everything the manifests are made from.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The Job's name (a DNS label); the Service, ConfigMap and volume are named from it.
    pub name: String,
    pub namespace: Option<String>,
    pub image: String,
    pub shards: u32,
    pub scenario: Carried,
    pub provider: Option<Carried>,
    /// Environment variables the provider file names (tokens): each read from the Secret.
    pub secret_vars: Vec<String>,
    /// The Secret they are read from (created by the user, never by rtcbench).
    pub secret: String,
    /// Per pod: the CPU to request (cores) and memory (bytes), from the measured costs.
    pub cores: f64,
    pub memory_bytes: u64,
    /// Long enough for a shard to stop its sessions and write what it measured on SIGTERM.
    pub grace_seconds: u64,
    /// How long shard 0 waits at the barrier for the others (pods pulling images included).
    pub barrier_seconds: u64,
    /// `--region` for every shard (one region per Job; a Job per region for several).
    pub region: Option<String>,
    /// `--metrics-push` for every shard: pods nobody scrapes report to one Prometheus.
    pub metrics_push: Option<String>,
    pub results_storage: String,
}

fn metadata(spec: &JobSpec, name: &str) -> Value {
    let mut m = json!({
        "name": name,
        "labels": {"app.kubernetes.io/name": "rtcbench", "app.kubernetes.io/instance": spec.name},
    });
    if let Some(ns) = &spec.namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn files_name(spec: &JobSpec) -> String {
    format!("{}-files", spec.name)
}

fn results_name(spec: &JobSpec) -> String {
    format!("{}-results", spec.name)
}

fn config_map(spec: &JobSpec) -> Value {
    let mut data = serde_json::Map::new();
    for f in std::iter::once(&spec.scenario).chain(&spec.provider) {
        data.insert(f.name.clone(), json!(f.text));
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, &files_name(spec)),
        "data": data,
    })
}

fn service(spec: &JobSpec) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, &spec.name),
        "spec": {
            "clusterIP": "None",
            // Shard 0 must be found while the others wait for it, before any pod is ready.
            "publishNotReadyAddresses": true,
            "selector": {"job-name": spec.name},
            "ports": [{"name": "coordinator", "port": COORDINATOR_PORT, "protocol": "TCP"}],
        },
    })
}

fn volume_claim(spec: &JobSpec) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(spec, &results_name(spec)),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": spec.results_storage}},
        },
    })
}

fn volumes(spec: &JobSpec) -> Value {
    json!([
        {"name": "files", "configMap": {"name": files_name(spec)}},
        {"name": "results", "persistentVolumeClaim": {"claimName": results_name(spec)}},
    ])
}

fn mounts() -> Value {
    json!([
        {"name": "files", "mountPath": CONFIG_DIR, "readOnly": true},
        {"name": "results", "mountPath": RESULTS_DIR},
    ])
}

fn security() -> (Value, Value) {
    let pod = json!({
        "runAsNonRoot": true,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
    });
    let container = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
    });
    (pod, container)
}

/// The shard's environment: its index from the Job (downward API), the count, the
/// coordinator, and each secret variable from the Secret by reference.
fn shard_env(spec: &JobSpec) -> Value {
    let mut env = vec![
        json!({"name": "SHARD", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}),
        json!({"name": "RTCBENCH_SHARDS", "value": spec.shards.to_string()}),
        json!({"name": "RTCBENCH_COORDINATOR",
               "value": format!("{}-0.{}:{COORDINATOR_PORT}", spec.name, spec.name)}),
    ];
    if let Some(region) = &spec.region {
        env.push(json!({"name": "RTCBENCH_REGION", "value": region}));
    }
    for var in &spec.secret_vars {
        env.push(json!({"name": var, "valueFrom": {"secretKeyRef": {
            "name": spec.secret, "key": var}}}));
    }
    Value::Array(env)
}

fn shard_args(spec: &JobSpec) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        format!("{CONFIG_DIR}/{}", spec.scenario.name),
        "--out".into(),
        format!("{RESULTS_DIR}/shard-$(SHARD)"),
        "--force".into(),
        "--barrier-timeout".into(),
        format!("{}s", spec.barrier_seconds),
    ];
    if let Some(p) = &spec.provider {
        args.extend(["--provider".into(), format!("{CONFIG_DIR}/{}", p.name)]);
    }
    if let Some(url) = &spec.metrics_push {
        args.extend(["--metrics-push".into(), url.clone()]);
    }
    args
}

fn resources(spec: &JobSpec) -> Value {
    let cpu = format!("{}m", (spec.cores * 1000.0).ceil().max(100.0) as u64);
    let memory = format!("{}Mi", spec.memory_bytes.div_ceil(1 << 20).max(64));
    json!({"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}})
}

fn job(spec: &JobSpec) -> Value {
    let (pod_security, container_security) = security();
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(spec, &spec.name),
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.shards,
            "parallelism": spec.shards,
            // A shard retried after the start would be refused by shard 0 as late: none are.
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "rtcbench",
                                         "app.kubernetes.io/instance": spec.name}},
                "spec": {
                    "subdomain": spec.name,
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": spec.grace_seconds,
                    "securityContext": pod_security,
                    "containers": [{
                        "name": "shard",
                        "image": spec.image,
                        "args": shard_args(spec),
                        "env": shard_env(spec),
                        "ports": [{"name": "coordinator", "containerPort": COORDINATOR_PORT}],
                        "resources": resources(spec),
                        "securityContext": container_security,
                        "volumeMounts": mounts(),
                    }],
                    "volumes": volumes(spec),
                },
            },
        },
    })
}

fn merge_job(spec: &JobSpec) -> Value {
    let (pod_security, container_security) = security();
    let mut args = vec!["merge".to_string()];
    args.extend((0..spec.shards).map(|i| format!("{RESULTS_DIR}/shard-{i}")));
    args.extend([
        "--out".into(),
        format!("{RESULTS_DIR}/merged"),
        "--force".into(),
    ]);
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(spec, &format!("{}-merge", spec.name)),
        "spec": {
            "backoffLimit": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security,
                    "containers": [{
                        "name": "merge",
                        "image": spec.image,
                        "args": args,
                        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}},
                        "securityContext": container_security,
                        "volumeMounts": mounts(),
                    }],
                    "volumes": volumes(spec),
                },
            },
        },
    })
}

/// The manifests, by file name, in the order they are applied.
pub fn manifests(spec: &JobSpec) -> Vec<(&'static str, Value)> {
    vec![
        ("configmap.yaml", config_map(spec)),
        ("service.yaml", service(spec)),
        ("results-volume.yaml", volume_claim(spec)),
        ("job.yaml", job(spec)),
        ("merge-job.yaml", merge_job(spec)),
    ]
}

/// The steps, as a script beside the manifests.
fn apply_script(spec: &JobSpec) -> String {
    let ns = spec
        .namespace
        .as_ref()
        .map_or(String::new(), |n| format!(" -n {n}"));
    format!(
        "#!/bin/sh\n# Written by `rtcbench deploy kubernetes`. The Secret {secret} (keys: {keys}) must exist first.\nset -eu\ncd \"$(dirname \"$0\")\"\nkubectl{ns} apply -f configmap.yaml -f service.yaml -f results-volume.yaml\nkubectl{ns} apply -f job.yaml\nkubectl{ns} wait --for=condition=complete --timeout=24h job/{name}\nkubectl{ns} apply -f merge-job.yaml\nkubectl{ns} wait --for=condition=complete --timeout=1h job/{name}-merge\necho \"merged run: {RESULTS_DIR}/merged on volume {name}-results\"\n",
        secret = spec.secret,
        keys = if spec.secret_vars.is_empty() {
            "none needed".to_string()
        } else {
            spec.secret_vars.join(", ")
        },
        name = spec.name,
    )
}

/// Writes the manifests and `apply.sh` into `dir`.
pub fn write(spec: &JobSpec, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (file, value) in manifests(spec) {
        let yaml = serde_norway::to_string(&value).map_err(std::io::Error::other)?;
        let path = dir.join(file);
        crate::base::files::write_atomic(&path, yaml.as_bytes())?;
        written.push(path);
    }
    let script = dir.join("apply.sh");
    crate::base::files::write_atomic(&script, apply_script(spec).as_bytes())?;
    written.push(script);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            name: "peak".into(),
            namespace: Some("load".into()),
            image: "rtcbench:test".into(),
            shards: 4,
            scenario: Carried {
                name: "scenario.toml".into(),
                text: "name = \"s\"".into(),
            },
            provider: Some(Carried {
                name: "provider.toml".into(),
                text: "kind = \"whip-whep\"\ntoken_env = \"VENDOR_TOKEN\"".into(),
            }),
            secret_vars: vec!["VENDOR_TOKEN".into()],
            secret: "peak-secrets".into(),
            cores: 1.3,
            memory_bytes: 700 << 20,
            grace_seconds: 60,
            barrier_seconds: 300,
            region: None,
            metrics_push: None,
            results_storage: "5Gi".into(),
        }
    }

    #[test]
    fn the_job_is_indexed_and_its_pods_find_shard_0_through_the_headless_service() {
        let all = manifests(&spec());
        let job = &all.iter().find(|(f, _)| *f == "job.yaml").unwrap().1;
        assert_eq!(job["spec"]["completionMode"], "Indexed");
        assert_eq!(job["spec"]["completions"], 4);
        assert_eq!(job["spec"]["parallelism"], 4);
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["subdomain"], "peak");
        let env = pod["containers"][0]["env"].as_array().unwrap();
        let coordinator = env
            .iter()
            .find(|e| e["name"] == "RTCBENCH_COORDINATOR")
            .unwrap();
        assert_eq!(coordinator["value"], "peak-0.peak:7700");
        let service = &all.iter().find(|(f, _)| *f == "service.yaml").unwrap().1;
        assert_eq!(service["spec"]["clusterIP"], "None");
        assert_eq!(
            pod["containers"][0]["resources"]["requests"]["cpu"],
            "1300m"
        );
    }

    #[test]
    fn every_shard_pushes_its_live_figures_when_asked() {
        let args_of = |spec: &JobSpec| {
            let all = manifests(spec);
            let job = &all.iter().find(|(f, _)| *f == "job.yaml").unwrap().1;
            job["spec"]["template"]["spec"]["containers"][0]["args"].clone()
        };
        let quiet = args_of(&spec());
        assert!(!quiet.to_string().contains("--metrics-push"));
        let url = "http://prometheus.monitoring:9090/api/v1/write";
        let pushed = args_of(&JobSpec {
            metrics_push: Some(url.into()),
            ..spec()
        });
        let args: Vec<&str> = pushed
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        let at = args
            .iter()
            .position(|a| *a == "--metrics-push")
            .expect("flag");
        assert_eq!(args[at + 1], url);
    }

    #[test]
    fn secrets_are_referenced_never_carried() {
        let all = manifests(&spec());
        let text = serde_json::to_string(&all.iter().map(|(_, v)| v).collect::<Vec<_>>()).unwrap();
        let job = &all.iter().find(|(f, _)| *f == "job.yaml").unwrap().1;
        let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap();
        let token = env.iter().find(|e| e["name"] == "VENDOR_TOKEN").unwrap();
        assert_eq!(token["valueFrom"]["secretKeyRef"]["name"], "peak-secrets");
        assert!(!text.contains("\"kind\":\"Secret\""));
        let map = &all[0].1;
        assert!(map["data"].get("provider.toml").is_some());
    }
}
