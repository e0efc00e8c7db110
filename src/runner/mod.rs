//! One run end to end: scenario → plan → engine → results → report.

use crate::base::cpu::generator_cpu_s;
use crate::engine;
use crate::engine::live::Live;
use crate::media::source::VideoSource;
use crate::media::y4m;
use crate::net::kernel::KernelNet;
use crate::plan;
use crate::provider::{Provider, ProviderFile};
use crate::report::{self, Format};
use crate::results::{ResultsError, RunResults};
use crate::scenario::{Scenario, Transport};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

mod fit;
pub mod load;
pub mod out_dir;
pub mod preflight;
mod record;
pub use record::to_results;
pub mod merged;
pub mod providers;
mod sharded;
pub mod shards;
pub mod sizing;
mod watching;

/// Seed used when neither the command line nor the scenario gives one.
pub const DEFAULT_SEED: u64 = 1;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub seed: Option<u64>,
    pub duration_us: Option<u64>,
    /// Exact output folder; default `results/<UTC time>-<scenario>/`.
    pub out: Option<PathBuf>,
    /// Provider files for WebRTC scenarios; none means the embedded provider.
    pub providers: Vec<PathBuf>,
    /// Write into an output folder that holds an earlier run, replacing its files.
    pub force: bool,
    /// Draw a live progress line (on a terminal).
    pub progress: bool,
    /// Scoring, dossiers and claims for a comparison of several providers.
    pub score: crate::score::ScoreOptions,
    /// This run is one shard of several.
    pub shard: Option<shards::ShardOptions>,
    /// Live exports while it runs.
    pub telemetry: crate::telemetry::TelemetryOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: cannot create the output folder: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Telemetry(#[from] crate::telemetry::server::ServeError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error(transparent)]
    ProviderFile(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    #[error("a single run takes one provider ({0} given); several are compared by runner::providers::run_each")]
    TooManyProviders(usize),
    #[error("provider \"{0}\" is a CDN without WebRTC: its hosts push RTMP (publisher = \"rtmp\") and its whole audience plays through it (audience shares adding up to 100 %)")]
    NoWebrtc(String),
    #[error("provider \"{provider}\" takes no RTMP push (rtmp_push_url), which group \"{group}\" publishes through (the embedded provider takes RTMP)")]
    NoRtmpIngest { provider: String, group: String },
    #[error("provider \"{0}\" has no whep_url: it takes streams in over WHIP but plays them back only through its own SDK, which rtcbench's native client cannot do, and every session of this scenario plays a stream")]
    NoPlayback(String),
    #[error("provider \"{provider}\" {why}: use viewer_client = \"full\" with this provider")]
    LightViewerCannot { provider: String, why: &'static str },
    #[error("provider \"{provider}\" serves no {protocol} playback, which group \"{group}\" watches through (the embedded provider serves HTTP-FLV, HLS and LL-HLS)")]
    NoCdnPlayback {
        provider: String,
        group: String,
        protocol: &'static str,
    },
    #[error("provider \"{provider}\": its URLs have no {{room}}, so they serve one stream, and this scenario needs {streams} (one room group with no calls or co-hosts fits)")]
    OneStream { provider: String, streams: usize },
    #[error("provider \"{provider}\": group \"{group}\" has an impaired network or a blackhole, which rtcbench applies at its own clients' sockets; a sidecar's client has its own and would go unimpaired (use a clean network with a sidecar)")]
    SidecarOwnNetwork { provider: String, group: String },
    #[error("--provider applies to WebRTC scenarios; this scenario's transport has no provider to compare")]
    ProvidersNeedWebrtc,
    #[error(transparent)]
    Score(#[from] crate::score::ScoreError),
    #[error("{}: neither a run folder (run.json) nor a comparison (comparison.json)", path.display())]
    NotARun { path: PathBuf },
    #[error("{}: not a comparison manifest: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error("provider \"{provider}\" cannot be made to have \"{fault}\": only the embedded provider can (blackhole works with any)")]
    FaultNeedsEmbedded { provider: String, fault: String },
    #[error(transparent)]
    KernelNet(#[from] crate::net::kernel::KernelNetError),
    #[error("provider \"{0}\": the kernel network path reaches only the embedded provider for now (its namespaces are joined to this host alone); use path = \"user\"")]
    KernelPathNeedsEmbedded(String),
    #[error("no group \"{group}\" in the scenario (it has: {})", known.join(", "))]
    NoSuchGroup { group: String, known: Vec<String> },
    #[error("{}: holds an earlier run ({} exists); choose another --out, or pass --force to replace its files", path.display(), found.display())]
    OutputHoldsResults { path: PathBuf, found: PathBuf },
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    #[error("sharded run: {0}")]
    Shard(String),
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct RunArtifacts {
    pub dir: PathBuf,
    pub results: RunResults,
}

/// `name` with every character a folder name should not hold made '-'.
fn folder_name(name: &str) -> String {
    name.chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '-',
            },
        )
        .collect()
}

pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("results").join(format!("{stamp}-{}", folder_name(&scenario.name)))
}

/// Opens the provider `file` names (none: the embedded one) and holds the plan against what it
/// can do; one that cannot is shut down again.
async fn open_provider(
    file: Option<ProviderFile>,
    plan: &crate::plan::Plan,
    kernel: Option<&KernelNet>,
) -> Result<Arc<dyn Provider>, RunError> {
    open_provider_at(file, plan, kernel, None).await
}

/// `open_provider` with our own server listening on `host` when given (where other shards
/// reach it), else where the kernel path's namespaces reach it, else on 127.0.0.1.
async fn open_provider_at(
    file: Option<ProviderFile>,
    plan: &crate::plan::Plan,
    kernel: Option<&KernelNet>,
    host: Option<std::net::IpAddr>,
) -> Result<Arc<dyn Provider>, RunError> {
    crate::client::init_crypto();
    let file = file.unwrap_or_else(ProviderFile::embedded);
    let host = host.or_else(|| kernel.map(|k| k.host_ip().into()));
    let provider: Arc<dyn Provider> = crate::provider::open(&file, host).await?.into();
    if let Err(e) = fit::check_fit(provider.as_ref(), plan, kernel.is_some()) {
        for left in provider.shut_down().await {
            eprintln!("{left}");
        }
        return Err(e);
    }
    Ok(provider)
}

fn uses_kernel_path(plan: &crate::plan::Plan) -> bool {
    use crate::scenario::schema::NetworkPath;
    plan.groups.iter().any(|g| {
        g.network.path == NetworkPath::Kernel
            || g.publisher_network
                .as_ref()
                .is_some_and(|p| p.path == NetworkPath::Kernel)
    })
}

/// Runs `scenario` in real time and writes run.json and the report; `stop` ends it early.
pub async fn run(
    scenario: &Scenario,
    options: &RunOptions,
    stop: watch::Receiver<bool>,
) -> Result<RunArtifacts, RunError> {
    let file = match options.providers.as_slice() {
        [] => None,
        [path] => Some(crate::provider::load(path)?),
        many => return Err(RunError::TooManyProviders(many.len())),
    };
    run_with(scenario, options, file, stop).await
}

/// `run` with the provider file already read (none: the embedded provider).
/// Pays a process's one-time costs (crypto backend, TLS roots, the first DTLS certificate,
/// codec set-up) before a run's clock starts. Otherwise the sessions that dial in the first
/// run's opening instant wait on them: measured, about 60 ms more connect time for each of
/// them in the first of three same-seed runs in one process, so the first provider of a
/// comparison was measured cold.
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        crate::client::init_crypto();
        drop(reqwest::Client::builder().build());
        drop(
            str0m::RtcConfig::new()
                .enable_h264(true)
                .enable_opus(true, false)
                .build(std::time::Instant::now()),
        );
        let _ = crate::media::codec::VideoDecoder::new();
        let _ = crate::media::codec::OpusDecoder::new();
        let _ = crate::media::codec::OpusEncoder::new(32_000);
    });
}

async fn run_with(
    scenario: &Scenario,
    options: &RunOptions,
    file: Option<ProviderFile>,
    stop: watch::Receiver<bool>,
) -> Result<RunArtifacts, RunError> {
    let seed = run_seed(scenario, options.seed);
    let mut plan = plan::build(scenario, seed, options.duration_us);
    if let Some(o) = &options.shard {
        plan::shard::slice(&mut plan, o.shard);
    }
    // Before anything opens a file: at a tiny `ulimit -n` the TLS roots cannot be read.
    preflight::check(&preflight::needs(&plan), &preflight::this_machine())?;
    warm_up();
    let dir = out_dir::prepare(
        options.out.as_deref(),
        default_out_dir(scenario),
        options.force,
    )?;
    let kernel = match scenario.transport == Transport::Webrtc && uses_kernel_path(&plan) {
        true => Some(Arc::new(KernelNet::open()?)),
        false => None,
    };
    let (provider, lined) = provider_and_lineup(
        scenario,
        options,
        seed,
        &plan,
        file,
        kernel.as_deref(),
        &stop,
    )
    .await?;
    let timing = match &lined {
        Some(l) => {
            plan = sharded::slice(scenario, seed, options.duration_us, l);
            engine::Timing {
                clock: l.clock(crate::base::WallClock::start()),
                start_at: Some(l.start.start_at_us),
                relay: l.relay(),
            }
        }
        None => engine::Timing::now(),
    };
    let (synced_tx, synced_rx) = watch::channel(false);
    let keeping = lined.as_ref().and_then(|l| l.keep_synced(synced_rx));
    let exports = watching::Exports {
        options: options.telemetry.clone(),
        labels: run_labels(&dir, &plan, provider.as_deref(), lined.as_ref()),
    };
    let interrupted = stop.clone();
    let (ran, watching) = drive(
        &plan,
        provider,
        kernel,
        stop,
        options.progress,
        timing,
        exports,
    )
    .await?;
    let _ = synced_tx.send(true);
    if let Some(k) = keeping {
        let _ = k.await;
    }
    let results = record_run(scenario, seed, &plan, ran, lined.as_ref());
    // run.json first: if a chart fails, the measurements are still on disk.
    results.write(&dir.join("run.json"))?;
    report::write(&results, &dir, &report::ALL_FORMATS)?;
    // Results are on disk before the exports' last push and scrape (and, when stopped, no
    // lingering: a pod's grace period is for writing them).
    if let Some(w) = watching {
        let stopped = *interrupted.borrow();
        w.finish(stopped).await;
    }
    Ok(RunArtifacts { dir, results })
}

/// The provider a WebRTC run drives, and for a shard its place in the line-up (the agreed
/// start, the reference clock and the relay).
async fn provider_and_lineup(
    scenario: &Scenario,
    options: &RunOptions,
    seed: u64,
    plan: &plan::Plan,
    file: Option<ProviderFile>,
    kernel: Option<&KernelNet>,
    stop: &watch::Receiver<bool>,
) -> Result<(Option<Arc<dyn Provider>>, Option<shards::Lined>), RunError> {
    Ok(match (&options.shard, scenario.transport) {
        (Some(o), Transport::Webrtc) => {
            let identity = sharded::identity(scenario, seed, plan, o.shard.count);
            let (p, lined) =
                sharded::open_and_line_up(o, identity, plan, file, stop.clone()).await?;
            (Some(p), Some(lined))
        }
        (Some(o), _) => {
            let identity = sharded::identity(scenario, seed, plan, o.shard.count);
            let lined = sharded::line_up(o, identity, None, stop.clone()).await?;
            (None, Some(lined))
        }
        (None, Transport::Webrtc) => (Some(open_provider(file, plan, kernel).await?), None),
        (None, _) => (None, None),
    })
}

/// The run's results, with a shard's record and its region as every session's vantage.
fn record_run(
    scenario: &Scenario,
    seed: u64,
    plan: &plan::Plan,
    ran: record::Ran,
    lined: Option<&shards::Lined>,
) -> RunResults {
    let mut results = record::results(scenario, seed, plan, ran);
    results.shard = lined.map(shards::Lined::record);
    if let Some(region) = lined.and_then(|l| l.region.clone()) {
        for s in results
            .groups
            .iter_mut()
            .flat_map(|g| g.sessions.iter_mut())
        {
            s.vantage = Some(region.clone());
        }
    }
    results
}

/// Runs the engine with the live progress line and the live exports, shuts the provider down,
/// and says what the run cost the process; the exports are handed back to end after the
/// results are written.
async fn drive(
    plan: &crate::plan::Plan,
    provider: Option<Arc<dyn Provider>>,
    kernel: Option<Arc<KernelNet>>,
    stop: watch::Receiver<bool>,
    show_progress: bool,
    timing: engine::Timing,
    exports: watching::Exports,
) -> Result<(record::Ran, Option<watching::Watching>), RunError> {
    let in_process = provider.as_ref().is_some_and(|p| p.abilities().in_process);
    let cpu_before = generator_cpu_s();
    let live = Arc::new(Live::default());
    let watching = match exports.options.any() {
        true => Some(watching::Watching::start(exports, live.clone(), plan)?),
        false => None,
    };
    let (done_tx, done_rx) = watch::channel(false);
    let progress = show_progress.then(|| {
        tokio::spawn(crate::engine::progress::show(
            plan.clone(),
            live.clone(),
            std::time::Instant::now(),
            done_rx,
        ))
    });
    let provider_name = provider.as_ref().map(|p| p.name().to_string());
    let outcome = engine::run(plan, provider.clone(), kernel, stop, live, timing).await;
    if let Some(p) = provider {
        for left in p.shut_down().await {
            eprintln!("{left}");
        }
    }
    let _ = done_tx.send(true);
    if let Some(p) = progress {
        let _ = p.await;
    }
    let cpu_s = generator_cpu_s()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let ran = record::Ran {
        outcome,
        provider: provider_name,
        in_process,
        cpu_s,
    };
    Ok((ran, watching))
}

/// Who this run is, on every series it exports.
fn run_labels(
    dir: &Path,
    plan: &crate::plan::Plan,
    provider: Option<&dyn Provider>,
    lined: Option<&shards::Lined>,
) -> crate::telemetry::RunLabels {
    // The shards of one run share its name: the scenario and the start they agreed on.
    let run = match lined {
        Some(l) => {
            let start = chrono::DateTime::from_timestamp_micros(l.start.start_at_us as i64)
                .map_or_else(String::new, |t| t.format("%Y%m%dT%H%M%SZ").to_string());
            format!("{}-{start}", plan.scenario_name)
        }
        None => dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    };
    crate::telemetry::RunLabels {
        run,
        scenario: plan.scenario_name.clone(),
        provider: provider.map_or_else(|| "simulated".to_string(), |p| p.name().to_string()),
        shard: lined.map(|l| format!("{}/{}", l.shard.index, l.shard.count)),
        region: lined.and_then(|l| l.region.clone()),
    }
}

/// Re-renders a report from a run folder's run.json alone.
pub fn rerender(run_dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, RunError> {
    let pdf = formats.contains(&Format::Pdf);
    // Found first: a missing browser should cost nothing but the message.
    let browser = match pdf {
        true => Some(report::pdf::find_chromium().map_err(report::ReportError::from)?),
        false => None,
    };
    let mut formats: Vec<Format> = formats.to_vec();
    if pdf && !formats.contains(&Format::Html) {
        formats.push(Format::Html);
    }
    let comparison = providers::is_comparison(run_dir);
    let mut written = if comparison {
        providers::rerender(run_dir, &formats)?
    } else {
        let results = RunResults::read(&run_dir.join("run.json"))?;
        report::write(&results, run_dir, &formats)?
    };
    if let Some(browser) = browser {
        let stem = if comparison { "comparison" } else { "report" };
        let pdf = run_dir.join(format!("{stem}.pdf"));
        report::pdf::print(&browser, &run_dir.join(format!("{stem}.html")), &pdf)
            .map_err(report::ReportError::from)?;
        written.push(pdf);
    }
    Ok(written)
}

fn run_seed(scenario: &Scenario, seed: Option<u64>) -> u64 {
    seed.or(scenario.seed).unwrap_or(DEFAULT_SEED)
}

/// Writes `length_us` of the clip that `group`'s probes score against, as YUV4MPEG2.
pub fn export_clip(
    scenario: &Scenario,
    group: &str,
    seed: Option<u64>,
    length_us: u64,
    out: &Path,
) -> Result<u64, RunError> {
    let plan = plan::build(scenario, run_seed(scenario, seed), None);
    let g = plan
        .groups
        .iter()
        .find(|g| g.name == group)
        .ok_or_else(|| RunError::NoSuchGroup {
            group: group.to_string(),
            known: plan.groups.iter().map(|g| g.name.clone()).collect(),
        })?;
    let source = VideoSource::new(g.sender.seed, g.sender.width, g.sender.height);
    let frames = (length_us * g.sender.fps as u64 / 1_000_000).max(1);
    let io = |source| RunError::Write {
        path: out.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(out).map_err(io)?;
    let mut writer = std::io::BufWriter::new(file);
    y4m::write_clip(&mut writer, &source, g.sender.fps, frames).map_err(io)?;
    writer.flush().map_err(io)?;
    Ok(frames)
}
