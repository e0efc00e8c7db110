//! Co-hosting over real WebRTC: two linked hosts, an audience, a PK round and the switch of the
//! pair to a private call. The schedule is checked session by session, and the switch time is
//! checked against a known truth: a signalling front that holds the call's WHEP requests for
//! 300 ms must show up in switch_ms, and nowhere else.

use crate::common;

use axum::extract::{Path, State};
use axum::response::Response;
use rtcbench::metrics::Metric;
use std::time::Duration;

const CALL_DELAY: Duration = Duration::from_millis(300);

#[derive(Clone)]
struct Front {
    upstream: String,
    http: reqwest::Client,
}

async fn whip(State(f): State<Front>, Path(room): Path<String>, body: String) -> Response {
    common::forward(&f.http, &f.upstream, "whip", &room, body).await
}

/// Holds WHEP offers for the private call's rooms only.
async fn whep(State(f): State<Front>, Path(room): Path<String>, body: String) -> Response {
    if room.contains("-call") {
        tokio::time::sleep(CALL_DELAY).await;
    }
    common::forward(&f.http, &f.upstream, "whep", &room, body).await
}

const SHOW: &str = r#"[[group]]
name = "show"
kind = "cohost"
hosts = 2
receivers = 4
stagger = "100ms"
probes = 1
pk = [{ start = "2s", end = "5s" }]
switch_to_call = "6s"

[[gate]]
metric = "switch_ms"
stat = "max"
below = 2000
group = "show/hosts"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_link_pk_and_switch_to_a_call_on_schedule() {
    let _heavy = common::heavy().await;
    let sfu = common::start_sfu().await;
    let front = Front {
        upstream: format!("http://{}", sfu.http_addr),
        http: reqwest::Client::new(),
    };
    let app = axum::Router::new()
        .route("/whip/{room}", axum::routing::post(whip))
        .route("/whep/{room}", axum::routing::post(whep))
        .with_state(front);
    let addr = common::serve(app).await;

    let dir = common::temp_dir("cohost");
    let provider = common::whip_whep_provider(&dir, "front", &format!("http://{addr}"), "");
    let toml = format!("{}{SHOW}", common::small_webrtc("cohost", "9s"));
    let r = common::run_in_process(&dir, &toml, 3, vec![provider]).await;

    let audience = r.group("show").expect("audience group");
    let hosts = r.group("show/hosts").expect("host links reported apart");
    let session = |g: &rtcbench::results::GroupResult, id: &str| {
        g.sessions
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| {
                panic!(
                    "no session {id}: {:?}",
                    g.sessions.iter().map(|s| &s.id).collect::<Vec<_>>()
                )
            })
            .clone()
    };
    let near = |t: Option<f64>, want: f64| t.is_some_and(|t| (t - want).abs() < 0.6);
    // Linked hosts watch each other until the switch (group start is the run's start).
    for id in ["show/h0<-h1", "show/h1<-h0"] {
        let s = session(hosts, id);
        assert!(s.joined, "{id}: {:?}", s.failure);
        assert!(near(s.left_s, 6.0), "{id} left at {:?}", s.left_s);
    }
    // The private call: dialled at the switch, joined, and its connect time is the switch time.
    let mut call_connect: Vec<f64> = ["show/h0<-h1/call", "show/h1<-h0/call"]
        .iter()
        .map(|id| {
            let s = session(hosts, id);
            assert!(s.joined, "{id}: {:?}", s.failure);
            assert_eq!(s.planned_join_s, Some(6.0));
            s.connect_ms.expect("call connect time")
        })
        .collect();
    call_connect.sort_by(f64::total_cmp);
    let switch = hosts.metric(Metric::SwitchMs).expect("switch_ms recorded");
    assert_eq!(switch.summary.count, 2);
    eprintln!(
        "switch_ms {:.1}..{:.1}",
        switch.summary.min, switch.summary.max
    );
    // Truth: the front held each call WHEP 300 ms; the rest of the switch is loopback ICE/DTLS
    // and one frame, which a 2-core box does in well under 400 ms.
    let held = CALL_DELAY.as_secs_f64() * 1000.0;
    for ms in [switch.summary.min, switch.summary.max] {
        assert!((held..held + 400.0).contains(&ms), "switch {ms} ms");
    }
    assert!((switch.summary.max - call_connect[1]).abs() < 1.0);
    // Joins outside the call were not held: the audience connected in well under 300 ms.
    let home = session(audience, "show/r000");
    assert!(
        home.joined && home.connect_ms.is_some_and(|ms| ms < held),
        "{:?}",
        home.connect_ms
    );
    // The audience leaves with its host at the switch; PK sessions run 2 s → 5 s.
    assert!(near(home.left_s, 6.0), "{:?}", home.left_s);
    for i in 0..4 {
        let pk = session(audience, &format!("show/r{i:03}/pk1"));
        assert!(pk.joined, "pk {i}: {:?}", pk.failure);
        assert_eq!(pk.planned_join_s, Some(2.0));
        assert!(near(pk.left_s, 5.0), "pk {i} left at {:?}", pk.left_s);
    }
    // Host↔host latency is reported apart from the audience's.
    assert!(hosts
        .metric(Metric::E2eLatencyMs)
        .is_some_and(|m| m.summary.count > 100));
    assert!(audience
        .metric(Metric::E2eLatencyMs)
        .is_some_and(|m| m.summary.count > 100));
    assert!(audience.metric(Metric::SwitchMs).is_none());
    assert!(r.gates.iter().all(|g| g.passed), "{:?}", r.gates);
    let marks: Vec<&str> = r
        .timeline
        .as_ref()
        .unwrap()
        .marks
        .iter()
        .map(|m| m.label.as_str())
        .collect();
    assert_eq!(
        marks,
        [
            "show: PK 1 starts",
            "show: PK 1 ends",
            "show: switch to 1v1"
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}
