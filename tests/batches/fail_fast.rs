//! Fail-fast gather: the first error (in time) cancels the rest — in-flight
//! requests are dropped, queued ones are never sent — and is returned with
//! the index of the failed input.

use std::time::{Duration, Instant};

use crate::support::clients::{default_client, defaults};
use crate::support::{TestServer, bounded, closed_port, eventually, expect_err};
use batch_fetch::{ErrorKind, RetryPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_cancels_in_flight_requests() {
    let server = TestServer::start().await;
    let client = defaults()
        .concurrency(100)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let bad = format!("http://127.0.0.1:{}/refused", closed_port());
    let mut urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/delay/3000?i={i}")))
        .collect();
    urls[10] = bad.clone();
    let start = Instant::now();

    let e = expect_err(
        bounded("fail fast", client.fetch_all(urls)).await,
        "input 10 cannot connect",
    );

    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "not fail-fast: took {took:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.index(), Some(10));
    assert_eq!(e.url().map(|u| u.to_string()), Some(bad));
    // The in-flight requests are dropped: the server sees them go away long
    // before their 3 s delay, and none completes.
    assert!(
        eventually(Duration::from_secs(2), || server.in_flight() == 0).await,
        "{} requests still in flight after fail-fast",
        server.in_flight()
    );
    assert_eq!(
        server.completed(),
        0,
        "cancelled requests must not run to completion"
    );
    assert!(
        eventually(Duration::from_secs(2), || {
            server.in_flight() == 0 && server.cancelled() == server.total_hits()
        })
        .await,
        "every request that reached the server is cancelled: {} of {}",
        server.cancelled(),
        server.total_hits()
    );
    assert_eq!(server.completed(), 0);
    assert!(
        eventually(Duration::from_secs(2), || server.open_connections() == 0).await,
        "connections of cancelled requests stay open: {}",
        server.open_connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_fails_fast_and_queued_inputs_are_never_sent() {
    let server = TestServer::start().await;
    let client = defaults().concurrency(4).build().unwrap();
    let mut urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/delay/3000?i={i}")))
        .collect();
    // Inputs are pulled lazily (at most `concurrency` running), so the
    // invalid one sits inside the first window of 4: it fails as soon as it
    // is pulled, while inputs 0, 1 and 3 are in flight and 4.. are queued.
    urls[2] = "not a url".to_string();
    let start = Instant::now();

    let e = expect_err(
        bounded("fail fast", client.fetch_all(urls)).await,
        "input 2 is invalid",
    );

    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "not fail-fast: took {:?}",
        start.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    assert_eq!(e.index(), Some(2));
    // Nothing more is sent after the failure: at most the first
    // `concurrency` requests ever reached the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = server.total_hits();
    assert!(
        hits <= 4,
        "{hits} requests sent, at most the concurrency (4) may be"
    );
    assert!(eventually(Duration::from_secs(2), || server.in_flight() == 0).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.total_hits(),
        hits,
        "queued inputs were sent after the failure"
    );
    assert_eq!(server.completed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_behind_the_concurrency_window_stops_the_queue() {
    let server = TestServer::start().await;
    let client = defaults()
        .concurrency(4)
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    // 4 requests time out at ~300 ms; 36 more are queued behind them.
    let urls: Vec<String> = (0..40)
        .map(|i| server.url(&format!("/delay/3000?i={i}")))
        .collect();
    let start = Instant::now();

    let e = expect_err(
        bounded("fail fast", client.fetch_all(urls)).await,
        "everything times out",
    );

    assert!(start.elapsed() < Duration::from_millis(2500));
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    let i = e.index().expect("index of the failed input");
    assert!(i < 40);
    assert!(eventually(Duration::from_secs(2), || server.in_flight() == 0).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = server.total_hits();
    assert!(
        hits < 40,
        "queued inputs were still sent after the first failure ({hits} of 40)"
    );
    assert!(
        hits <= 8,
        "{hits} requests sent; expected about the concurrency (4)"
    );
    assert_eq!(server.completed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_ok_returns_every_response() {
    let server = TestServer::start().await;
    let client = default_client();
    let urls: Vec<String> = (0..10).map(|i| server.url(&format!("/id/{i}"))).collect();
    let resps = bounded("ok batch", client.fetch_all(urls)).await.unwrap();
    assert_eq!(resps.len(), 10);
}
