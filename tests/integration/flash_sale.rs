//! The flash-sale (抢购) invariant over HTTP: a burst of concurrent orders against a limited
//! stock on the embedded provider's live-room API never sells more than the stock.

use crate::common;

const STOCK: u64 = 300;
const BUYERS: usize = 40;
const ORDERS_EACH: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_orders_never_oversells() {
    let sfu = common::start_sfu().await;
    let base = format!("http://{}/api/rooms/sale", sfu.http_addr);
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{base}/stock/lipstick"))
        .header("content-type", "application/json")
        .body(format!("{{\"stock\": {STOCK}}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);
    // 40 buyers fire 20 orders each at once: 800 orders for 300 items.
    let buyers: Vec<_> = (0..BUYERS)
        .map(|b| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..ORDERS_EACH {
                    let qty = 1 + (b % 2) as u64;
                    let r = http
                        .post(format!("{base}/orders"))
                        .header("content-type", "application/json")
                        .body(format!("{{\"sku\": \"lipstick\", \"qty\": {qty}}}"))
                        .send()
                        .await
                        .unwrap();
                    statuses.push((r.status().as_u16(), qty));
                }
                statuses
            })
        })
        .collect();
    let mut sold_by_answers = 0;
    let (mut accepted, mut refused) = (0, 0);
    for b in buyers {
        for (status, qty) in b.await.unwrap() {
            match status {
                201 => {
                    accepted += 1;
                    sold_by_answers += qty;
                }
                409 => refused += 1,
                other => panic!("unexpected HTTP {other}"),
            }
        }
    }
    let state: serde_json::Value =
        serde_json::from_str(&http.get(&base).send().await.unwrap().text().await.unwrap()).unwrap();
    eprintln!("{accepted} orders accepted, {refused} refused, {sold_by_answers} items sold; state {state}");
    assert_eq!(accepted + refused, BUYERS * ORDERS_EACH);
    // Never more than the stock; the answers, the books and what is left agree.
    assert!(
        sold_by_answers <= STOCK,
        "oversold: {sold_by_answers} of {STOCK}"
    );
    assert_eq!(state["sold"]["lipstick"], sold_by_answers);
    assert_eq!(state["stock"]["lipstick"], STOCK - sold_by_answers);
    assert_eq!(state["orders"], accepted as u64);
    // Buyers of single items kept asking after the stock ran low: at most one item (a pair
    // refused) can be left.
    assert!(sold_by_answers >= STOCK - 1, "{sold_by_answers}");
}
