//! The kernel network path: clients in namespaces of their own, impaired by tbf and iptables
//! `statistic`, through real WebRTC sessions on the embedded provider. It needs root, iproute2
//! and iptables (CI has them); elsewhere the test says why it was skipped.

use crate::common;

use rtcbench::metrics::Metric;
use rtcbench::net::kernel::KernelNet;

fn leftovers(pid: u32) -> (Vec<String>, bool) {
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let namespaces = list
        .lines()
        .filter(|l| l.starts_with(&format!("rtcbench-{pid}-")))
        .map(String::from)
        .collect();
    let bridge = std::process::Command::new("ip")
        .args(["link", "show", &format!("rb{pid}br")])
        .output()
        .is_ok_and(|o| o.status.success());
    (namespaces, bridge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_and_a_rate_cap_in_the_kernel_are_realised_and_reported_and_nothing_is_left() {
    let _heavy = common::heavy().await;
    // The same checks the run makes at its start; without them the path cannot be tested here.
    if let Err(why) = KernelNet::open() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = common::temp_dir("kernel-path");
    let toml = format!(
        "{}{}",
        common::small_webrtc("kernel", "10s"),
        r#"
[network.lossy]
path = "kernel"
loss = "10%"
[network.narrow]
path = "kernel"
rate = "200kbps"
queue = "100ms"
[[group]]
name = "lossy"
receivers = 3
network = "lossy"
[[group]]
name = "narrow"
receivers = 1
network = "narrow"
"#
    );
    let r = common::run_in_process(&dir, &toml, 6, vec![]).await;
    let lossy = r.group("lossy").unwrap();
    let realised = lossy.link.loss_pct();
    let reported = lossy.totals.packet_loss_before_repair_pct;
    eprintln!(
        "lossy: iptables dropped {realised:.2} % of {} datagrams; receivers lost {reported:.2} % before repair, {:.2} % after",
        lossy.link.sent, lossy.totals.packet_loss_pct
    );
    assert!(lossy.link.sent > 2000, "{:?}", lossy.link);
    assert!((realised - 10.0).abs() <= 1.5, "realised {realised}");
    assert!(
        (reported - realised).abs() <= 1.5,
        "reported {reported}, realised {realised}"
    );
    assert!(lossy.sessions.iter().all(|s| s.joined));
    let narrow = r.group("narrow").unwrap();
    let kbps: Vec<f64> = narrow
        .metric(Metric::BitrateKbps)
        .unwrap()
        .intervals
        .iter()
        .filter(|i| i.summary.count > 0 && i.start_s >= 2.0)
        .map(|i| i.summary.mean)
        .collect();
    eprintln!(
        "narrow: received kbps per second {kbps:.0?}, tbf dropped {:.1} %",
        narrow.link.loss_pct()
    );
    assert!(
        !kbps.is_empty() && kbps.iter().all(|&k| k <= 200.0),
        "{kbps:?}"
    );
    assert!(
        narrow.link.dropped > 0,
        "the cap never bit: {:?}",
        narrow.link
    );
    let (namespaces, bridge) = leftovers(std::process::id());
    assert!(
        namespaces.is_empty() && !bridge,
        "left behind: {namespaces:?}, bridge {bridge}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
