//! Public API surface: traits, shared limits between clones, builder
//! validation and options, every `IntoRequest` impl, headers, errors,
//! `Response` accessors.

use std::error::Error as _;
use std::time::Duration;

use crate::support::clients::{default_client, defaults};
use crate::support::{Echo, TestServer, bounded, closed_port, expect_err};
use batch_fetch::{BatchClient, BatchClientBuilder, Error, ErrorKind, Response, RetryPolicy};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};

fn build_err(b: BatchClientBuilder) -> Error {
    expect_err(b.build(), "build must fail")
}

#[test]
fn public_types_have_the_promised_traits() {
    fn client<T: Clone + Send + Sync + 'static>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    fn kind<T: std::fmt::Debug + Clone + Copy + PartialEq + Eq + Send + Sync + 'static>() {}
    fn sendable<T: Send + 'static>() {}
    client::<BatchClient>();
    error::<Error>();
    kind::<ErrorKind>();
    sendable::<Response>();
    sendable::<BatchClientBuilder>();
    sendable::<RetryPolicy>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_are_send_and_client_works_from_spawned_tasks() {
    let server = TestServer::start().await;
    let client = default_client();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let c = client.clone();
        let url = server.url(&format!("/id/{i}"));
        tasks.push(tokio::spawn(async move {
            let one = c.fetch(url.clone()).await.map(|r| r.text().unwrap());
            let all = c
                .fetch_all(vec![url.clone(), url.clone()])
                .await
                .map(|v| v.len());
            let settled = c.fetch_all_settled(vec![url]).await.len();
            (one.unwrap(), all.unwrap(), settled)
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (one, all, settled) = bounded("spawned", t).await.unwrap();
        assert_eq!((one, all, settled), (i.to_string(), 2, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_the_concurrency_limit() {
    let server = TestServer::start().await;
    let a = defaults().concurrency(4).build().unwrap();
    let b = a.clone();
    let urls_a: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/delay/50?a={i}")))
        .collect();
    let urls_b: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/delay/50?b={i}")))
        .collect();

    let (ra, rb) = bounded("two clones", async {
        tokio::join!(a.fetch_all(urls_a), b.fetch_all(urls_b))
    })
    .await;

    assert_eq!(ra.unwrap().len(), 20);
    assert_eq!(rb.unwrap().len(), 20);
    let peak = server.peak_in_flight();
    assert!(
        peak <= 4,
        "clones must share one limit of 4: server peak {peak}"
    );
    assert!(
        peak >= 2,
        "the limit is shared, not serialised: peak {peak}"
    );
}

#[test]
fn builder_rejects_invalid_settings() {
    let e = build_err(defaults().concurrency(0));
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.index(), None);
    let e = build_err(defaults().per_host_concurrency(0));
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let e = batch_fetch::Certificate::from_der(b"definitely not DER").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let e = build_err(defaults().tls_built_in_root_certs(false));
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("no root certificate"), "{e}");
}

#[test]
fn builder_accepts_every_option() {
    let pki = crate::support::TestPki::generate();
    let mut headers = HeaderMap::new();
    headers.insert("x-default", HeaderValue::from_static("1"));
    let client = defaults()
        .concurrency(3)
        .per_host_concurrency(2)
        .timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(1))
        .retry(RetryPolicy::default().max_retries(1))
        .max_body_size(1024)
        .user_agent("ua/1")
        .default_headers(headers)
        .add_root_certificate(pki.certificate())
        .pool_idle_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(2)
        .build();
    assert!(client.is_ok());
    let _policy = RetryPolicy::none();
    let _policy = RetryPolicy::default()
        .max_retries(5)
        .base_delay(Duration::from_millis(50))
        .max_delay(Duration::from_secs(1))
        .retry_non_idempotent(true)
        .jitter(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_into_request_impl_works() {
    let server = TestServer::start().await;
    let client = default_client();
    let url = server.url("/id/9");

    let r = bounded("&str", client.fetch(url.as_str())).await.unwrap();
    assert_eq!(r.text().unwrap(), "9");
    let r = bounded("&String", client.fetch(&url)).await.unwrap();
    assert_eq!(r.text().unwrap(), "9");
    let r = bounded("String", client.fetch(url.clone())).await.unwrap();
    assert_eq!(r.text().unwrap(), "9");
    let r = bounded("Uri", client.fetch(url.parse::<Uri>().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.text().unwrap(), "9");
    let r = bounded(
        "Request<()>",
        client.fetch(Request::get(&url).body(()).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(r.text().unwrap(), "9");

    let echo_url = server.url("/echo");
    let post = |body| Request::post(&echo_url).body(body).unwrap();
    let bodies: Vec<(&str, Response)> = vec![
        (
            "bytes",
            bounded(
                "Request<Bytes>",
                client.fetch(post(Bytes::from_static(b"bytes"))),
            )
            .await
            .unwrap(),
        ),
        (
            "string",
            bounded(
                "Request<String>",
                client.fetch(Request::post(&echo_url).body("string".to_string()).unwrap()),
            )
            .await
            .unwrap(),
        ),
        (
            "vec",
            bounded(
                "Request<Vec<u8>>",
                client.fetch(Request::post(&echo_url).body(b"vec".to_vec()).unwrap()),
            )
            .await
            .unwrap(),
        ),
        (
            "static",
            bounded(
                "Request<&'static str>",
                client.fetch(Request::post(&echo_url).body("static").unwrap()),
            )
            .await
            .unwrap(),
        ),
    ];
    for (expected, resp) in bodies {
        let echo = Echo::parse(&resp.text().unwrap());
        assert_eq!(echo.method, "POST");
        assert_eq!(echo.body, expected);
        assert_eq!(
            echo.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
    }

    // The same impls in batches.
    let n = |v: Vec<Response>| v.iter().map(|r| r.text().unwrap()).collect::<Vec<_>>();
    let strs = [url.as_str(), url.as_str()];
    assert_eq!(
        n(bounded("Vec<&str>", client.fetch_all(strs)).await.unwrap()),
        ["9", "9"]
    );
    let strings = vec![url.clone(), url.clone()];
    assert_eq!(
        n(bounded("&Vec<String>", client.fetch_all(&strings))
            .await
            .unwrap()),
        ["9", "9"]
    );
    assert_eq!(
        n(bounded("Vec<String>", client.fetch_all(strings))
            .await
            .unwrap()),
        ["9", "9"]
    );
    let uris = vec![url.parse::<Uri>().unwrap()];
    assert_eq!(
        n(bounded("Vec<Uri>", client.fetch_all(uris)).await.unwrap()),
        ["9"]
    );
    let reqs = vec![Request::get(&url).body(()).unwrap()];
    assert_eq!(
        n(bounded("Vec<Request<()>>", client.fetch_all(reqs))
            .await
            .unwrap()),
        ["9"]
    );
    let it = (0..3).map(|i| server.url(&format!("/id/{i}")));
    assert_eq!(
        n(bounded("iterator", client.fetch_all(it)).await.unwrap()),
        ["0", "1", "2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_method_headers_and_body_are_sent() {
    let server = TestServer::start().await;
    let client = default_client();
    let r = Request::builder()
        .method(Method::PUT)
        .uri(server.url("/echo?x=1"))
        .header("x-custom", "custom value")
        .body(Bytes::from_static(b"put body"))
        .unwrap();
    let resp = bounded("PUT echo", client.fetch(r)).await.unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.method, "PUT");
    assert_eq!(echo.uri, "/echo?x=1");
    assert_eq!(echo.header("x-custom"), Some("custom value"));
    assert_eq!(echo.body, "put body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_user_agent_names_the_crate() {
    let server = TestServer::start().await;
    let resp = bounded("ua", default_client().fetch(server.url("/echo")))
        .await
        .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    let ua = echo.header("user-agent").expect("a User-Agent is sent");
    assert!(ua.starts_with("batch-fetch/"), "{ua}");
    assert_eq!(ua, concat!("batch-fetch/", env!("CARGO_PKG_VERSION")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_agent_and_default_headers_are_sent() {
    let server = TestServer::start().await;
    let mut headers = HeaderMap::new();
    headers.insert("x-default-one", HeaderValue::from_static("one"));
    headers.insert("x-default-two", HeaderValue::from_static("two"));
    let client = defaults()
        .user_agent("my-agent/2.0")
        .default_headers(headers)
        .build()
        .unwrap();

    for input in [server.url("/echo"), server.url("/echo?again")] {
        let resp = bounded("echo", client.fetch(input)).await.unwrap();
        let echo = Echo::parse(&resp.text().unwrap());
        assert_eq!(echo.header_all("user-agent"), ["my-agent/2.0"]);
        assert_eq!(echo.header("x-default-one"), Some("one"));
        assert_eq!(echo.header("x-default-two"), Some("two"));
    }
    // Also on explicit requests, next to their own headers.
    let r = Request::get(server.url("/echo"))
        .header("x-own", "mine")
        .body(())
        .unwrap();
    let echo = Echo::parse(
        &bounded("echo", client.fetch(r))
            .await
            .unwrap()
            .text()
            .unwrap(),
    );
    assert_eq!(echo.header("x-default-one"), Some("one"));
    assert_eq!(echo.header("x-own"), Some("mine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_accessors() {
    let server = TestServer::start().await;
    let client = default_client();
    let url = server.url("/id/77?delay=30");
    let resp = bounded("accessors", client.fetch(url.as_str()))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.url().to_string(), url);
    assert_eq!(resp.headers()["x-http-version"], "HTTP/1.1");
    assert_eq!(resp.headers()["content-length"], "2");
    assert_eq!(resp.body(), &Bytes::from_static(b"77"));
    assert_eq!(resp.text().unwrap(), "77");
    assert_eq!(resp.attempts(), 1);
    assert_eq!(resp.remote_addr(), Some(server.addr()));
    assert!(
        resp.elapsed() >= Duration::from_millis(25),
        "{:?}",
        resp.elapsed()
    );
    assert!(resp.elapsed() < Duration::from_secs(20));

    let http = resp.into_http();
    assert_eq!(http.status(), 200);
    assert_eq!(http.version(), Version::HTTP_11);
    assert_eq!(http.headers()["x-http-version"], "HTTP/1.1");
    assert_eq!(http.body(), &Bytes::from_static(b"77"));

    let resp = bounded("into_body", client.fetch(server.url("/id/5")))
        .await
        .unwrap();
    assert_eq!(resp.into_body(), Bytes::from_static(b"5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_of_bytes_that_are_not_utf8_still_reads() {
    let server = TestServer::start().await;
    let resp = bounded("utf8", default_client().fetch(server.url("/invalid-utf8")))
        .await
        .unwrap();
    assert_eq!(resp.body().len(), 4);
    // Malformed sequences become U+FFFD, as in reqwest (see
    // tests/requests/text_charset.rs).
    assert!(resp.text().is_ok(), "text() reads any body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_url_and_keep_their_cause() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/where/it/failed");
    let client = defaults().retry(RetryPolicy::none()).build().unwrap();
    let e = expect_err(
        bounded("refused", client.fetch(url.as_str())).await,
        "refused",
    );

    let shown = e.to_string();
    assert!(shown.contains(&url), "Display must name the URL: {shown}");
    assert!(
        shown.len() > url.len() + 5,
        "Display must name the cause too: {shown}"
    );
    assert_eq!(e.url().map(|u| u.to_string()), Some(url.clone()));
    assert_eq!(e.attempts(), 1);
    assert!(e.source().is_some(), "the cause is kept in source(): {e:?}");
    let _ = format!("{e:?}");

    // In a batch the index is set too.
    let results = bounded("settled", client.fetch_all_settled([url.as_str()])).await;
    let e = expect_err(results[0].as_ref(), "refused");
    assert_eq!(e.index(), Some(0));
    assert!(e.to_string().contains(&url));

    // An invalid input's error is shown without panicking.
    let e = expect_err(
        bounded("invalid", client.fetch("no scheme here")).await,
        "invalid",
    );
    assert!(!e.to_string().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_reused_by_default() {
    let server = TestServer::start().await;
    let client = default_client();
    for i in 0..3 {
        bounded("sequential", client.fetch(server.url(&format!("/id/{i}"))))
            .await
            .unwrap();
        // hyper returns a connection to the pool from a background task
        // once the response is done; give it a moment on a busy machine.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.accepted(), 1, "keep-alive connection reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_max_idle_per_host_zero_disables_reuse() {
    let server = TestServer::start().await;
    let client = defaults().pool_max_idle_per_host(0).build().unwrap();
    for i in 0..3 {
        bounded("sequential", client.fetch(server.url(&format!("/id/{i}"))))
            .await
            .unwrap();
    }
    assert_eq!(server.accepted(), 3, "no idle connection may be kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_idle_timeout_expires_idle_connections() {
    let server = TestServer::start().await;
    let client = defaults()
        .pool_idle_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    bounded("first", client.fetch(server.url("/id/1")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    bounded("second", client.fetch(server.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(server.accepted(), 2, "the idle connection expired");
}

#[test]
fn polled_outside_a_runtime_is_an_error_not_a_panic() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let client = default_client();
    let mut fut = std::pin::pin!(client.fetch("http://127.0.0.1:9/x"));
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            assert!(e.to_string().contains("Tokio runtime"), "{e}");
        }
        Poll::Ready(Ok(_)) => panic!("no runtime, yet a response"),
        Poll::Pending => panic!("without a runtime the request must fail at once"),
    }
}
