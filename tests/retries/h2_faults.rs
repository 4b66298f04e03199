//! HTTP/2 (h2c) faults of flow control and header blocks: a server that
//! never opens its stream window for a request body, a response header
//! list over the client's limit, and a header block that never ends
//! (CONTINUATION flood). Each ends in its error kind after the attempts
//! the policy allows, within bounded time and memory.

use std::time::{Duration, Instant};

use crate::support::clients::{h2c_builder, quick};
use crate::support::h2srv::{FLOOD_CAP, H2Mode, H2Server};
use crate::support::{eventually, expect_err, within};
use batch_fetch::{Error, ErrorKind, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_window_that_never_opens_ends_in_the_attempt_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let server = H2Server::start(H2Mode::ZeroWindow).await;
    let client = h2c_builder()
        .retry(quick(2))
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    // 1 MiB: far more than the 64 KiB the client may send before it sees
    // the server's SETTINGS.
    let body = bytes::Bytes::from(vec![b'w'; 1 << 20]);
    let post = Request::post(server.url("/stall/post")).body(body.clone());
    let put = Request::put(server.url("/stall/put")).body(body);

    let start = Instant::now();
    let (post, put, get) = within(Duration::from_secs(30), "stalled bodies", async {
        tokio::join!(
            client.fetch(post),
            client.fetch(put),
            client.fetch(server.url("/no-body"))
        )
    })
    .await;
    let took = start.elapsed();

    // A POST is not sent again after a timeout; a PUT is, as often as the
    // policy allows.
    let post = expect_err(post, "the POST body can never be sent");
    assert_eq!(post.kind(), ErrorKind::Timeout, "{post}");
    assert_eq!(post.attempts(), 1, "{post}");
    let put = expect_err(put, "the PUT body can never be sent");
    assert_eq!(put.kind(), ErrorKind::Timeout, "{put}");
    assert_eq!(put.attempts(), 3, "{put}");
    assert_eq!(server.hits("/stall/post").len(), 1);
    assert_eq!(server.hits("/stall/put").len(), 3);
    // A request without a body needs no window: answered.
    let get = get.unwrap_or_else(|e| panic!("{:?}: {e}", e.kind()));
    assert!(get.text().unwrap().contains("path=/no-body"));
    assert!(took >= 3 * TIMEOUT, "{took:?}");
    assert!(took < 3 * TIMEOUT + Duration::from_secs(8), "{took:?}");
    assert_eq!(server.panics(), 0);
}

/// Fetches `/h2/huge-header/32768` (32 KiB of response headers) with a
/// 16 KiB limit, then a good request on the same client; returns the
/// error of the first.
async fn fetch_over_the_header_limit() -> Error {
    let server = H2Server::start(H2Mode::ByPath).await;
    let client = h2c_builder()
        .max_response_header_size(16 * 1024)
        .build()
        .unwrap();
    let huge = "/h2/huge-header/32768";

    let e = expect_err(
        within(
            Duration::from_secs(15),
            "huge h2 header",
            client.fetch(server.url(huge)),
        )
        .await,
        "32 KiB of response headers over a 16 KiB limit",
    );
    assert_eq!(e.attempts(), 1, "{e}");
    assert_eq!(server.hits(huge).len(), 1);

    // Refused as a stream error: the connection goes on.
    let ok = within(
        Duration::from_secs(10),
        "after",
        client.fetch(server.url("/h2/ok/after")),
    )
    .await
    .unwrap_or_else(|e| panic!("{:?}: {e}", e.kind()));
    assert!(ok.text().unwrap().contains("path=/h2/ok/after"));
    assert_eq!(server.accepted(), 1);
    assert_eq!(server.panics(), 0);
    e
}

/// h2 resets an oversized head with a bare `PROTOCOL_ERROR`; the client
/// gives h2 room to spare and applies its own limit, so the kind says why
/// (it was `Protocol` before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_header_list_over_the_limit_is_headers_too_large_once() {
    let e = fetch_over_the_header_limit().await;
    assert_eq!(e.kind(), ErrorKind::HeadersTooLarge, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_block_that_never_ends_is_refused_quickly() {
    let server = H2Server::start(H2Mode::ContinuationFlood).await;
    let client = h2c_builder()
        .max_response_header_size(16 * 1024)
        .build()
        .unwrap();

    let start = Instant::now();
    let e = expect_err(
        within(
            Duration::from_secs(15),
            "continuation flood",
            client.fetch(server.url("/flood")),
        )
        .await,
        "a header block without end",
    );
    let took = start.elapsed();

    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(e.attempts(), 1, "{e}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The client stopped reading after a few frames: the server could push
    // no more than the socket buffers hold.
    assert!(
        eventually(Duration::from_secs(10), || !server.floods().is_empty()).await,
        "the flood is still going"
    );
    let floods = server.floods();
    assert_eq!(floods.len(), 1, "{floods:?}");
    assert!(floods[0] < FLOOD_CAP / 4, "{floods:?} bytes pushed");
    assert_eq!(server.panics(), 0);
}
