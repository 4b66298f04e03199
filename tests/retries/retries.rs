//! Retries and attempt counts: which failures are retried, how many times,
//! and what comes back when retries are exhausted.

use std::time::Duration;

use crate::support::clients::{client_with, default_client, defaults, quick};
use crate::support::{Behavior, RawServer, TestServer, bounded, closed_port, expect_err};
use batch_fetch::{ErrorKind, RetryPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_endpoint_recovers_with_the_default_policy() {
    let server = TestServer::start().await;
    let client = default_client(); // RetryPolicy::default(): 3 retries

    let resp = bounded("flaky", client.fetch(server.url("/flaky/k/2")))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "ok k");
    assert_eq!(resp.attempts(), 3);
    assert_eq!(server.hits("/flaky/k/2"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_policy_gives_up_after_three_retries() {
    let server = TestServer::start().await;
    let resp = bounded(
        "always 503",
        default_client().fetch(server.url("/flaky/d/100")),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.attempts(), 4, "1 try + 3 retries");
    assert_eq!(server.hits("/flaky/d/100"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_try_success_counts_one_attempt() {
    let server = TestServer::start().await;
    let resp = bounded("ok", default_client().fetch(server.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(resp.attempts(), 1);
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_policy_returns_the_503() {
    let server = TestServer::start().await;
    let client = client_with(RetryPolicy::none());

    let resp = bounded("flaky", client.fetch(server.url("/flaky/k/2")))
        .await
        .expect("a 503 is an Ok response");

    assert_eq!(resp.status(), 503);
    assert_eq!(resp.attempts(), 1);
    assert_eq!(server.hits("/flaky/k/2"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_return_the_last_response() {
    let server = TestServer::start().await;
    let client = client_with(quick(2));

    let resp = bounded("always 503", client.fetch(server.url("/flaky/k/100")))
        .await
        .expect("the last 503 is returned as Ok");

    assert_eq!(resp.status(), 503);
    assert_eq!(resp.attempts(), 3, "max_retries + 1");
    assert_eq!(server.hits("/flaky/k/100"), 3);
    assert_eq!(
        resp.text().unwrap(),
        "failure 3 of 100 for k",
        "the body is the last response's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_statuses_are_retried() {
    let server = TestServer::start().await;
    let client = client_with(quick(3));
    for code in [429u16, 502, 503, 504] {
        let path = format!("/flaky/c{code}/1?code={code}");
        let resp = bounded("retryable status", client.fetch(server.url(&path)))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{code} then 200");
        assert_eq!(resp.attempts(), 2, "{code} is retried once");
        assert_eq!(server.hits(&path), 2, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_error_statuses_are_not_retried() {
    let server = TestServer::start().await;
    let client = client_with(quick(3));
    for code in [500u16, 404, 400] {
        let path = format!("/flaky/c{code}/1?code={code}");
        let resp = bounded("non-retryable status", client.fetch(server.url(&path)))
            .await
            .unwrap();
        assert_eq!(resp.status(), code, "{code} is returned as is");
        assert_eq!(resp.attempts(), 1, "{code} is not retried");
        assert_eq!(server.hits(&path), 1, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_are_retried() {
    let client = client_with(quick(2));
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let e = expect_err(
        bounded("closed port", client.fetch(url)).await,
        "nothing listens",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.attempts(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_retried() {
    let server = TestServer::start().await;
    let client = defaults()
        .timeout(Duration::from_millis(200))
        .retry(quick(1))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("slow", client.fetch(server.url("/delay/5000"))).await,
        "always too slow",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.attempts(), 2);
    assert_eq!(server.hits("/delay/5000"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_closed_before_a_response_is_retried() {
    let raw = RawServer::start(Behavior::CloseBeforeResponse).await;
    let client = client_with(quick(2));
    let e = expect_err(
        bounded("closes before answering", client.fetch(raw.url("/"))).await,
        "never answers",
    );
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(e.attempts(), 3);
    assert_eq!(raw.requests(), 3, "each attempt reached the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_counted_per_input_in_a_batch() {
    let server = TestServer::start().await;
    let client = client_with(quick(3));
    let urls = vec![
        server.url("/flaky/a/0"),
        server.url("/flaky/b/1"),
        server.url("/flaky/c/2"),
        server.url("/flaky/d/3"),
    ];
    let resps = bounded("batch", client.fetch_all(urls)).await.unwrap();
    let attempts: Vec<u32> = resps.iter().map(|r| r.attempts()).collect();
    assert_eq!(attempts, vec![1, 2, 3, 4]);
    assert!(resps.iter().all(|r| r.status() == 200));
}

/// `retry_statuses` replaces the retried set: a `500` retried when named,
/// a `503` answered at once when the set is empty, and the default set
/// left alone otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_statuses_replaces_the_retried_set() {
    use batch_fetch::BatchClientBuilder;
    use http::StatusCode;

    let server = TestServer::start().await;
    let with = |policy: RetryPolicy| -> BatchClientBuilder { defaults().retry(policy) };

    let named = with(quick(2).retry_statuses([StatusCode::INTERNAL_SERVER_ERROR]))
        .build()
        .unwrap();
    let res = bounded(
        "500 named",
        named.fetch(server.url("/flaky/named/2?code=500")),
    )
    .await
    .unwrap();
    assert_eq!((res.status(), res.attempts()), (StatusCode::OK, 3));
    // 503 is no longer in the set.
    let res = bounded("503 not named", named.fetch(server.url("/flaky/unnamed/1")))
        .await
        .unwrap();
    assert_eq!(
        (res.status(), res.attempts()),
        (StatusCode::SERVICE_UNAVAILABLE, 1)
    );

    let default = with(quick(2)).build().unwrap();
    let res = bounded(
        "500 by default",
        default.fetch(server.url("/flaky/default/1?code=500")),
    )
    .await
    .unwrap();
    assert_eq!(
        (res.status(), res.attempts()),
        (StatusCode::INTERNAL_SERVER_ERROR, 1)
    );

    let none = with(quick(2).retry_statuses([])).build().unwrap();
    let res = bounded("empty set", none.fetch(server.url("/flaky/empty/1")))
        .await
        .unwrap();
    assert_eq!(
        (res.status(), res.attempts()),
        (StatusCode::SERVICE_UNAVAILABLE, 1)
    );
}
