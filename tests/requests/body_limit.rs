//! Body size limit: larger bodies fail with BodyTooLarge without being read
//! in full; a body of exactly the limit is fine.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::clients::{builder, defaults};
use crate::support::{TestServer, bounded, eventually, expect_err, pattern};
use batch_fetch::{BatchClient, ErrorKind, RetryPolicy};

fn client(limit: usize) -> BatchClient {
    builder().max_body_size(limit).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_over_the_limit_is_body_too_large() {
    let server = TestServer::start().await;
    let e = expect_err(
        bounded("1001 > 1000", client(1000).fetch(server.url("/bytes/1001"))).await,
        "one byte too many",
    );
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}");
    assert!(!e.is_timeout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_content_length_fails_without_reading_the_body() {
    let server = TestServer::start().await;
    let start = Instant::now();
    // 4 GiB announced: reading it would take far longer than the bound.
    let e = expect_err(
        bounded(
            "4 GiB body",
            client(64 * 1024).fetch(server.url("/bytes/4294967296")),
        )
        .await,
        "4 GiB > 64 KiB",
    );
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_of_exactly_the_limit_is_ok() {
    let server = TestServer::start().await;
    let c = client(1000);
    let resp = bounded("1000 == 1000", c.fetch(server.url("/bytes/1000")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.body()[..], &pattern(1000)[..]);

    let resp = bounded("chunked 1000", c.fetch(server.url("/bytes-chunked/1000")))
        .await
        .unwrap();
    assert_eq!(resp.into_body(), pattern(1000));

    let e = expect_err(
        bounded("chunked 1001", c.fetch(server.url("/bytes-chunked/1001"))).await,
        "chunked, one byte too many",
    );
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_chunked_body_is_body_too_large_quickly() {
    let server = TestServer::start().await;
    let start = Instant::now();

    let e = expect_err(
        bounded(
            "endless body",
            client(1 << 20).fetch(server.url("/chunked-endless")),
        )
        .await,
        "endless body",
    );

    assert_eq!(
        e.kind(),
        ErrorKind::BodyTooLarge,
        "must stop at the limit, not wait for the timeout: {e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?} (timeout is 10 s)",
        start.elapsed()
    );
    // The client hangs up: the server stops producing.
    assert!(
        eventually(Duration::from_secs(3), || server.endless_active.current()
            == 0)
        .await,
        "the server is still streaming to the client"
    );
    let sent = server.endless_bytes.load(Ordering::SeqCst);
    assert!(
        sent < 256 << 20,
        "server produced {sent} bytes for a 1 MiB limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_limit_is_32_mib() {
    let server = TestServer::start().await;
    let client = defaults().retry(RetryPolicy::none()).build().unwrap();
    let limit = 32 * 1024 * 1024;
    let resp = bounded(
        "32 MiB",
        client.fetch(server.url(&format!("/bytes/{limit}"))),
    )
    .await
    .unwrap();
    assert_eq!(resp.body().len(), limit);
    let e = expect_err(
        bounded(
            "32 MiB + 1",
            client.fetch(server.url(&format!("/bytes/{}", limit + 1))),
        )
        .await,
        "over the default limit",
    );
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}");
}
