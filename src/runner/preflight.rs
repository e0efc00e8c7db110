//! Before any session starts: will the plan fit this machine? File descriptors against
//! `ulimit -n` (raised to the hard limit first, as Go's runtime does for every program), memory
//! against what the machine has available, and local ports against the ephemeral range. A plan
//! that cannot fit is refused with the figures and what to change, instead of failing every
//! join with EMFILE or growing until the kernel kills it.

use crate::plan::Plan;
use crate::record::Role;
use crate::scenario::{GroupKind, Transport};

/// What one session costs, from measurements with the release build (docs/measurement.md,
/// "Pre-flight") rounded up: resident memory of a light viewer, of a quality probe (it decodes
/// every frame) and of a publisher (it encodes), and descriptors (its UDP socket, its
/// signalling connection, the in-process SFU's side).
#[derive(Debug, Clone, Copy)]
pub struct SessionCost {
    pub light_bytes: u64,
    pub probe_bytes: u64,
    pub publisher_bytes: u64,
    pub fds: u64,
}

/// WebRTC sessions through the native client (measured: 1.3 MB and 3 descriptors a light
/// viewer, 9 MB a probe, at 640x360).
pub const WEBRTC_COST: SessionCost = SessionCost {
    light_bytes: 2 << 20,
    probe_bytes: 10 << 20,
    publisher_bytes: 16 << 20,
    fds: 4,
};
/// Sessions on the in-process simulated link, which opens no sockets (measured: 0.21 MB a
/// light viewer, 8 MB a probe).
pub const SIMULATED_COST: SessionCost = SessionCost {
    light_bytes: 256 << 10,
    probe_bytes: 10 << 20,
    publisher_bytes: 16 << 20,
    fds: 0,
};
/// What the process holds before its first session: the runtime, the SFU, TLS roots, codecs
/// (measured: 39 MB and 17 descriptors with one viewer).
const BASE_BYTES: u64 = 64 << 20;
const BASE_FDS: u64 = 32;
/// Memory left to the system and to rtcbench's results and report.
const MEMORY_HEADROOM: f64 = 0.8;

/// What a plan needs at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Needs {
    pub sessions: u64,
    pub probes: u64,
    pub publishers: u64,
    pub http_users: u64,
    pub fds: u64,
    pub memory_bytes: u64,
    /// Local UDP ports: one per WebRTC session.
    pub ports: u64,
}

/// What the machine offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Machine {
    pub fd_limit: u64,
    pub memory_available: u64,
    pub ephemeral_ports: u64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PreflightError {
    #[error("this plan needs about {needed} file descriptors ({sessions} sessions at its peak, {http_users} HTTP users) but `ulimit -n` allows {limit}: raise it (ulimit -n {suggest}) or run fewer sessions per machine")]
    Descriptors {
        needed: u64,
        limit: u64,
        sessions: u64,
        http_users: u64,
        suggest: u64,
    },
    #[error("this plan needs about {needed_gb:.1} GB for {sessions} sessions at its peak ({probes} of them quality probes, which decode every frame); the machine has {available_gb:.1} GB available: run fewer sessions per machine (fewer probes cost most), or split the audience across machines")]
    Memory {
        needed_gb: f64,
        available_gb: f64,
        sessions: u64,
        probes: u64,
    },
    #[error("this plan needs {needed} local UDP ports at its peak but the ephemeral range has {available} (net.ipv4.ip_local_port_range): run fewer sessions per machine")]
    Ports { needed: u64, available: u64 },
}

/// The peak of concurrent sessions (viewers, publishers, hosts) over the plan, and its costs.
pub fn needs(plan: &Plan) -> Needs {
    let mut changes: Vec<(u64, i64, Role, bool)> = Vec::new();
    let mut publishers = 0u64;
    let mut webrtc = false;
    for g in &plan.groups {
        webrtc |= g.transport == Transport::Webrtc;
        let own_publisher =
            !g.external_publisher && g.publisher_of.is_none() && !g.publisher_elsewhere;
        publishers += match g.kind {
            GroupKind::Room => u64::from(own_publisher),
            GroupKind::Call => 0,
            GroupKind::Cohost if g.publisher_elsewhere => 0,
            GroupKind::Cohost => g.cohost.as_ref().map_or(0, |c| c.hosts.len() as u64),
        };
        let publishes = g.kind == GroupKind::Call;
        for r in g.receivers.iter().filter(|r| !r.elsewhere) {
            let leave = r.leave_us.map_or(g.end_us, |l| g.start_us + l);
            changes.push((g.start_us + r.join_us, 1, r.role, publishes));
            changes.push((leave.max(g.start_us + r.join_us), -1, r.role, publishes));
        }
    }
    // Leaves before joins at the same instant: a churned seat is not counted twice.
    changes.sort_by_key(|&(at, step, ..)| (at, step));
    let (mut now, mut peak) = ((0i64, 0i64, 0i64), (0i64, 0i64, 0i64));
    for (_, step, role, publishes) in changes {
        now.0 += step;
        now.1 += step * i64::from(role == Role::Probe);
        now.2 += step * i64::from(publishes);
        if now.0 > peak.0 {
            peak = now;
        }
    }
    let capacity = plan.capacity.as_ref().map_or(0, |c| {
        c.steps
            .iter()
            .map(|s| u64::from(s.level))
            .max()
            .unwrap_or(0)
    });
    let viewers = (peak.0.max(0) as u64).max(capacity);
    let (probes, calling) = (peak.1.max(0) as u64, peak.2.max(0) as u64);
    let http_users: u64 = plan.http.iter().map(|h| h.users as u64).sum();
    let cost = if webrtc { WEBRTC_COST } else { SIMULATED_COST };
    let sessions = viewers + publishers;
    let senders = publishers + calling;
    Needs {
        sessions,
        probes,
        publishers: senders,
        http_users,
        fds: BASE_FDS + sessions * cost.fds + http_users,
        memory_bytes: BASE_BYTES
            + (viewers - probes.min(viewers)) * cost.light_bytes
            + probes * cost.probe_bytes
            + senders * cost.publisher_bytes,
        ports: if webrtc { sessions } else { 0 },
    }
}

/// Holds `needs` against `machine`: the first thing that does not fit.
pub fn check(needs: &Needs, machine: &Machine) -> Result<(), PreflightError> {
    if needs.fds > machine.fd_limit {
        return Err(PreflightError::Descriptors {
            needed: needs.fds,
            limit: machine.fd_limit,
            sessions: needs.sessions,
            http_users: needs.http_users,
            suggest: needs.fds.next_power_of_two(),
        });
    }
    let usable = machine.memory_available as f64 * MEMORY_HEADROOM;
    if needs.memory_bytes as f64 > usable {
        let gb = |b: f64| b / 1e9;
        return Err(PreflightError::Memory {
            needed_gb: gb(needs.memory_bytes as f64),
            available_gb: gb(machine.memory_available as f64),
            sessions: needs.sessions,
            probes: needs.probes,
        });
    }
    if needs.ports > machine.ephemeral_ports {
        return Err(PreflightError::Ports {
            needed: needs.ports,
            available: machine.ephemeral_ports,
        });
    }
    Ok(())
}

/// This machine, with the descriptor limit raised to the hard limit first.
pub fn this_machine() -> Machine {
    Machine {
        fd_limit: raise_fd_limit(),
        memory_available: memory_available().unwrap_or(u64::MAX),
        ephemeral_ports: ephemeral_ports().unwrap_or(u64::MAX),
    }
}

/// Raises the soft limit on open files to the hard one; the soft limit in force after.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed by pointer only.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return u64::MAX;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    limit.rlim_cur
}

/// MemAvailable from /proc/meminfo, in bytes.
fn memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut ends = text.split_whitespace().map(|p| p.parse::<u64>().ok());
    let (low, high) = (ends.next()??, ends.next()??);
    Some(high.saturating_sub(low) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(toml: &str) -> Plan {
        let s = crate::scenario::parse(toml, "t.toml").expect("scenario");
        crate::plan::build(&s, 1, None)
    }

    const ROOM: &str = "name = \"p\"\nduration = \"60s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"room\"\nreceivers = 1000\nprobes = 10\n";

    #[test]
    fn the_peak_counts_viewers_probes_and_the_publisher() {
        let n = needs(&plan_of(ROOM));
        assert_eq!((n.sessions, n.probes, n.publishers), (1001, 10, 1));
        assert_eq!(n.fds, BASE_FDS + 1001 * WEBRTC_COST.fds);
        assert_eq!(n.ports, 1001);
    }

    #[test]
    fn a_plan_over_the_machine_is_refused_with_the_figures() {
        let n = needs(&plan_of(
            &ROOM.replace("receivers = 1000", "receivers = 100000"),
        ));
        let roomy = Machine {
            fd_limit: 1 << 20,
            memory_available: 1 << 40,
            ephemeral_ports: 28_232,
        };
        let e = check(&n, &roomy).expect_err("ports").to_string();
        assert!(e.contains("100001 local UDP ports"), "{e}");
        let small = Machine {
            memory_available: 23 << 30,
            ..roomy
        };
        let e = check(&n, &small).expect_err("memory").to_string();
        assert!(
            e.contains("for 100001 sessions") && e.contains("24.7 GB available"),
            "{e}"
        );
        let few_fds = Machine {
            fd_limit: 1024,
            ..roomy
        };
        let e = check(&n, &few_fds).expect_err("descriptors").to_string();
        assert!(
            e.contains("allows 1024") && e.contains("ulimit -n 524288"),
            "{e}"
        );
        check(&needs(&plan_of(ROOM)), &roomy).expect("a thousand fit");
    }

    #[test]
    fn churned_viewers_are_counted_once_at_a_time() {
        // 50 viewers for 50 s, a fifth of them replaced each minute: many more sessions over
        // the run than 50, never more than 50 at once (and the publisher).
        let toml = "name = \"c\"\nduration = \"60s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"room\"\n\
                    churn_per_min = \"20%\"\n[[group.stages]]\nstep = \"1s\"\nto = 50\n[[group.stages]]\nhold = \"50s\"\n";
        let plan = plan_of(toml);
        let planned: usize = plan.groups.iter().map(|g| g.receivers.len()).sum();
        assert!(planned > 55, "{planned} sessions planned: no churn to test");
        let n = needs(&plan);
        assert!((50..=52).contains(&n.sessions), "{n:?}");
    }
}
