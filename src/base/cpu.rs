//! What this process, and every process it started, has used of the machine, for the
//! generator's self-measurement: a sidecar's browsers can take more of the machine than
//! rtcbench does, and a verdict that left them out would call a starved run clean.

/// CPU seconds this process has used so far (user + system).
pub fn process_cpu_s() -> Option<f64> {
    rusage_cpu_s(libc::RUSAGE_SELF)
}

/// CPU seconds of this process's children that have exited and been reaped.
fn children_cpu_s() -> Option<f64> {
    rusage_cpu_s(libc::RUSAGE_CHILDREN)
}

fn rusage_cpu_s(who: libc::c_int) -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given and nothing else.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: rc == 0 means the kernel filled the struct.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(usage.ru_utime) + secs(usage.ru_stime))
}

/// CPU seconds used so far by the processes this one started and are still running, with
/// their own reaped children (Linux `/proc`; 0 elsewhere). With the reaped children's usage
/// added ([`generator_cpu_s`]), the sum never goes back as descendants exit.
pub fn descendants_cpu_s() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    // (pid, parent, CPU ticks of itself and its reaped children)
    let processes: Vec<(u32, u32, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (parent, ticks) = parse_stat(&stat)?;
            Some((pid, parent, ticks))
        })
        .collect();
    let mut tree = vec![std::process::id()];
    let mut ticks = 0u64;
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, parent, t) in &processes {
            if tree.contains(&parent) && !tree.contains(&pid) {
                tree.push(pid);
                ticks += t;
                grew = true;
            }
        }
    }
    // SAFETY: sysconf only reads a configuration value.
    let per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_s <= 0 {
        return 0.0;
    }
    ticks as f64 / per_s as f64
}

/// The parent pid and utime + stime + cutime + cstime of a `/proc/PID/stat` line.
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    // The command name is in parentheses and may hold spaces; the fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let parent = fields.get(1)?.parse().ok()?;
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    Some((parent, ticks))
}

/// This process and everything it started: the generator's whole cost.
pub fn generator_cpu_s() -> Option<f64> {
    Some(process_cpu_s()? + children_cpu_s()? + descendants_cpu_s())
}

/// This process's resident memory now, in bytes (Linux `/proc/self/statm`; None elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system and has no other effect.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_grows_with_work_done() {
        let before = process_cpu_s().expect("getrusage");
        let mut x = 0u64;
        let start = std::time::Instant::now();
        // Busy until 200 ms of CPU are counted, however busy the machine is (a wall-clock
        // budget fails on a loaded one); the wall limit only keeps a broken reader bounded.
        let mut spent = 0.0;
        while spent < 0.2 && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            spent = process_cpu_s().expect("getrusage") - before;
        }
        std::hint::black_box(x);
        assert!(spent >= 0.2, "{spent} s of CPU after 10 s of busy looping");
    }

    #[test]
    fn a_stat_line_gives_its_parent_and_cpu_ticks() {
        let line =
            "4242 (Web Content (x)) S 4000 4242 4000 0 -1 4194560 1 0 0 0 700 300 20 10 20 0 1 0";
        assert_eq!(parse_stat(line), Some((4000, 1030)));
    }

    #[test]
    fn a_busy_child_process_counts_while_it_runs() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("spawn a busy shell");
        // Read until 0.2 s are counted: a loaded machine gives the child less of the wall
        // clock, and a fixed sleep then fails; the limit only keeps a broken reader bounded.
        let start = std::time::Instant::now();
        let mut seen = 0.0;
        while seen < 0.2 && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(100));
            seen = descendants_cpu_s();
        }
        child.kill().ok();
        child.wait().ok();
        assert!(seen >= 0.2, "{seen} s of the child's CPU seen in 10 s");
    }
}
