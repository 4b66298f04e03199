//! `Retry-After` is honored (delta-seconds and HTTP-date) and capped by
//! `max_delay`. Only lower bounds on time are asserted, plus generous
//! "no hang" upper bounds.

use std::time::{Duration, Instant};

use crate::support::clients::defaults;
use crate::support::{TestServer, bounded, within};
use batch_fetch::{BatchClient, RetryPolicy};

/// Tiny exponential backoff: any wait of a second or more comes from Retry-After.
fn client(max_delay: Duration) -> BatchClient {
    defaults()
        .retry(
            RetryPolicy::default()
                .max_retries(3)
                .base_delay(Duration::from_millis(1))
                .max_delay(max_delay)
                .jitter(false),
        )
        .build()
        .unwrap()
}

/// Gap between the first two hits of `path` on `server`.
fn gap(server: &TestServer, path: &str) -> Duration {
    let hits: Vec<_> = server
        .log()
        .into_iter()
        .filter(|h| h.path == path)
        .collect();
    assert_eq!(hits.len(), 2, "{path}: one failure, one retry");
    hits[1].at - hits[0].at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_seconds_is_honored() {
    let server = TestServer::start().await;
    let path = "/retry-after/s/secs/1";
    let start = Instant::now();

    let resp = bounded(
        "retry-after 1",
        client(Duration::from_secs(10)).fetch(server.url(path)),
    )
    .await
    .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
    let floor = Duration::from_millis(900);
    assert!(
        gap(&server, path) >= floor,
        "retried after {:?}",
        gap(&server, path)
    );
    assert!(resp.elapsed() >= floor, "elapsed() = {:?}", resp.elapsed());
    assert!(start.elapsed() >= floor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_http_date_is_honored() {
    let server = TestServer::start().await;
    // The server answers `Retry-After: <now + 3 s>` as an HTTP-date (whole
    // seconds), so the client must wait at least ~2 s.
    let path = "/retry-after/d/date/3";

    let resp = bounded(
        "retry-after date",
        client(Duration::from_secs(10)).fetch(server.url(path)),
    )
    .await
    .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
    let waited = gap(&server, path);
    assert!(
        waited >= Duration::from_millis(1500),
        "HTTP-date Retry-After ignored: retried after {waited:?}"
    );
    assert!(resp.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_429_is_honored() {
    let server = TestServer::start().await;
    let path = "/flaky/t/1?code=429&retry_after=1";

    let resp = bounded(
        "429 retry-after",
        client(Duration::from_secs(10)).fetch(server.url(path)),
    )
    .await
    .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
    assert!(gap(&server, path) >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped_by_max_delay() {
    let server = TestServer::start().await;
    let path = "/retry-after/c/secs/30";
    let start = Instant::now();

    // With the cap at 200 ms the 30 s Retry-After must not be waited out.
    let resp = within(
        Duration::from_secs(10),
        "retry-after 30 capped to 200 ms",
        client(Duration::from_millis(200)).fetch(server.url(path)),
    )
    .await
    .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_http_date_is_capped_by_max_delay() {
    let server = TestServer::start().await;
    let path = "/retry-after/dc/date/60";

    let resp = within(
        Duration::from_secs(10),
        "retry-after date +60 s capped to 200 ms",
        client(Duration::from_millis(200)).fetch(server.url(path)),
    )
    .await
    .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
}
