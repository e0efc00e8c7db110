//! Command-line types.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rtcbench",
    version,
    about = "Benchmark and load-test real-time audio/video providers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write run.json, the report and charts.
    Run {
        scenario: PathBuf,
        /// Output folder (default: results/<UTC time>-<scenario>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed for every random choice (default: the scenario's, else 1).
        #[arg(long)]
        seed: Option<u64>,
        /// Provider file for WebRTC scenarios (default: the embedded reference SFU). Repeat it
        /// to compare providers: each runs the same plan in turn, in a folder of its own, and
        /// comparison.html puts them side by side.
        #[arg(long = "provider")]
        providers: Vec<PathBuf>,
        /// Override the scenario's duration, e.g. "10s".
        #[arg(long, value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
        /// Write into an --out folder that holds an earlier run, replacing its files (without
        /// it, such a folder is refused).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        shard: ShardArgs,
        #[command(flatten)]
        score: ScoreArgs,
        #[command(flatten)]
        telemetry: TelemetryArgs,
    },
    /// Compare runs made before (different providers, or repeats): scores with intervals,
    /// ties, claims, and one report.
    Compare {
        /// Run folders (with run.json) or comparison folders (their runs are taken in turn).
        #[arg(required = true, num_args = 2..)]
        run_dirs: Vec<PathBuf>,
        /// Output folder (default: results/<UTC time>-compare/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write into an --out folder that holds an earlier comparison, replacing its files.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        score: ScoreArgs,
    },
    /// Merge the run.jsons of a sharded run's shards into one run, exactly (histograms added),
    /// and write its report.
    Merge {
        /// The shards' run folders.
        #[arg(required = true)]
        shard_dirs: Vec<PathBuf>,
        /// Output folder (default: results/<UTC time>-<scenario>-merged/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write into an --out folder that holds an earlier run, replacing its files.
        #[arg(long)]
        force: bool,
        /// Merge the shards given even when some are missing; the report names them.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Print what each shard of a run will carry and need (sessions, peak tracks, cores,
    /// memory) from rtcbench's measured costs, and how many shards a target audience needs.
    Plan {
        scenario: PathBuf,
        /// Shards to split the run into.
        #[arg(long, default_value_t = 1)]
        shards: u32,
        /// Cores of one shard's machine or pod.
        #[arg(long, default_value_t = 2.0)]
        cores: f64,
        /// Also say how many shards this many viewers need.
        #[arg(long)]
        viewers: Option<u64>,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Write the manifests that run a scenario as shards of a Kubernetes Indexed Job.
    Deploy {
        #[command(subcommand)]
        target: DeployTarget,
    },
    /// Check scenario and provider files and report every problem with file, line and field.
    Validate {
        /// Scenario or provider files (a provider file has a top-level `kind`).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Run the embedded reference SFU on its own (WHIP and WHEP over HTTP) until Ctrl-C.
    ServeReference {
        /// HTTP address; media uses a UDP port on the same IP. Port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:8088")]
        listen: std::net::SocketAddr,
        /// An ICE server to hand clients in Link headers (repeatable): stun:HOST:PORT or
        /// turn:HOST:PORT?transport=udp.
        #[arg(long = "ice-server")]
        ice_servers: Vec<String>,
        /// Username for the TURN servers.
        #[arg(long)]
        ice_username: Option<String>,
        /// Environment variable holding the TURN credential (never given on the command line).
        #[arg(long)]
        ice_credential_env: Option<String>,
        /// Refuse viewers beyond this many per room (HTTP 503), as a provider's room cap would.
        #[arg(long)]
        max_viewers: Option<usize>,
        /// TCP port of the RTMP ingest (rtmp://IP:PORT/live/ROOM) on the --listen IP; 0 picks
        /// a free one. Default: 1935, or a free one when --listen picks a free port.
        #[arg(long)]
        rtmp_port: Option<u16>,
        /// Media workers, each a UDP socket and task on its own thread, so forwarding uses this
        /// many cores (as mediasoup's workers). Default: the cores this process may run on.
        #[arg(long)]
        workers: Option<usize>,
        /// How often to print the CPU per forwarded track-second while viewers are connected.
        #[arg(long, value_parser = parse_duration, default_value = "10s")]
        cost_every: std::time::Duration,
    },
    /// Write the clip a group's probes score against (YUV4MPEG2, frame numbers in the pixel
    /// marker), for publishers that are not rtcbench: aiortc, ffmpeg, OBS, a browser's fake camera.
    ExportClip {
        scenario: PathBuf,
        /// The group whose probes will watch the clip.
        #[arg(long)]
        group: String,
        #[arg(long)]
        out: PathBuf,
        /// Clip length; players loop it.
        #[arg(long, value_parser = parse_duration, default_value = "10s")]
        length: std::time::Duration,
        /// The seed the run will use (default: the scenario's, else 1).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Render the report again from a run folder's run.json.
    Report {
        run_dir: PathBuf,
        /// Comma-separated: html, md, csv, pdf (pdf prints the HTML with headless Chromium).
        #[arg(long, default_value = "html,md,csv")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeployTarget {
    /// An Indexed Job of N shards, its headless Service, a ConfigMap with the files, a results
    /// volume and the merge Job after it (docs/kubernetes.md).
    Kubernetes {
        scenario: PathBuf,
        #[arg(long)]
        shards: u32,
        /// The container image (built from the Dockerfile).
        #[arg(long, default_value = "rtcbench:latest")]
        image: String,
        /// Provider file to carry in the ConfigMap (its token variables are read from a Secret).
        #[arg(long)]
        provider: Option<PathBuf>,
        /// The Job's name (default: rtcbench-<scenario>).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        namespace: Option<String>,
        /// Label every shard with this vantage point (one Job per region for several).
        #[arg(long)]
        region: Option<String>,
        /// Every shard pushes its live figures to this Prometheus remote-write URL.
        #[arg(long, value_name = "URL")]
        metrics_push: Option<String>,
        #[arg(long)]
        seed: Option<u64>,
        /// Folder to write the manifests into.
        #[arg(long, default_value = "deploy/kubernetes")]
        out: PathBuf,
    },
}

/// One shard of a run spread over several processes or machines (docs/shards.md).
#[derive(Debug, Clone, clap::Args)]
pub struct ShardArgs {
    /// Run shard I of N (from 0): its slice of the plan. In a Kubernetes Indexed Job,
    /// JOB_COMPLETION_INDEX gives I and --shards (or RTCBENCH_SHARDS) N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The number of shards, with the index from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Shard 0's HOST:PORT: it serves the start barrier and the reference clock there (and on
    /// the embedded provider, the SFU). Default: RTCBENCH_COORDINATOR.
    #[arg(long, value_name = "HOST:PORT")]
    pub coordinator: Option<String>,
    /// Start every shard at this instant (RFC 3339) instead of at the barrier's.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// A label for where this shard runs (a region, a vantage point). Default: RTCBENCH_REGION.
    #[arg(long)]
    pub region: Option<String>,
    /// How long shard 0 waits for the others before starting with those that came.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub barrier_timeout: std::time::Duration,
}

/// Live telemetry while the run goes on (docs/telemetry.md).
#[derive(Debug, clap::Args)]
pub struct TelemetryArgs {
    /// Serve OpenMetrics at http://ADDR/metrics for a Prometheus to scrape (e.g.
    /// 127.0.0.1:9464; port 0 picks a free one and says which).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Push the same samples by Prometheus remote write to URL (e.g.
    /// http://prometheus:9090/api/v1/write), every --metrics-push-every and at the end.
    #[arg(long, value_name = "URL")]
    pub metrics_push: Option<String>,
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub metrics_push_every: std::time::Duration,
    /// After the run, keep /metrics up until it is scraped once more, for at most this long
    /// (0s: stop at once).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub metrics_linger: std::time::Duration,
    /// Serve a live page of the run at http://ADDR/ (self-contained; no CDN).
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<String>,
}

impl TelemetryArgs {
    pub fn options(self) -> crate::telemetry::TelemetryOptions {
        crate::telemetry::TelemetryOptions {
            metrics: self.metrics,
            dashboard: self.dashboard,
            push: self.metrics_push,
            push_every: self.metrics_push_every,
            linger: self.metrics_linger,
        }
    }
}

/// How a comparison is scored.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// Thresholds, weights and the audience mix for coverage (TOML; overrides the scenario's
    /// [scoring]).
    #[arg(long)]
    pub scoring: Option<PathBuf>,
    /// A vendor dossier (TOML) of declared experience and support; repeat per provider.
    #[arg(long = "dossier")]
    pub dossiers: Vec<PathBuf>,
    /// Vendor claims to check against the runs (TOML).
    #[arg(long)]
    pub claims: Option<PathBuf>,
}

impl ScoreArgs {
    pub fn options(self) -> crate::score::ScoreOptions {
        crate::score::ScoreOptions {
            scoring: self.scoring,
            dossiers: self.dossiers,
            claims: self.claims,
        }
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::base::units::parse_duration(s)
}
