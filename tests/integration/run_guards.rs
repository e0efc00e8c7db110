//! A run in a hostile world, as a user's shell and Kubernetes drive it: signals stop it with
//! what it measured (and a second one at once), earlier results are never overwritten, and a
//! plan that cannot fit the machine is refused before any session starts.

use crate::common::{self, bin, run_to, wait_for};
use rtcbench::results::RunResults;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    common::temp_dir(&format!("guards-{tag}"))
}

/// Two simulated rooms for a minute: long enough to be stopped.
const LONG_RUN: &str = "name = \"long\"\nduration = \"60s\"\n[video]\nwidth = 320\nheight = 180\n\
    [[group]]\nname = \"near\"\nreceivers = 2\nprobes = 1\n[[group]]\nname = \"far\"\nreceivers = 2\n";

/// Starts a 60 s run of `LONG_RUN` into `out`; its stderr is piped.
fn start_long_run(dir: &Path, out: &Path) -> std::process::Child {
    let scenario = dir.join("long.toml");
    std::fs::write(&scenario, LONG_RUN).expect("write");
    bin()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn send(signal: &str, child: &std::process::Child) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// Ctrl-C and what Kubernetes sends a pod alike: the run stops, writes what it measured, and
/// exits 5 (stopped early), not 0.
#[test]
fn sigint_and_sigterm_flush_what_was_measured_and_exit_5() {
    let _heavy = common::heavy_blocking();
    for signal in ["INT", "TERM"] {
        let dir = temp_dir(&format!("sig{signal}"));
        let out = dir.join("out");
        let mut child = start_long_run(&dir, &out);
        std::thread::sleep(Duration::from_secs(3));
        send(signal, &child);
        let status = wait_for(&mut child, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("rtcbench did not stop on SIG{signal}"));
        assert_eq!(status.code(), Some(5), "SIG{signal}: {status}");
        let r = RunResults::read(&out.join("run.json")).expect("partial run.json");
        assert!(!r.completed, "a stopped run is marked incomplete");
        assert!(r.duration_s < 10.0, "stopped after {} s", r.duration_s);
        assert!(
            r.group("near")
                .map(|g| g.totals.frames_rendered > 0)
                .unwrap_or(false),
            "what ran was kept"
        );
        assert!(Path::new(&out.join("report.html")).is_file());
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// A second signal does not wait for the graceful stop: here the stop is slow because the
/// provider holds a join's offer unanswered (the step timeout is 20 s), yet the process is gone
/// at once, with the status a shell gives a process killed by SIGTERM.
#[test]
fn a_second_signal_exits_at_once() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("second-signal");
    // A WHIP server that takes connections and never answers them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(64).collect();
        drop(held);
    });
    let provider = dir.join("silent.toml");
    std::fs::write(
        &provider,
        format!(
            "name = \"silent\"\nkind = \"whip-whep\"\nwhip_url = \"http://{addr}/whip/{{room}}\"\n\
             whep_url = \"http://{addr}/whep/{{room}}\"\nstep_timeout = \"20s\"\n"
        ),
    )
    .expect("write");
    let scenario = dir.join("room.toml");
    std::fs::write(
        &scenario,
        "name = \"slow-stop\"\nduration = \"60s\"\ntransport = \"webrtc\"\n\
         [video]\nwidth = 320\nheight = 180\n[[group]]\nname = \"room\"\nreceivers = 1\n",
    )
    .expect("write");
    let mut child = bin()
        .args(["run", scenario.to_str().unwrap(), "--provider"])
        .arg(&provider)
        .arg("--out")
        .arg(dir.join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(2));
    send("TERM", &child);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the graceful stop was not slow, so this test shows nothing"
    );
    send("TERM", &child);
    let status =
        wait_for(&mut child, Duration::from_secs(3)).expect("still running after two signals");
    assert_eq!(status.code(), Some(143), "{status}");
    let mut said = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut said).ok();
    assert!(said.contains("SIGTERM: stopping"), "{said}");
    assert!(said.contains("second signal: exiting now"), "{said}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A plan that cannot fit the machine is refused before any session starts, with the figures:
/// before, 100,000 receivers validated and then grew ~400 MB/s until killed at 8 GB.
#[test]
fn a_plan_larger_than_the_machine_is_refused_up_front() {
    let dir = temp_dir("preflight-memory");
    let scenario = dir.join("huge.toml");
    std::fs::write(
        &scenario,
        "name = \"huge\"\nduration = \"5s\"\n[[group]]\nname = \"g\"\nreceivers = 400000\nprobes = 10\n",
    )
    .expect("write");
    let started = Instant::now();
    let o = run_to(&scenario, &dir.join("out"));
    assert_eq!(o.status.code(), Some(1));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("for 400001 sessions at its peak") && said.contains("GB available"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(!dir.join("out").exists(), "a refused plan leaves no folder");
    std::fs::remove_dir_all(&dir).ok();
}

/// At a tiny `ulimit -n` (hard limit too, so it cannot be raised) the run is refused with the
/// figures, where before reqwest panicked (12) or every join failed with EMFILE (24).
#[test]
fn too_few_file_descriptors_are_refused_without_a_panic() {
    let dir = temp_dir("preflight-fds");
    let scenario = dir.join("room.toml");
    std::fs::write(
        &scenario,
        "name = \"fds\"\nduration = \"3s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"g\"\nreceivers = 1\n",
    )
    .expect("write");
    for limit in ["12", "24"] {
        let o = Command::new("sh")
            .args([
                "-c",
                &format!("ulimit -Sn {limit} && ulimit -Hn {limit} && exec \"$0\" \"$@\""),
            ])
            .arg(env!("CARGO_BIN_EXE_rtcbench"))
            .args(["run", scenario.to_str().unwrap(), "--out"])
            .arg(dir.join(format!("out-{limit}")))
            .output()
            .expect("runs");
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "ulimit {limit}: {said}");
        assert!(
            said.contains(&format!("`ulimit -n` allows {limit}")) && !said.contains("panicked"),
            "ulimit {limit}: {said}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// An earlier run is never replaced without a word: `--out` at a run folder is refused (the
/// old run.json untouched) unless `--force` is given.
#[test]
fn out_at_an_earlier_run_is_refused_without_force() {
    let dir = temp_dir("out-taken");
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"taken\"\nduration = \"1s\"\ntransport = \"simulated\"\n[[group]]\nname = \"g\"\nreceivers = 1\n",
    )
    .expect("write");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("run.json"), "the earlier run").expect("write");
    let o = run_to(&scenario, &out);
    assert_eq!(o.status.code(), Some(1));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("holds an earlier run") && said.contains("--force"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("run.json")).expect("read"),
        "the earlier run"
    );
    let o = bin()
        .args(["run", scenario.to_str().unwrap(), "--out"])
        .arg(&out)
        .arg("--force")
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    RunResults::read(&out.join("run.json")).expect("replaced by a whole run.json");
    std::fs::remove_dir_all(&dir).ok();
}

/// rtcbench samples its own memory every interval into run.json, and once the sessions are up
/// it stays flat: per-interval data is packed as each interval closes. Before, the same two
/// rooms grew 0.7 MB a second (per-interval histograms of 16-60 kB each, kept live).
#[test]
fn memory_is_sampled_each_interval_and_stays_flat_once_sessions_are_up() {
    let _heavy = common::heavy_blocking();
    let dir = temp_dir("memory");
    let scenario = dir.join("rooms.toml");
    std::fs::write(
        &scenario,
        "name = \"memory\"\nduration = \"20s\"\n[video]\nwidth = 320\nheight = 180\n\
         [[group]]\nname = \"a\"\nreceivers = 20\nprobes = 1\n[[group]]\nname = \"b\"\nreceivers = 20\n",
    )
    .expect("write");
    let out = dir.join("out");
    let o = run_to(&scenario, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = RunResults::read(&out.join("run.json")).expect("run.json");
    let rss: Vec<f64> = r
        .self_cost
        .as_ref()
        .expect("self-measurement")
        .intervals
        .iter()
        .map(|i| i.rss_mb.expect("every interval has its RSS"))
        .collect();
    assert!(rss.len() >= 19, "{rss:?}");
    assert!(rss.iter().all(|&mb| mb > 5.0), "{rss:?}");
    // From 5 s in (sessions up) to the end: at the old rate this was about 10 MB.
    let growth = rss[rss.len() - 1] - rss[5];
    assert!(growth < 2.5, "grew {growth:.1} MB over 15 s: {rss:?}");
    std::fs::remove_dir_all(&dir).ok();
}
