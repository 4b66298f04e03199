//! Timeouts: per-attempt timeout over head and body, dripping servers,
//! servers that never answer, connect errors and the connect timeout.

use std::time::{Duration, Instant};

use crate::support::clients::builder;
use crate::support::{
    Behavior, RawServer, TestServer, bounded, closed_port, eventually, expect_err,
};
use batch_fetch::{BatchClient, ErrorKind};

fn client(timeout: Duration) -> BatchClient {
    builder().timeout(timeout).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_endpoint_times_out() {
    let server = TestServer::start().await;
    let url = server.url("/delay/5000");
    let start = Instant::now();

    let e = expect_err(
        bounded(
            "slow endpoint",
            client(Duration::from_millis(300)).fetch(url.as_str()),
        )
        .await,
        "a 5 s answer with a 300 ms timeout",
    );

    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
    assert!(!e.is_connect());
    assert_eq!(e.attempts(), 1);
    assert_eq!(e.url().map(|u| u.to_string()), Some(url));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the timeout did not fire: {:?}",
        start.elapsed()
    );
    // The abandoned request is dropped, not left running on the server.
    assert!(eventually(Duration::from_secs(3), || server.in_flight() == 0).await);
    assert_eq!(server.completed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_endpoint_within_timeout_succeeds() {
    let server = TestServer::start().await;
    let resp = bounded(
        "fast endpoint",
        client(Duration::from_secs(5)).fetch(server.url("/delay/20")),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "delayed 20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_covers_the_whole_body() {
    let server = TestServer::start().await;
    // Head at once, then one body byte every 100 ms for 5 s.
    let e = expect_err(
        bounded(
            "dripping body",
            client(Duration::from_millis(500)).fetch(server.url("/drip-body/50/100")),
        )
        .await,
        "a 5 s body with a 500 ms timeout",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dripping_headers_time_out() {
    let raw = RawServer::start(Behavior::DripHeaders {
        every: Duration::from_millis(50),
    })
    .await;
    let start = Instant::now();
    let e = expect_err(
        bounded(
            "dripping headers",
            client(Duration::from_millis(500)).fetch(raw.url("/drip")),
        )
        .await,
        "headers dripped for ~12 s with a 500 ms timeout",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_never_answers_times_out() {
    let raw = RawServer::start(Behavior::NeverAnswer).await;
    let e = expect_err(
        bounded(
            "never answers",
            client(Duration::from_millis(300)).fetch(raw.url("/")),
        )
        .await,
        "no answer at all",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
    assert_eq!(raw.requests(), 1);
    // The client hangs up on timeout.
    assert!(eventually(Duration::from_secs(3), || raw.open_connections() == 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_connect_error() {
    let url = format!("http://127.0.0.1:{}/x", closed_port());
    let e = expect_err(
        bounded(
            "closed port",
            client(Duration::from_secs(5)).fetch(url.as_str()),
        )
        .await,
        "nothing listens there",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.is_connect());
    assert!(!e.is_timeout());
    assert_eq!(e.url().map(|u| u.to_string()), Some(url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_is_honored() {
    // A listener whose accept queue is full: SYNs are dropped, connect hangs.
    let hole = RawServer::blackhole().await;
    let client = builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();

    let e = expect_err(
        bounded("blackholed connect", client.fetch(hole.url("/"))).await,
        "connect cannot complete",
    );

    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "connect_timeout (300 ms) ignored: failed after {took:?} (request timeout is 10 s)"
    );
    // As the docs say: kind Connect (retried), and a timeout.
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.is_connect(), "{e}");
    assert!(e.is_timeout(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_ends_is_bounded_by_the_connect_timeout() {
    // The TCP connect succeeds; the server never answers the ClientHello.
    // The connect timeout covers the whole connect, as curl's does, for
    // every protocol setting.
    let raw = RawServer::start(Behavior::NeverAnswer).await;
    let url = format!("https://127.0.0.1:{}/", raw.addr().port());
    for (what, builder) in [
        ("default", builder()),
        ("http1_only", builder().http1_only()),
    ] {
        let client = builder
            .connect_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let start = Instant::now();
        let e = expect_err(
            bounded(what, client.fetch(url.as_str())).await,
            "the TLS handshake never ends",
        );
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "{what}: the connect timeout (300 ms) ignored: failed after {took:?}"
        );
        assert_eq!(e.kind(), ErrorKind::Connect, "{what}: {e}");
        assert!(e.is_timeout(), "{what}: {e}");
        assert!(
            e.to_string()
                .contains("took longer than the connect timeout"),
            "{what}: {e}"
        );
    }
}

fn read_timeout_client(read_timeout: Duration) -> BatchClient {
    builder()
        .timeout(Duration::from_secs(10))
        .read_timeout(read_timeout)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_silent_for_the_read_timeout_fails_long_before_the_attempt_timeout() {
    let server = TestServer::start().await;
    // One body byte every 100 ms; 50 ms of silence is enough.
    let start = Instant::now();
    let e = expect_err(
        bounded(
            "silent body",
            read_timeout_client(Duration::from_millis(50)).fetch(server.url("/drip-body/50/100")),
        )
        .await,
        "100 ms between bytes with a 50 ms read timeout",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
    assert!(
        format!("{e:#}").contains("read timeout"),
        "the error says which timeout: {e:#}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the 10 s attempt timeout fired, not the read timeout: {:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_read_resets_the_read_timeout() {
    let server = TestServer::start().await;
    // Ten bytes 100 ms apart: a second in all, never 500 ms of silence.
    let start = Instant::now();
    let res = bounded(
        "dripping body",
        read_timeout_client(Duration::from_millis(500)).fetch(server.url("/drip-body/10/100")),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().len(), 10);
    assert!(start.elapsed() >= Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_silent_for_the_read_timeout_fails() {
    let server = TestServer::start().await;
    let client = read_timeout_client(Duration::from_millis(50));
    let mut res = bounded(
        "head of a silent body",
        client.fetch_streaming(server.url("/drip-body/50/100")),
    )
    .await
    .unwrap();
    let mut got = 0;
    let e = loop {
        match bounded("a chunk", res.chunk()).await {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => panic!("the body ended after {got} bytes"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(got < 50, "{got} bytes before the timeout");
}
