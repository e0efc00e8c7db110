//! HTTP side-load through goose, against known truths: a server that answers after a fixed
//! delay (latency), one that fails (errors by status), templated bodies and headers (what the
//! server received), and a flash-sale burst on the embedded provider that must not oversell.

use crate::common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DELAY_MS: u64 = 40;

#[derive(Default)]
struct Seen {
    bodies: Vec<String>,
    tokens: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

async fn slow(State(seen): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    tokio::time::sleep(Duration::from_millis(DELAY_MS)).await;
    let token = headers
        .get("x-shop-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Ok(mut s) = seen.lock() {
        s.bodies.push(body);
        s.tokens.push(token);
    }
    StatusCode::CREATED
}

async fn broken() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn run(toml: &str, tag: &str) -> rtcbench::results::RunResults {
    let dir = common::temp_dir(tag);
    let results = common::run_in_process(&dir, toml, 1, vec![]).await;
    let json = std::fs::read_to_string(dir.join("out/run.json")).unwrap();
    assert!(!json.contains("s3cret-token"), "a secret reached run.json");
    std::fs::remove_dir_all(&dir).ok();
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_errors_and_templates_are_what_the_server_saw() {
    let _heavy = common::heavy().await;
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/slow/{room}", post(slow))
        .route("/broken", post(broken))
        .with_state(seen.clone());
    let addr = common::serve(app).await;
    std::env::set_var("RTCBENCH_TEST_SHOP_TOKEN", "s3cret-token");
    let toml = format!(
        r#"
name = "http-truth"
duration = "4s"
[video]
width = 320
height = 180
[[group]]
name = "g"
receivers = 1

[[http]]
name = "api"
target = "http://{addr}"
users = 4
rise = "0s"
headers = {{ x-shop-token = "{{{{env:RTCBENCH_TEST_SHOP_TOKEN}}}}" }}

[[http.request]]
name = "slow"
path = "/slow/sale"
body = '{{"user": {{{{user}}}}, "n": {{{{seq}}}}}}'
weight = 3

[[http.request]]
name = "broken"
path = "/broken"
"#
    );
    let r = run(&toml, "http-truth").await;
    let load = &r.http[0];
    assert_eq!(load.failure, None);
    let slow = load.requests.iter().find(|q| q.name == "slow").unwrap();
    let broken = load.requests.iter().find(|q| q.name == "broken").unwrap();
    // 4 users back to back for ~4 s at ≥ 40 ms each: tens of requests, all answered 201.
    assert!(slow.count >= 40, "{}", slow.count);
    assert_eq!(slow.statuses.get(&201), Some(&slow.count));
    assert_eq!(slow.fail, 0);
    // Tolerance: the server's 40 ms plus at most 8 ms of loopback HTTP on a busy 2-core box.
    let p50 = slow.latency_ms.p50;
    assert!(
        (DELAY_MS as f64..DELAY_MS as f64 + 8.0).contains(&p50),
        "p50 {p50}"
    );
    assert!(
        slow.latency_ms.min >= DELAY_MS as f64,
        "{:?}",
        slow.latency_ms
    );
    // Every 500 is an error, counted by status.
    assert!(broken.count > 0);
    assert_eq!((broken.fail, broken.error_pct()), (broken.count, 100.0));
    assert_eq!(broken.statuses.get(&500), Some(&broken.count));
    // The per-second latency series holds every answer.
    assert_eq!(load.latency.summary.count, slow.count + broken.count);
    // Templates were filled per request: users 1..=4, sequence numbers unique, token sent.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bodies.len() as u64, slow.count);
    let mut seqs = Vec::new();
    for body in &seen.bodies {
        let v: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert!((1..=4).contains(&v["user"].as_u64().unwrap()), "{body}");
        seqs.push(v["n"].as_u64().unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), seen.bodies.len(), "sequence numbers repeat");
    assert!(seen.tokens.iter().all(|t| t == "s3cret-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goose_flash_sale_on_the_embedded_provider_sells_exactly_the_stock() {
    let _heavy = common::heavy().await;
    let group = r#"
[[group]]
name = "live"
receivers = 1

[[http]]
name = "flash-sale"
users = 60
rise = "0s"
setup = [{ name = "stock", method = "PUT", path = "/api/rooms/{{room}}/stock/lipstick", body = '{"stock": 300}' }]

[[http.request]]
name = "order"
path = "/api/rooms/{{room}}/orders"
body = '{"sku": "lipstick", "qty": 1}'
expect = [409]
"#;
    let toml = format!("{}{group}", common::small_webrtc("flash-sale", "5s"));
    let r = run(&toml, "flash-sale-goose").await;
    let load = &r.http[0];
    assert_eq!(load.failure, None);
    let order = &load.requests[0];
    // Far more orders than items: exactly the stock is accepted, the rest refused as sold out.
    assert!(order.count > 1000, "{}", order.count);
    assert_eq!(order.statuses.get(&201), Some(&300), "{:?}", order.statuses);
    assert_eq!(order.statuses.get(&409), Some(&(order.count - 300)));
    assert_eq!(order.fail, 0, "409 is expected, not an error");
}
