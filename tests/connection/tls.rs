//! TLS with certificates generated at test time: untrusted → Tls error;
//! with the CA added → Ok over HTTP/2 (ALPN), sharing one connection.

use crate::support::clients::{defaults, trusting};
use crate::support::{TestPki, TestServer, bounded, expect_err};
use batch_fetch::{ErrorKind, RetryPolicy};
use http::Version;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_tls_error() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = defaults().retry(RetryPolicy::none()).build().unwrap();

    let e = expect_err(
        bounded("untrusted", client.fetch(server.url("/id/1"))).await,
        "the test CA is not trusted by default",
    );

    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(!e.is_timeout());
    assert_eq!(
        server.total_hits(),
        0,
        "no request is sent over an unverified connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_from_another_ca_is_a_tls_error() {
    let pki = TestPki::generate();
    let other = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&other).build().unwrap();

    let e = expect_err(
        bounded("foreign CA", client.fetch(server.url("/id/1"))).await,
        "trusting another CA does not help",
    );
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_ca_gives_http2_over_alpn() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&pki).build().unwrap();

    let resp = bounded("trusted", client.fetch(server.url("/id/42")))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.text().unwrap(), "42");
    assert_eq!(resp.headers()["x-http-version"], "HTTP/2.0");
    assert_eq!(resp.remote_addr(), Some(server.addr()));
    let resp = bounded("version", client.fetch(server.url("/version")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "HTTP/2.0", "the server saw HTTP/2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostname_is_verified_by_dns_name_too() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&pki).build().unwrap();
    let resp = bounded(
        "localhost",
        client.fetch(server.url_with_host("localhost", "/id/7")),
    )
    .await
    .unwrap();
    assert_eq!(resp.text().unwrap(), "7");
    assert_eq!(resp.version(), Version::HTTP_2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_only_server_gives_http11_over_tls() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config_with_alpn(&[b"http/1.1"])).await;
    let client = trusting(&pki).build().unwrap();
    let resp = bounded("h1 over tls", client.fetch(server.url("/version")))
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.text().unwrap(), "HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_requests_share_one_connection() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&pki).concurrency(10).build().unwrap();
    // Establish the HTTP/2 connection first, then multiplex on it.
    let warm = bounded("warm-up", client.fetch(server.url("/id/warm")))
        .await
        .unwrap();
    assert_eq!(warm.version(), Version::HTTP_2);

    let urls: Vec<String> = (0..50)
        .map(|i| server.url(&format!("/id/{i}?delay=20")))
        .collect();
    let resps = bounded("50 over h2", client.fetch_all(urls)).await.unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.text().unwrap(), i.to_string());
    }
    assert_eq!(
        server.accepted(),
        1,
        "all 51 requests share one TLS connection"
    );
    assert_eq!(server.connections_used(), 1);
    let peak = server.peak_in_flight();
    assert!(
        (2..=10).contains(&peak),
        "requests are multiplexed on the connection within the limit: peak {peak}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_http2_batch_opens_one_connection() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&pki).concurrency(10).build().unwrap();
    let urls: Vec<String> = (0..50)
        .map(|i| server.url(&format!("/id/{i}?delay=20")))
        .collect();

    let resps = bounded("50 over h2, cold", client.fetch_all(urls))
        .await
        .unwrap();

    assert!(resps.iter().all(|r| r.version() == Version::HTTP_2));
    // On first contact the pool cannot know the origin speaks h2; the
    // client lets one handshake go first, and the others' requests ride on
    // the connection it opens.
    assert_eq!(
        server.accepted(),
        1,
        "50 requests at concurrency 10 over h2 should open 1 connection"
    );
    assert_eq!(server.connections_used(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_http1_tls_batch_opens_its_own_connections() {
    // A server that speaks only HTTP/1.1 over TLS: after the first
    // handshake says so, the waiting requests connect in parallel.
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config_with_alpn(&[b"http/1.1"])).await;
    let client = trusting(&pki).concurrency(10).build().unwrap();
    let urls: Vec<String> = (0..50)
        .map(|i| server.url(&format!("/id/{i}?delay=50")))
        .collect();

    let resps = bounded("50 over h1 TLS, cold", client.fetch_all(urls))
        .await
        .unwrap();

    assert!(resps.iter().all(|r| r.version() == Version::HTTP_11));
    assert!(
        server.peak_in_flight() > 1,
        "HTTP/1.1 requests must run on parallel connections"
    );
    // The pool may finish a connect in the background when a connection
    // came free first, so a few more than the concurrency can open.
    assert!(server.accepted() <= 20, "{} connections", server.accepted());
}
