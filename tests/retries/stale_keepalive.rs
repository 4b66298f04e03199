//! Stale pooled connections: the server closes idle keep-alive connections
//! ~100 ms after each response; a second batch after a pause must not trip
//! over the dead connections, even for a POST with retries disabled. And a
//! server that closes each connection after one answer without saying so,
//! as the next request goes out on it.

use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::{Behavior, RawServer, bounded, eventually};
use batch_fetch::{BatchClient, RetryPolicy};
use bytes::Bytes;
use http::Request;

async fn run(client: BatchClient) {
    let raw = RawServer::start(Behavior::KeepAlive {
        idle_close: Duration::from_millis(100),
    })
    .await;

    let batch1: Vec<String> = (0..8).map(|i| raw.url(&format!("/one/{i}"))).collect();
    let resps = bounded("batch 1", client.fetch_all(batch1)).await.unwrap();
    assert!(resps.iter().all(|r| r.status() == 200));
    let accepted1 = raw.accepted();
    assert!(accepted1 >= 1);

    // The server closes every idle connection after 100 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(eventually(Duration::from_secs(2), || raw.open_connections() == 0).await);

    let mut batch2: Vec<Request<Bytes>> = (0..8)
        .map(|i| {
            Request::get(raw.url(&format!("/two/{i}")))
                .body(Bytes::new())
                .unwrap()
        })
        .collect();
    batch2.push(
        Request::post(raw.url("/two/post"))
            .body(Bytes::from_static(b"not idempotent"))
            .unwrap(),
    );
    let results = bounded("batch 2", client.fetch_all_settled(batch2)).await;
    assert_eq!(results.len(), 9);
    for (i, r) in results.iter().enumerate() {
        let resp = r
            .as_ref()
            .unwrap_or_else(|e| panic!("batch 2 input {i} hit a stale connection: {e}"));
        assert_eq!(resp.status(), 200);
        assert!(resp.text().unwrap().starts_with("ok "));
    }
    assert!(
        raw.accepted() > accepted1,
        "batch 2 needs new connections: the old ones were closed"
    );
    assert_eq!(raw.requests(), 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_keep_alive_connections_without_retries() {
    let client = defaults()
        .concurrency(4)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    run(client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_keep_alive_connections_with_default_retries() {
    let client = defaults().concurrency(4).build().unwrap();
    run(client).await;
}

/// tinyproxy's way: each connection closed after one answer, which said
/// nothing of closing, so the client keeps it; the next request on it goes
/// out and is lost unread. A GET is sent again at once, as the same
/// attempt (with retries off), on a connection made for it: not on
/// another kept one, which the server closes the same way. A POST is not
/// sent again (it may have been processed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_each_connection_after_one_answer_costs_a_get_nothing() {
    let raw = RawServer::start(Behavior::OneAnswerPerConnection).await;
    let client = defaults()
        .concurrency(4)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    // Four connections, each answered once and kept.
    let urls: Vec<String> = (0..4).map(|i| raw.url(&format!("/one/{i}"))).collect();
    let first = bounded("first", client.fetch_all(urls)).await.unwrap();
    assert!(first.iter().all(|r| r.status() == 200));
    assert_eq!(raw.accepted(), 4);

    // One at a time: each goes out on the last connection kept, lost, and
    // again on a new connection, which answers and is kept in turn.
    let batch = client.batch();
    for i in 0..4 {
        let url = raw.url(&format!("/two/{i}"));
        let mut results = bounded("one GET", batch.fetch_all_settled([url])).await;
        let resp = results
            .remove(0)
            .unwrap_or_else(|e| panic!("GET {i}: {e:#}"));
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.attempts(), 1, "GET {i}");
        assert_eq!(resp.text().unwrap(), format!("ok {}/1", 5 + i), "GET {i}");
    }
    assert_eq!(batch.progress().redispatches(), 4);
    assert_eq!(raw.accepted(), 8, "one new connection each");
    assert_eq!(raw.requests(), 4 + 2 * 4);

    let post = Request::post(raw.url("/two/post"))
        .body(Bytes::from_static(b"not idempotent"))
        .unwrap();
    let e = bounded("POST", client.fetch(post))
        .await
        .expect_err("a POST lost on a closing connection is not sent again");
    assert_eq!(e.attempts(), 1, "{e:#}");
    assert_eq!(raw.requests(), 4 + 2 * 4 + 1, "{e:#}");
    eprintln!("the POST: {e:#}");
}
