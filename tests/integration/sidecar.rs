//! The sidecar protocol (docs/sidecar-protocol.md) against the bundled browser sidecar
//! (node, playwright-core and Debian's chromium; CI installs them, elsewhere the tests say
//! what is missing and pass): the protocol's rules, a room where the browser plays beside the
//! native client on the same stream, and the vendor pages, whose clouds are out of reach here.

use crate::common;

use rtcbench::client::sidecar::{Command, Credentials, Event, Sidecar};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

const SIDECAR: &str = "sidecar/browser/sidecar.js";

/// The browser sidecar's command, or `None` (with the reason printed) when it cannot run here.
fn browser_sidecar() -> Option<Vec<String>> {
    let chromium =
        std::env::var("RTCBENCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node").arg("--version").output();
    let missing = if !node.is_ok_and(|o| o.status.success()) {
        Some("node is not installed".to_string())
    } else if !Path::new(&chromium).exists() {
        Some(format!(
            "no chromium at {chromium} (apt-get install chromium)"
        ))
    } else if !Path::new("sidecar/browser/node_modules/playwright-core").is_dir() {
        Some("npm ci --prefix sidecar/browser has not been run".to_string())
    } else {
        None
    };
    match missing {
        Some(why) => {
            eprintln!("skipped: {why}");
            None
        }
        None => Some(vec!["node".into(), SIDECAR.into()]),
    }
}

/// The next event, within `limit`.
async fn next(events: &mut UnboundedReceiver<Event>, limit: Duration) -> Event {
    tokio::time::timeout(limit, events.recv())
        .await
        .expect("an event in time")
        .expect("the sidecar is still there")
}

fn join(id: &str, page: &str, endpoints: &[(&str, &str)], credentials: &[(&str, &str)]) -> Command {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Command::Join {
        id: id.into(),
        page: page.into(),
        room: "rtcbench-test".into(),
        endpoints: map(endpoints),
        credentials: Credentials(map(credentials)),
        timeout_ms: 5_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_sidecar_keeps_the_protocols_rules() {
    let _heavy = common::heavy().await;
    let Some(command) = browser_sidecar() else {
        return;
    };
    let sidecar = Sidecar::start(&command)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let who = &sidecar.identity;
    assert_eq!(who.client, "browser");
    assert!(who.version.starts_with("chromium "), "{}", who.version);
    for page in ["whip-whep", "agora", "trtc", "zego"] {
        assert!(who.pages.iter().any(|p| p == page), "{:?}", who.pages);
    }
    let wait = Duration::from_secs(10);
    let error = |e: Event| match e {
        Event::Error { id, step, message } => (id, step, message),
        other => panic!("expected an error, got {other:?}"),
    };

    let mut x = sidecar.open("x");
    sidecar
        .send_line(r#"{"cmd":"frobnicate","id":"x"}"#)
        .await
        .unwrap();
    let (id, step, message) = error(next(&mut x, wait).await);
    assert_eq!((id.as_deref(), step.as_str()), (Some("x"), "protocol"));
    assert!(message.contains("frobnicate"), "{message}");

    let mut y = sidecar.open("y");
    sidecar
        .send(&Command::Subscribe { id: "y".into() })
        .await
        .unwrap();
    let (_, step, message) = error(next(&mut y, wait).await);
    assert_eq!(step, "protocol", "{message}");

    let mut j = sidecar.open("j");
    sidecar
        .send(&join("j", "no-such-page", &[], &[]))
        .await
        .unwrap();
    let (_, step, message) = error(next(&mut j, wait).await);
    assert!(
        step == "join" && message.contains("no-such-page"),
        "{message}"
    );

    // A WHEP endpoint nobody listens on: joining needs no signalling, subscribing fails.
    let mut w = sidecar.open("w");
    let refused = [("whep_url", "http://127.0.0.1:9/whep/rtcbench-test")];
    sidecar
        .send(&join("w", "whip-whep", &refused, &[]))
        .await
        .unwrap();
    assert!(matches!(next(&mut w, wait).await, Event::Joined { .. }));
    sidecar
        .send(&Command::Subscribe { id: "w".into() })
        .await
        .unwrap();
    let (id, step, message) = error(next(&mut w, wait).await);
    assert_eq!(
        (id.as_deref(), step.as_str()),
        (Some("w"), "subscribe"),
        "{message}"
    );
    sidecar
        .send(&Command::Leave { id: "w".into() })
        .await
        .unwrap();
    assert!(matches!(next(&mut w, wait).await, Event::Left { .. }));

    let code = sidecar.shutdown(Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "shutdown must end the sidecar cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_plays_a_room_beside_the_native_client_and_their_marker_latencies_agree() {
    let _heavy = common::heavy().await;
    let Some(command) = browser_sidecar() else {
        return;
    };
    let dir = common::temp_dir("sidecar-room");
    let provider = dir.join("browser.toml");
    std::fs::write(
        &provider,
        format!(
            "name = \"embedded-browser\"\nkind = \"embedded\"\n[sidecar]\ncommand = {command:?}\n\
             page = \"whip-whep\"\nevery = 2\n"
        ),
    )
    .expect("write");
    let toml = format!(
        "{}[[group]]\nname = \"room\"\nreceivers = 2\n",
        common::small_webrtc("browser", "10s")
    );
    let r = common::run_in_process(&dir, &toml, 4, vec![provider]).await;
    let g = r.group("room").expect("room");
    let by = |client: &str| {
        g.sessions
            .iter()
            .find(|s| s.client == client)
            .unwrap_or_else(|| panic!("no {client} session: {:?}", g.sessions))
    };
    let (native, browser) = (by("native"), by("browser"));
    for s in [native, browser] {
        eprintln!(
            "{} ({}): first frame {:?} ms, e2e p50 {:?} p95 {:?} ms, fps {:.1}, frames {}, \
             frames lost {}, freezes {}, loss {:.2} %, jitter {:.2} ms",
            s.id,
            s.client,
            s.first_frame_ms,
            s.e2e_latency_p50_ms,
            s.e2e_latency_p95_ms,
            s.fps,
            s.frames_rendered,
            s.frames_lost,
            s.freeze_w3c.count,
            s.packet_loss_pct,
            s.jitter_ms
        );
        assert!(s.joined && s.failure.is_none(), "{s:?}");
    }
    // About 9 s of a 30 fps stream, each frame's marker read in the browser's canvas.
    assert!(browser.frames_rendered > 200, "{}", browser.frames_rendered);
    assert!(browser.frames_lost < 15, "{}", browser.frames_lost);
    assert!(
        browser.packets_received > 0,
        "getStats counters reached the summary"
    );
    let (n, b) = (
        native.e2e_latency_p50_ms.expect("native latency"),
        browser.e2e_latency_p50_ms.expect("browser latency"),
    );
    assert!((b - n).abs() < 20.0, "browser {b} ms vs native {n} ms");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_pages_load_their_sdks_and_fail_with_cannot_reach_the_vendor() {
    let _heavy = common::heavy().await;
    let Some(command) = browser_sidecar() else {
        return;
    };
    let dir = common::temp_dir("sidecar-vendors");
    let vendors = [
        ("agora", "Agora"),
        ("trtc", "Tencent TRTC"),
        ("zego", "ZEGO"),
    ];
    for (page, vendor) in vendors {
        let provider = dir.join(format!("{page}.toml"));
        std::fs::write(
            &provider,
            format!(
                "name = \"{page}\"\nkind = \"sidecar\"\nstep_timeout = \"3s\"\n[sidecar]\n\
                 command = {command:?}\npage = \"{page}\"\n\
                 credentials_env = {{ app_id = \"RTCBENCH_TEST_APP_ID\", token = \"RTCBENCH_TEST_TOKEN\" }}\n"
            ),
        )
        .expect("write");
        let scenario = dir.join(format!("{page}-room.toml"));
        let toml = format!(
            "{}[[group]]\nname = \"room\"\nreceivers = 1\n",
            common::small_webrtc(page, "4s")
        );
        std::fs::write(&scenario, toml).expect("write");
        let out = dir.join(page);
        // The credentials reach the run through its environment, as a user's would.
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_rtcbench"))
            .args(["run", scenario.to_str().unwrap(), "--provider"])
            .arg(&provider)
            .arg("--out")
            .arg(&out)
            .env("RTCBENCH_TEST_APP_ID", "1400000001")
            .env("RTCBENCH_TEST_TOKEN", "eJyrVkrOz0nNUbIqLkksLS5RslIqzsgvyEmtTM9T0lFKTS4pSizJzM8DSucl5qYqWSmVFqcWKdUCAMjiEdk")
            .output()
            .expect("rtcbench run");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{stderr}");
        assert!(
            !stderr.contains("eJyrVkrOz0"),
            "a token reached the log: {stderr}"
        );
        let r = rtcbench::results::RunResults::read(&out.join("run.json")).expect("run.json");
        let g = r.group("room").expect("room");
        let failures: Vec<_> = g
            .sessions
            .iter()
            .filter_map(|s| s.failure.as_ref())
            .chain(&g.publisher_failures)
            .collect();
        assert_eq!(
            failures.len(),
            2,
            "the publisher and the viewer: {failures:?}"
        );
        for f in failures {
            assert_eq!(f.step, "join", "{f:?}");
            let want = format!("cannot reach {vendor}");
            assert!(f.reason.contains(&want), "{}", f.reason);
            assert!(!f.reason.contains("did not load"), "{}", f.reason);
        }
        eprintln!("{page}: {}", g.publisher_failures[0].reason);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A sidecar that writes a line without end is cut off at the line limit with that reason,
/// instead of its output growing in rtcbench's memory.
#[tokio::test]
async fn a_sidecar_line_over_the_limit_ends_the_sidecar_with_the_reason() {
    let script = "import sys\n\
        sys.stdout.write('{\"event\":\"ready\",\"protocol\":1,\"client\":\"endless\",\"version\":\"0\",\"pages\":[]}\\n')\n\
        sys.stdout.flush()\n\
        sys.stdout.write('x' * (8 << 20))\n\
        sys.stdout.flush()\n\
        import time; time.sleep(10)\n";
    let command: Vec<String> = ["python3", "-c", script].map(String::from).to_vec();
    let sidecar = Sidecar::start(&command).await.expect("ready");
    let mut events = sidecar.open("s1");
    let closed = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
    assert!(matches!(closed, Ok(None)), "the session's channel closes");
    let e = sidecar.broken("unused".into()).to_string();
    assert!(e.contains("a line over the 1048576-byte limit"), "{e}");
    sidecar.shutdown(Duration::from_millis(100)).await;
}
