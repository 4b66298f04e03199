//! Keep-alive: an HTTP/2 connection that goes silent (socket open, nothing
//! read, no PING answered) is found dead by the client's PINGs, so its
//! request fails over to a new connection instead of waiting out its
//! attempt timeout, and the retries are not handed the dead connection
//! again.

use std::time::{Duration, Instant};

use crate::support::clients::{h2c_builder, quick};
use crate::support::{H2Mode, H2Server, bounded};
use batch_fetch::{BatchClientBuilder, ErrorKind};

/// Far above the PING period below, so that only a PING can end the wait
/// on the silent connection in time.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);

fn client(interval: Option<Duration>) -> BatchClientBuilder {
    h2c_builder()
        .timeout(ATTEMPT_TIMEOUT)
        .retry(quick(1))
        .http2_keep_alive_interval(interval)
        .http2_keep_alive_timeout(Duration::from_millis(300))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_http2_connection_is_found_dead_by_ping() {
    let server = H2Server::start(H2Mode::SilentAfter(1)).await;
    let client = client(Some(Duration::from_millis(200))).build().unwrap();

    let first = bounded("first", client.fetch(server.url("/a"))).await;
    assert!(first.unwrap().text().unwrap().starts_with("conn=1 "));

    let t0 = Instant::now();
    let second = bounded("second", client.fetch(server.url("/b"))).await;
    let took = t0.elapsed();
    let second = second.expect("answered on a new connection");
    assert!(
        second.text().unwrap().starts_with("conn=2 "),
        "{:?}",
        second.text()
    );
    assert!(
        took < ATTEMPT_TIMEOUT,
        "found dead by PING, not by the attempt timeout: {took:?}"
    );
    assert_eq!(server.accepted(), 2);
}

/// Without PINGs the silent connection holds each attempt to its timeout
/// and the pool hands it to the retry too: what the PINGs above prevent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pings_the_retry_reuses_the_silent_connection() {
    let server = H2Server::start(H2Mode::SilentAfter(1)).await;
    let client = client(None).build().unwrap();

    bounded("first", client.fetch(server.url("/a")))
        .await
        .expect("answered");
    let err = bounded("second", client.fetch(server.url("/b")))
        .await
        .expect_err("the silent connection never answers");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.attempts(), 2, "{err}");
    assert_eq!(
        server.accepted(),
        1,
        "the retry went to the same connection"
    );
}

#[test]
fn keep_alive_periods_of_zero_are_config_errors() {
    for builder in [
        BatchClientBuilder::new().tcp_keepalive(Some(Duration::ZERO)),
        BatchClientBuilder::new().http2_keep_alive_interval(Some(Duration::ZERO)),
        BatchClientBuilder::new().http2_keep_alive_timeout(Duration::ZERO),
    ] {
        let err = builder.build().expect_err("zero");
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    }
    BatchClientBuilder::new()
        .tcp_keepalive(None)
        .http2_keep_alive_interval(None)
        .http2_keep_alive_while_idle(true)
        .build()
        .expect("off is fine");
}

/// A request lost with a connection found dead by PING may have been
/// processed (the server took it, then went silent): a `POST` is not sent
/// again, and fails as the timeout it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_lost_with_a_dead_connection_is_not_sent_again() {
    let server = H2Server::start(H2Mode::SilentAfter(1)).await;
    let client = client(Some(Duration::from_millis(200))).build().unwrap();

    bounded("first", client.fetch(server.url("/a")))
        .await
        .expect("answered");
    let post = batch_fetch::Request::post(server.url("/b")).body("once");
    let err = bounded("post", client.fetch(post))
        .await
        .expect_err("the silent connection never answers");
    assert_eq!(err.attempts(), 1, "{err}");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(server.accepted(), 1, "not sent on a new connection");
}
