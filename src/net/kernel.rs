//! The kernel path: each client in a network namespace of its own, joined to the host by a veth
//! pair on a bridge and impaired by the kernel: tbf for a rate cap with its queue, iptables
//! `statistic` for random loss, netem for delay and jitter where the kernel has it (this
//! machine's has not). It needs root, iproute2 and iptables; whatever it makes is removed when
//! the [`KernelNet`] is dropped (the end of a run, Ctrl-C included) or, if a run was killed,
//! by the next one.

use super::LinkStats;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KernelNetError {
    #[error("the kernel network path needs root (this process runs as uid {0})")]
    NotRoot(u32),
    #[error("the kernel network path needs `{tool}` (Debian package {package}): {reason}")]
    MissingTool {
        tool: &'static str,
        package: &'static str,
        reason: String,
    },
    #[error("the kernel network path could not {what}: {reason}")]
    Refused { what: String, reason: String },
    #[error("the kernel path delays and jitters with netem, and this kernel has no netem qdisc; a profile with delay or jitter needs the user-space path (path = \"user\")")]
    NoNetem,
}

/// What the kernel does to one direction of a client's traffic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelShape {
    pub delay: Duration,
    pub jitter: Duration,
    /// Share of datagrams dropped at random, 0 to 1.
    pub loss: f64,
    pub rate_bps: Option<u64>,
    /// How long the rate cap's queue may hold a datagram.
    pub queue: Duration,
}

impl KernelShape {
    /// What a profile asks of one direction (the uplink's own fields for what a client sends).
    pub fn of(p: &crate::scenario::NetworkProfile) -> Self {
        Self {
            delay: p.delay.0,
            jitter: p.jitter.0,
            loss: p.loss.fraction(),
            rate_bps: p.rate.map(|r| r.bps()),
            queue: p.queue.map_or(Duration::from_millis(200), |q| q.0),
        }
    }

    fn needs_netem(&self) -> bool {
        !self.delay.is_zero() || !self.jitter.is_zero()
    }
}

/// One client's namespace.
#[derive(Debug)]
pub struct ClientNet {
    pub namespace: String,
    host_side: String,
    pub ip: Ipv4Addr,
}

/// The bridge and the client namespaces of one run.
pub struct KernelNet {
    tag: String,
    bridge: String,
    subnet: u8,
    netem: bool,
    next: AtomicU32,
    namespaces: Mutex<Vec<String>>,
}

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `args` inside namespace `ns`, or on the host when there is none.
fn run_in(ns: Option<&str>, args: &[&str]) -> Result<String, String> {
    let Some(ns) = ns else {
        return run(args);
    };
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    run(&all)
}

const NAMESPACE_PREFIX: &str = "rtcbench-";

/// Namespaces and bridges left by runs that were killed (their process is gone).
fn remove_leftovers() {
    let Ok(list) = run(&["ip", "netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix(NAMESPACE_PREFIX)
            .and_then(|rest| rest.split('-').next())
            // Only ours (rtcbench-<pid>-cN): scripts/janus-local.sh's rtcbench-janus is not.
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run(&["ip", "netns", "del", name]);
            let _ = run(&["ip", "link", "del", &format!("rb{pid}br")]);
        }
    }
}

impl KernelNet {
    /// Checks that the path can run here (root, tools, qdiscs) and makes the run's bridge.
    pub fn open() -> Result<Self, KernelNetError> {
        let uid = unsafe { libc::geteuid() };
        if uid != 0 {
            return Err(KernelNetError::NotRoot(uid));
        }
        for (tool, package, probe) in [
            ("ip", "iproute2", ["ip", "-V"]),
            ("tc", "iproute2", ["tc", "-V"]),
            ("iptables", "iptables", ["iptables", "-V"]),
        ] {
            run(&probe).map_err(|reason| KernelNetError::MissingTool {
                tool,
                package,
                reason,
            })?;
        }
        remove_leftovers();
        let pid = std::process::id();
        let mut net = Self {
            tag: format!("rb{pid}"),
            bridge: format!("rb{pid}br"),
            // 10.64.0.0 to 10.95.0.0: clear of scripts/janus-local.sh's 10.99.0.0/24.
            subnet: 64 + (pid % 32) as u8,
            netem: false,
            next: AtomicU32::new(0),
            namespaces: Mutex::new(Vec::new()),
        };
        let refused = |what: &str| {
            let what = what.to_string();
            move |reason| KernelNetError::Refused { what, reason }
        };
        run(&["ip", "link", "add", &net.bridge, "type", "bridge"])
            .map_err(refused("make a bridge"))?;
        let host = format!("{}/16", net.host_ip());
        run(&["ip", "addr", "add", &host, "dev", &net.bridge])
            .map_err(refused("address the bridge"))?;
        run(&["ip", "link", "set", &net.bridge, "up"]).map_err(refused("bring the bridge up"))?;
        // A qdisc the kernel accepts on the bridge, taken off again.
        let try_qdisc = |qdisc: &[&str]| {
            let mut add = vec!["tc", "qdisc", "add", "dev", &net.bridge, "root"];
            add.extend_from_slice(qdisc);
            run(&add)?;
            run(&["tc", "qdisc", "del", "dev", &net.bridge, "root"]).map(|_| ())
        };
        try_qdisc(&["tbf", "rate", "1mbit", "burst", "16kb", "latency", "100ms"])
            .map_err(refused("add a tbf qdisc"))?;
        net.netem = try_qdisc(&["netem", "delay", "1ms"]).is_ok();
        Ok(net)
    }

    /// The host's address on the bridge: servers clients reach listen here.
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, 1)
    }

    /// A namespace for one client: `down` shapes what reaches it, `up` what it sends.
    pub fn client(
        &self,
        down: &KernelShape,
        up: &KernelShape,
    ) -> Result<ClientNet, KernelNetError> {
        if (down.needs_netem() || up.needs_netem()) && !self.netem {
            return Err(KernelNetError::NoNetem);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let c = ClientNet {
            namespace: format!("{NAMESPACE_PREFIX}{pid}-c{n}"),
            host_side: format!("{}h{n}", self.tag),
            ip: Ipv4Addr::new(10, self.subnet, (n / 250 + 1) as u8, (n % 250 + 2) as u8),
        };
        let peer = format!("{}p{n}", self.tag);
        let fail = |reason| KernelNetError::Refused {
            what: format!("set up namespace {}", c.namespace),
            reason,
        };
        run(&["ip", "netns", "add", &c.namespace]).map_err(fail)?;
        if let Ok(mut all) = self.namespaces.lock() {
            all.push(c.namespace.clone());
        }
        let ns = c.namespace.as_str();
        let address = format!("{}/16", c.ip);
        let gateway = self.host_ip().to_string();
        let on_host: [&[&str]; 3] = [
            &[
                "ip",
                "link",
                "add",
                &c.host_side,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
                "netns",
                ns,
            ],
            &["ip", "link", "set", &c.host_side, "master", &self.bridge],
            &["ip", "link", "set", &c.host_side, "up"],
        ];
        let inside: [&[&str]; 5] = [
            &["ip", "link", "set", "lo", "up"],
            &["ip", "link", "set", &peer, "name", "eth0"],
            &["ip", "addr", "add", &address, "dev", "eth0"],
            &["ip", "link", "set", "eth0", "up"],
            &["ip", "route", "add", "default", "via", &gateway],
        ];
        for step in on_host {
            run(step).map_err(fail)?;
        }
        for step in inside {
            run_in(Some(ns), step).map_err(fail)?;
        }
        shape(None, &c.host_side, down).map_err(fail)?;
        shape(Some(ns), "eth0", up).map_err(fail)?;
        for (chain, flag, s) in [("INPUT", "-i", down), ("OUTPUT", "-o", up)] {
            if s.loss > 0.0 {
                let p = format!("{:.6}", s.loss.min(1.0));
                let rule = [
                    "iptables",
                    "-A",
                    chain,
                    flag,
                    "eth0",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                    "DROP",
                ];
                run_in(Some(ns), &rule).map_err(fail)?;
            }
        }
        Ok(c)
    }

    /// A UDP socket on an ephemeral port inside the client's namespace.
    pub fn bind_udp(&self, c: &ClientNet) -> std::io::Result<std::net::UdpSocket> {
        let path = format!("/var/run/netns/{}", c.namespace);
        let ip = c.ip;
        // A thread joins the namespace, binds and ends; the socket stays where it was made.
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path)?;
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let socket = std::net::UdpSocket::bind((ip, 0))?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread failed")))
    }

    /// What the kernel did to the client's traffic so far: (towards it, from it). Delay is not
    /// counted on this path.
    pub fn realised(&self, c: &ClientNet) -> (LinkStats, LinkStats) {
        let ns = c.namespace.as_str();
        let host_tx = counter(None, &c.host_side, "tx_packets");
        let down_queue = qdisc_drops(None, &c.host_side);
        let down_loss = iptables_drops(ns, "INPUT");
        let up_tx = counter(Some(ns), "eth0", "tx_packets");
        let up_queue = qdisc_drops(Some(ns), "eth0");
        let up_loss = iptables_drops(ns, "OUTPUT");
        let stats = |passed: u64, queue: u64, loss: u64, sent_counts_loss: bool| {
            let sent = passed + queue + if sent_counts_loss { loss } else { 0 };
            let dropped = queue + loss;
            LinkStats {
                sent,
                dropped,
                delivered: sent.saturating_sub(dropped),
                delay_sum_us: 0,
            }
        };
        // Downlink losses happen after the veth (at the client's INPUT), uplink ones before it.
        (
            stats(host_tx, down_queue, down_loss, false),
            stats(up_tx, up_queue, up_loss, true),
        )
    }

    /// Removes a client's namespace (its veth pair goes with it).
    pub fn release(&self, c: ClientNet) {
        let _ = run(&["ip", "netns", "del", &c.namespace]);
        if let Ok(mut all) = self.namespaces.lock() {
            all.retain(|n| *n != c.namespace);
        }
    }
}

impl Drop for KernelNet {
    fn drop(&mut self) {
        if let Ok(all) = self.namespaces.lock() {
            for ns in all.iter() {
                let _ = run(&["ip", "netns", "del", ns]);
            }
        }
        let _ = run(&["ip", "link", "del", &self.bridge]);
    }
}

fn shape(ns: Option<&str>, dev: &str, s: &KernelShape) -> Result<(), String> {
    let rate = s.rate_bps.map(|bps| format!("{}bit", bps));
    let mut args: Vec<String> = ["tc", "qdisc", "add", "dev", dev, "root"]
        .map(String::from)
        .to_vec();
    if s.needs_netem() {
        args.extend(["netem", "delay"].map(String::from));
        args.push(format!("{}us", s.delay.as_micros()));
        if !s.jitter.is_zero() {
            args.push(format!("{}us", s.jitter.as_micros()));
        }
        if let Some(r) = &rate {
            args.extend(["rate".to_string(), r.clone()]);
        }
    } else if let Some(r) = &rate {
        let bps = s.rate_bps.unwrap_or(0);
        // A bucket of 10 ms at the rate, and never under one full-size datagram.
        let burst = (bps / 8 / 100).max(1600);
        let latency = s.queue.as_millis().max(1);
        args.extend(["tbf", "rate", r.as_str()].map(String::from));
        args.extend(["burst".to_string(), format!("{burst}b")]);
        args.extend(["latency".to_string(), format!("{latency}ms")]);
    } else {
        return Ok(());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(ns, &args).map(|_| ())
}

fn counter(ns: Option<&str>, dev: &str, name: &str) -> u64 {
    let path = format!("/sys/class/net/{dev}/statistics/{name}");
    let text = run_in(ns, &["cat", &path]).unwrap_or_default();
    text.trim().parse().unwrap_or(0)
}

/// Datagrams the device's root qdisc dropped (`tc -s`: "... (dropped N, ...").
fn qdisc_drops(ns: Option<&str>, dev: &str) -> u64 {
    let args = ["tc", "-s", "qdisc", "show", "dev", dev];
    let text = run_in(ns, &args).unwrap_or_default();
    text.split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Datagrams the chain's statistic rule dropped.
fn iptables_drops(ns: &str, chain: &str) -> u64 {
    let text = run_in(Some(ns), &["iptables", "-L", chain, "-v", "-x", "-n"]).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("statistic"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
