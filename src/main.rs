use anyhow::{Context, Result};
use clap::Parser;
use rtcbench::cli::{Cli, Command};
use rtcbench::report::Format;
use rtcbench::runner::{self, RunOptions};
use rtcbench::sfu::cost::ForwardingCost;
use std::process::ExitCode;

/// Exit status of a run that finished but in which some sessions failed to join.
const SESSIONS_FAILED: u8 = 3;
/// Exit status of a run in which an SLO gate broke (it takes precedence over failed sessions).
const GATE_BROKEN: u8 = 4;
/// Exit status of a run stopped early by SIGINT or SIGTERM, its results written; it takes
/// precedence over gates and joins, which judged only part of the plan.
const INTERRUPTED: u8 = 5;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { scenarios } => Ok(validate(&scenarios)),
        Command::Run {
            scenario,
            out,
            seed,
            providers,
            duration,
            force,
            shard,
            score,
            telemetry,
        } => {
            let shard = shard_options(shard)?;
            let options = RunOptions {
                shard,
                seed,
                duration_us: duration.map(|d| d.as_micros() as u64),
                out,
                providers,
                force,
                progress: true,
                score: score.options(),
                telemetry: telemetry.options(),
            };
            run(&scenario, options)
        }
        Command::ServeReference {
            listen,
            ice_servers,
            ice_username,
            ice_credential_env,
            max_viewers,
            rtmp_port,
            workers,
            cost_every,
        } => {
            let mut options = server_options(ice_servers, ice_username, ice_credential_env)?;
            options.max_viewers_per_room = max_viewers;
            let free_port = listen.port() == 0;
            options.rtmp_port = Some(rtmp_port.unwrap_or(if free_port { 0 } else { 1935 }));
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            options.workers = workers.unwrap_or(cores).max(1);
            serve_reference(listen, options, cost_every)
        }
        Command::ExportClip {
            scenario,
            group,
            out,
            length,
            seed,
        } => {
            let scenario = rtcbench::runner::load::scenario_file(&scenario)?;
            let frames =
                runner::export_clip(&scenario, &group, seed, length.as_micros() as u64, &out)?;
            println!("{}: {frames} frames for group \"{group}\"", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            run_dirs,
            out,
            force,
            score,
        } => compare(&run_dirs, out, force, &score.options()),
        Command::Merge {
            shard_dirs,
            out,
            force,
            allow_partial,
        } => {
            let merged =
                runner::merged::merge_dirs(&shard_dirs, out.as_deref(), force, allow_partial)?;
            print_summary(&merged);
            Ok(ExitCode::from(exit_status(&merged.results)))
        }
        Command::Plan {
            scenario,
            shards,
            cores,
            viewers,
            seed,
        } => {
            let s = rtcbench::runner::load::scenario_file(&scenario)?;
            let count = rtcbench::plan::shard::Shard::new(0, shards)?.count;
            let plan = rtcbench::plan::build(&s, seed.or(s.seed).unwrap_or(1), None);
            print!(
                "{}",
                runner::sizing::describe(&s, &plan, count, cores, viewers)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Deploy { target } => deploy(target),
        Command::Report { run_dir, format } => {
            let formats = format
                .split(',')
                .map(|f| f.parse::<Format>())
                .collect::<Result<Vec<_>, _>>()?;
            for path in runner::rerender(&run_dir, &formats)? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn deploy(target: rtcbench::cli::DeployTarget) -> Result<ExitCode> {
    let rtcbench::cli::DeployTarget::Kubernetes {
        scenario,
        shards,
        image,
        provider,
        name,
        namespace,
        region,
        seed,
        metrics_push,
        out,
    } = target;
    let spec = rtcbench::deploy::kubernetes_job(rtcbench::deploy::Request {
        scenario: &scenario,
        provider: provider.as_deref(),
        shards,
        image,
        name,
        namespace,
        region,
        seed,
        metrics_push,
    })?;
    let written = rtcbench::deploy::kubernetes::write(&spec, &out)
        .with_context(|| format!("writing the manifests into {}", out.display()))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The shard options of `run`, from its flags and the environment a Job gives its pods.
fn shard_options(a: rtcbench::cli::ShardArgs) -> Result<Option<runner::shards::ShardOptions>> {
    use runner::shards;
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let Some(shard) = shards::shard_from(a.shard.as_deref(), a.shards, &env)? else {
        if a.coordinator.is_some() || a.start_at.is_some() {
            anyhow::bail!("--coordinator and --start-at are for a sharded run: give --shard I/N");
        }
        return Ok(None);
    };
    let start_at_us = a
        .start_at
        .as_deref()
        .map(shards::parse_start_at)
        .transpose()?;
    Ok(Some(shards::ShardOptions {
        shard,
        coordinator: a.coordinator.or_else(|| env(shards::COORDINATOR_VAR)),
        start_at_us,
        region: a.region.or_else(|| env(shards::REGION_VAR)),
        barrier_timeout: a.barrier_timeout,
    }))
}

/// Checks scenario and provider files, printing every problem of each; 1 when any is wrong.
/// Environment variables a file names that are unset now are warnings: CI may set them later.
fn validate(paths: &[std::path::PathBuf]) -> ExitCode {
    let mut bad = 0;
    let is_set = |var: &str| std::env::var_os(var).is_some();
    for path in paths {
        let checked = match rtcbench::provider::is_provider_file(path) {
            true => rtcbench::provider::load(path).map(|p| {
                let unset = rtcbench::provider::file::unset_env(&p, &is_set);
                (format!("provider \"{}\", kind {:?}", p.name, p.kind), unset)
            }),
            false => rtcbench::runner::load::scenario_file(path).map(|s| {
                let mut unset = rtcbench::scenario::http::env_vars(&s);
                unset.retain(|(_, var)| !is_set(var));
                (format!("{} groups", s.groups.len()), unset)
            }),
        };
        match checked {
            Ok((what, unset)) => {
                println!("ok: {} ({what})", path.display());
                for (field, var) in unset {
                    let (line, column) =
                        rtcbench::scenario::field_position(path, &field).unwrap_or((1, 1));
                    eprintln!(
                        "warning: {}:{line}:{column}: field `{field}`: environment variable {var} is not set; a run needs it",
                        path.display()
                    );
                }
            }
            Err(e) => {
                bad += 1;
                for line in e.to_string().lines() {
                    eprintln!("error: {line}");
                }
            }
        }
    }
    match bad {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// Runs a scenario against one provider, or each in turn. SIGINT or SIGTERM stops it and keeps
/// what was measured (exit status 5); a second signal exits at once.
fn run(path: &std::path::Path, options: RunOptions) -> Result<ExitCode> {
    let scenario = rtcbench::runner::load::scenario_file(path)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signalled = listen_for_signals(stop_tx)?;
        eprintln!(
            "running {} ({} groups) ...",
            scenario.name,
            scenario.groups.len()
        );
        let code = if options.providers.len() > 1 {
            let c = runner::providers::run_each(&scenario, &options, stop_rx).await?;
            comparison_status(&c)
        } else {
            let artifacts = runner::run(&scenario, &options, stop_rx).await?;
            print_summary(&artifacts);
            exit_status(&artifacts.results)
        };
        match signalled.load(std::sync::atomic::Ordering::SeqCst) {
            true => Ok(ExitCode::from(INTERRUPTED)),
            false => Ok(ExitCode::from(code)),
        }
    })
}

/// Turns the first SIGINT or SIGTERM into a graceful stop (what Kubernetes sends a pod before
/// killing it); a second one exits at once with 128 + its number, as a shell reports it.
fn listen_for_signals(
    stop: tokio::sync::watch::Sender<bool>,
) -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let signalled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = signalled.clone();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        eprintln!(
            "{first}: stopping, writing what was measured so far (a second signal exits at once)"
        );
        let _ = stop.send(true);
        let code = tokio::select! {
            _ = interrupt.recv() => 128 + libc::SIGINT,
            _ = terminate.recv() => 128 + libc::SIGTERM,
        };
        eprintln!("second signal: exiting now; results not yet written are lost");
        std::process::exit(code);
    });
    Ok(signalled)
}

/// Prints each provider's summary; the worst of the runs' exit statuses (1 when one did not run).
fn comparison_status(c: &runner::providers::ComparisonArtifacts) -> u8 {
    for a in &c.runs {
        print_summary(a);
    }
    for m in &c.missing {
        println!("provider {} did not run: {}", m.label, m.reason);
    }
    println!("comparison: {}", c.dir.join("comparison.html").display());
    // The same precedence as one run's: a failure, then a gate, then joins.
    let rank = |code: &u8| {
        [0, SESSIONS_FAILED, GATE_BROKEN, 1]
            .iter()
            .position(|c| c == code)
    };
    let worst = c
        .runs
        .iter()
        .map(|a| exit_status(&a.results))
        .max_by_key(rank);
    match c.missing.is_empty() {
        true => worst.unwrap_or(0),
        false => 1,
    }
}

/// The media workers' UDP sockets, as the banner lists them.
fn media_sockets(addrs: &[std::net::SocketAddr]) -> String {
    let all: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    all.join(", ")
}

fn serve_reference(
    listen: std::net::SocketAddr,
    options: rtcbench::sfu::server::ServerOptions,
    cost_every: std::time::Duration,
) -> Result<ExitCode> {
    // A runtime thread per media worker, so the workers forward in parallel.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.workers.max(1))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        str0m::crypto::from_feature_flags().install_process_default();
        let server = rtcbench::sfu::server::start_with(listen, options)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        // One write: a caller that reads the first line and closes the pipe must not make a
        // second print fail.
        let banner = format!(
            "reference SFU: WHIP {} WHEP {} (media on udp {})\nCDN edge: RTMP in {}, HTTP-FLV {}, HLS {}, LL-HLS {}\n",
            server.whip_url("{room}"),
            server.whep_url("{room}"),
            media_sockets(&server.media_addrs),
            server.rtmp_url("{room}"),
            server.flv_url("{room}"),
            server.hls_url("{room}"),
            server.ll_hls_url("{room}")
        );
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(banner.as_bytes());
            let _ = out.flush();
        }
        let started = std::time::Instant::now();
        let snapshot = |server: &rtcbench::sfu::server::ReferenceServer| {
            server.cost_snapshot(started.elapsed().as_secs_f64())
        };
        let first = snapshot(&server);
        let mut last = first.clone();
        let mut every = tokio::time::interval(cost_every.max(std::time::Duration::from_secs(1)));
        every.tick().await;
        let stop = tokio::signal::ctrl_c();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                r = &mut stop => {
                    r.context("waiting for Ctrl-C")?;
                    break;
                }
                _ = every.tick() => {
                    let now = snapshot(&server);
                    if let Some(cost) = ForwardingCost::between(&last, &now) {
                        eprintln!("{}", cost.describe());
                    }
                    last = now;
                }
            }
        }
        if let Some(cost) = ForwardingCost::between(&first, &snapshot(&server)) {
            eprintln!("whole run: {}", cost.describe());
        }
        eprintln!("stopping the reference SFU");
        Ok(ExitCode::SUCCESS)
    })
}

fn compare(
    run_dirs: &[std::path::PathBuf],
    out: Option<std::path::PathBuf>,
    force: bool,
    score: &rtcbench::score::ScoreOptions,
) -> Result<ExitCode> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let default = std::path::PathBuf::from("results").join(format!("{stamp}-compare"));
    let out = runner::out_dir::prepare(out.as_deref(), default, force)?;
    let written =
        runner::providers::compare_dirs(run_dirs, &out, score, &rtcbench::report::ALL_FORMATS)?;
    for path in written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "png" && e != "svg"))
    {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A run's exit status.
fn exit_status(r: &rtcbench::results::RunResults) -> u8 {
    if !r.failures.is_empty() {
        1
    } else if r.broken_gates() > 0 {
        GATE_BROKEN
    } else if r.unexpected_failed_sessions() > 0 {
        SESSIONS_FAILED
    } else {
        0
    }
}

fn server_options(
    urls: Vec<String>,
    username: Option<String>,
    credential_env: Option<String>,
) -> Result<rtcbench::sfu::server::ServerOptions> {
    use rtcbench::client::link::{IceServerUrl, Scheme};
    use rtcbench::sfu::server::{AdvertisedIceServer, ServerOptions};
    let credential = match &credential_env {
        Some(var) => Some(
            std::env::var(var)
                .with_context(|| format!("--ice-credential-env: {var} is not set"))?,
        ),
        None => None,
    };
    let mut ice_servers = Vec::new();
    for url in urls {
        let parsed = IceServerUrl::parse(&url).with_context(|| "--ice-server")?;
        let turn = matches!(parsed.scheme, Scheme::Turn | Scheme::Turns);
        if turn && (username.is_none() || credential.is_none()) {
            anyhow::bail!("--ice-server {url}: TURN needs --ice-username and --ice-credential-env");
        }
        ice_servers.push(AdvertisedIceServer {
            url,
            username: username.clone().filter(|_| turn),
            credential: credential.clone().filter(|_| turn),
        });
    }
    Ok(ServerOptions {
        ice_servers,
        ..Default::default()
    })
}

fn print_summary(a: &runner::RunArtifacts) {
    let r = &a.results;
    print_figures(r);
    print_http(r);
    print_failures(r);
    print_verdicts(r);
    println!("report: {}", a.dir.join("report.html").display());
}

/// The run's line and a line per group, and the load it carried.
fn print_figures(r: &rtcbench::results::RunResults) {
    use rtcbench::metrics::Metric;
    println!(
        "{} — {:.1} s, seed {}{}",
        r.scenario_name,
        r.duration_s,
        r.seed,
        if r.completed { "" } else { " (stopped early)" }
    );
    for g in &r.groups {
        let p = |m: Metric, q: fn(&rtcbench::results::Summary) -> f64| {
            g.metric(m)
                .filter(|x| x.summary.count > 0)
                .map(|x| format!("{:.1}", q(&x.summary)))
                .unwrap_or_else(|| "–".into())
        };
        println!(
            "  {:<16} e2e p50 {} ms p95 {} ms | loss {:.2}% | fps {} | freezes {} ({:.2}% time) | <15 fps {:.1}% time | PSNR {} dB",
            g.name,
            p(Metric::E2eLatencyMs, |s| s.p50),
            p(Metric::E2eLatencyMs, |s| s.p95),
            g.totals.packet_loss_pct,
            p(Metric::Fps, |s| s.mean),
            g.totals.freeze_w3c.count,
            g.totals.freeze_time_pct,
            g.totals.low_fps_time_pct,
            p(Metric::PsnrDb, |s| s.mean),
        );
    }
    if let Some(t) = &r.timeline {
        println!(
            "  load: peak {} sessions up, at most {:.1} joins/s, {} join failures",
            t.peak_sessions(),
            t.peak_joins_per_s(r.interval_ms),
            t.points.iter().map(|p| p.join_failures).sum::<u64>()
        );
    }
}

fn print_http(r: &rtcbench::results::RunResults) {
    for load in &r.http {
        match &load.failure {
            Some(why) => println!("  http {}: failed: {why}", load.name),
            None => {
                for q in &load.requests {
                    println!(
                        "  http {:<10} {:<10} {} requests, {:.2}% errors, p50 {:.1} ms p95 {:.1} ms",
                        load.name,
                        q.name,
                        q.count,
                        q.error_pct(),
                        q.latency_ms.p50,
                        q.latency_ms.p95
                    );
                }
            }
        }
    }
}

/// The run's failures, each session's, and the groups' notes.
fn print_failures(r: &rtcbench::results::RunResults) {
    for f in &r.failures {
        println!("  failure: {f}");
    }
    for g in &r.groups {
        for f in g
            .publisher_failures
            .iter()
            .chain(g.sessions.iter().filter_map(|s| s.failure.as_ref()))
        {
            println!("  {} failed at {}: {}", g.name, f.step, f.reason);
        }
        for (note, sessions) in &g.notes {
            println!("  {} note ({sessions} sessions): {note}", g.name);
        }
    }
}

/// rtcbench's own cost, the capacity knee, an abort and each gate's verdict.
fn print_verdicts(r: &rtcbench::results::RunResults) {
    if let Some(cost) = &r.self_cost {
        println!("  rtcbench itself: {}", cost.describe());
    }
    if let Some(warning) = rtcbench::report::saturation_warning(r) {
        println!("  WARNING: {warning} Use fewer sessions per machine or more machines.");
    }
    if let Some(c) = &r.capacity {
        println!("  {}", c.describe());
    }
    if let Some(a) = &r.aborted_by {
        println!("  ABORTED: {}", a.describe());
    }
    for g in &r.gates {
        let observed = g
            .observed
            .map_or("no data".to_string(), |v| format!("{v:.2}"));
        let verdict = g.verdict();
        println!(
            "  gate {verdict}: {} [{}] observed {observed}",
            g.gate, g.group
        );
    }
}
