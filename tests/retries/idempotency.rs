//! Only idempotent methods are retried, unless `retry_non_idempotent(true)`;
//! connect errors are retried for any method since nothing was sent.

use std::time::Duration;

use crate::support::clients::{client_with, defaults, quick};
use crate::support::{TestServer, bounded, closed_port, expect_err};
use batch_fetch::ErrorKind;
use bytes::Bytes;
use http::{Method, Request};

fn req(method: Method, url: String) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Bytes::from_static(b"payload"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_is_not_retried_by_default() {
    let server = TestServer::start().await;
    let resp = bounded(
        "POST flaky",
        client_with(quick(3)).fetch(req(Method::POST, server.url("/flaky/p/1"))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.attempts(), 1);
    assert_eq!(server.hits("/flaky/p/1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_is_retried_when_opted_in() {
    let server = TestServer::start().await;
    let resp = bounded(
        "POST flaky, opted in",
        client_with(quick(3).retry_non_idempotent(true))
            .fetch(req(Method::POST, server.url("/flaky/p/1"))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 2);
    assert_eq!(server.hits("/flaky/p/1"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_requests_resend_their_body_and_headers() {
    let server = TestServer::start().await;
    let c = client_with(quick(3).retry_non_idempotent(true));
    for method in [Method::POST, Method::PUT] {
        let path = format!("/flaky-echo/{}/2", method.as_str().to_lowercase());
        let r = Request::builder()
            .method(method.clone())
            .uri(server.url(&path))
            .header("x-attempt-test", "kept")
            .body(Bytes::from_static(b"payload"))
            .unwrap();
        let resp = bounded("flaky echo", c.fetch(r)).await.unwrap();
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.attempts(), 3, "{method}");
        let echo = crate::support::Echo::parse(&resp.text().unwrap());
        assert_eq!(echo.method, method.as_str());
        assert_eq!(
            echo.body, "payload",
            "{method}: the body is sent again on retry"
        );
        assert_eq!(echo.header("x-attempt-test"), Some("kept"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_is_not_retried_by_default() {
    let server = TestServer::start().await;
    let resp = bounded(
        "PATCH flaky",
        client_with(quick(3)).fetch(req(Method::PATCH, server.url("/flaky/x/1"))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.attempts(), 1);
    assert_eq!(server.hits("/flaky/x/1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_methods_are_retried() {
    let server = TestServer::start().await;
    let c = client_with(quick(3));
    for method in [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
        Method::TRACE,
    ] {
        let path = format!("/flaky/{}/1", method.as_str().to_lowercase());
        // TRACE and GET/HEAD requests carry no body.
        let r = Request::builder()
            .method(method.clone())
            .uri(server.url(&path))
            .body(())
            .unwrap();
        let resp = bounded("idempotent method", c.fetch(r)).await.unwrap();
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.attempts(), 2, "{method} is retried");
        assert_eq!(server.hits(&path), 2, "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_delete_with_bodies_are_retried() {
    let server = TestServer::start().await;
    let c = client_with(quick(3));
    for method in [Method::PUT, Method::DELETE] {
        let path = format!("/flaky/body-{}/2", method.as_str().to_lowercase());
        let resp = bounded(
            "PUT/DELETE",
            c.fetch(req(method.clone(), server.url(&path))),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.attempts(), 3, "{method}");
        assert_eq!(server.hits(&path), 3, "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_timeout_is_not_retried_by_default() {
    let server = TestServer::start().await;
    let c = defaults()
        .timeout(Duration::from_millis(200))
        .retry(quick(3))
        .build()
        .unwrap();
    let e = expect_err(
        bounded(
            "POST slow",
            c.fetch(req(Method::POST, server.url("/delay/5000"))),
        )
        .await,
        "too slow",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.hits("/delay/5000"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_connect_errors_are_retried() {
    let url = format!("http://127.0.0.1:{}/post", closed_port());
    let e = expect_err(
        bounded(
            "POST closed port",
            client_with(quick(2)).fetch(req(Method::POST, url)),
        )
        .await,
        "nothing listens",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.attempts(), 3, "nothing was sent, so even POST is retried");
}
