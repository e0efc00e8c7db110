//! `--metrics` under hostile scrapers: many clients scraping as fast as they can, readers that
//! take a byte a second, and connections that never send a request. The run's own timers must
//! not notice: their p99 lateness is compared with the same run while nobody scrapes. The
//! attackers run at the lowest CPU priority, as the CPU they burn themselves is not the
//! endpoint's doing; the endpoint must still answer them.

use super::common;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SCENARIO: &str = "[[group]]\nname = \"room\"\nreceivers = 6\nstagger = \"100ms\"\n";
const FAST_SCRAPERS: usize = 32;
const SLOW_READERS: usize = 48;
const SILENT: usize = 16;

fn lowest_priority() {
    // SAFETY: lowers this thread's own priority only.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

fn scrape(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    if s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut body = Vec::new();
    s.read_to_end(&mut body).is_ok() && body.starts_with(b"HTTP/1.0 200")
}

/// Starts the attack on `port`; it runs until `stop`. Returns the count of answered scrapes.
fn attack(port: u16, stop: Arc<AtomicBool>) -> (Arc<AtomicU64>, Vec<std::thread::JoinHandle<()>>) {
    let answered = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..FAST_SCRAPERS {
        let (stop, answered) = (stop.clone(), answered.clone());
        threads.push(std::thread::spawn(move || {
            lowest_priority();
            while !stop.load(Ordering::Relaxed) {
                if scrape(port) {
                    answered.fetch_add(1, Ordering::Relaxed);
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }));
    }
    let stop_slow = stop.clone();
    threads.push(std::thread::spawn(move || {
        lowest_priority();
        let mut slow: Vec<TcpStream> = Vec::new();
        while !stop_slow.load(Ordering::Relaxed) {
            // Keep the slow readers and the silent ones connected, reconnecting as they are cut.
            slow.retain(|s| s.peer_addr().is_ok());
            while slow.len() < SLOW_READERS + SILENT {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    break;
                };
                if slow.len() < SLOW_READERS {
                    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                }
                let _ = s.set_read_timeout(Some(Duration::from_millis(5)));
                slow.push(s);
            }
            for s in slow.iter_mut() {
                let mut one = [0u8; 1];
                if let Ok(0) = s.read(&mut one) {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }));
    (answered, threads)
}

/// One run with `--metrics`, attacked or not: its timers' p99 lateness and the scrapes answered.
fn run(dir: &std::path::Path, tag: &str, hostile: bool) -> (f64, u64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!("{}{SCENARIO}", common::small_webrtc("hostile", "12s")),
    )
    .unwrap();
    let out = dir.join(tag);
    let mut child = common::bin()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--force",
        ])
        .args([
            "--metrics",
            &format!("127.0.0.1:{port}"),
            "--metrics-linger",
            "0s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rtcbench");
    let stop = Arc::new(AtomicBool::new(false));
    let attacking = hostile.then(|| {
        // Once the endpoint is up.
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(50));
        }
        attack(port, stop.clone())
    });
    let status = common::wait_for(&mut child, Duration::from_secs(120)).expect("run ended");
    stop.store(true, Ordering::Relaxed);
    let answered = match attacking {
        Some((answered, threads)) => {
            for t in threads {
                let _ = t.join();
            }
            answered.load(Ordering::Relaxed)
        }
        None => 0,
    };
    assert!(status.success(), "{tag}: {status:?}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let lag = r["self_cost"]["runtime_lag_p99_ms"]
        .as_f64()
        .expect("lag p99");
    (lag, answered)
}

#[test]
fn hostile_scrapers_do_not_slow_the_run() {
    let _heavy = common::heavy_blocking();
    let dir = common::temp_dir("hostile-scrapers");
    let (quiet, _) = run(&dir, "quiet", false);
    let (attacked, answered) = run(&dir, "attacked", true);
    let (quiet_again, _) = run(&dir, "quiet-again", false);
    eprintln!(
        "timer lag p99: quiet {quiet:.2} ms, attacked {attacked:.2} ms ({answered} scrapes answered), quiet again {quiet_again:.2} ms"
    );
    assert!(
        answered > 100,
        "the endpoint answered {answered} scrapes under attack"
    );
    // Within noise: no worse than the worse quiet run by more than 2 ms and a half.
    let noise = quiet.max(quiet_again);
    assert!(
        attacked <= noise * 1.5 + 2.0,
        "attacked {attacked:.2} ms against quiet {quiet:.2} and {quiet_again:.2} ms"
    );
}
