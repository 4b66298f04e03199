//! HTTP version choice: `http2_prior_knowledge()` speaks h2c to plain-http
//! servers over one shared connection; `http1_only()` keeps HTTP/1.1 even
//! when TLS ALPN offers h2; both at once is a Config error; the default
//! over TLS is HTTP/2 by ALPN and over plain http HTTP/1.1.

use crate::support::clients::{defaults, trusting};
use crate::support::{TestPki, TestServer, bounded, expect_err};
use batch_fetch::{ErrorKind, RetryPolicy};
use http::Version;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prior_knowledge_speaks_h2c_to_plain_http() {
    let server = TestServer::start().await;
    let client = defaults()
        .http2_prior_knowledge()
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let resp = bounded("h2c", client.fetch(server.url("/version")))
        .await
        .unwrap();

    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.text().unwrap(), "HTTP/2.0", "the server saw HTTP/2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prior_knowledge_batch_shares_one_connection() {
    let server = TestServer::start().await;
    let client = defaults()
        .http2_prior_knowledge()
        .concurrency(50)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let urls: Vec<String> = (0..200)
        .map(|i| server.url(&format!("/id/{i}?delay=5")))
        .collect();

    let resps = bounded("200 over h2c", client.fetch_all(&urls))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.text().unwrap(), i.to_string());
    }
    assert_eq!(server.accepted(), 1, "one connection for the whole batch");
    assert_eq!(server.connections_used(), 1);
    assert!(
        server.peak_in_flight() > 1,
        "requests are multiplexed: peak {}",
        server.peak_in_flight()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_only_keeps_http11_when_alpn_offers_h2() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await; // ALPN h2, http/1.1
    let client = defaults()
        .add_root_certificate(pki.certificate())
        .http1_only()
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let resp = bounded("h1 only", client.fetch(server.url("/version")))
        .await
        .unwrap();

    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.text().unwrap(), "HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_over_tls_is_http2_and_over_plain_http_is_http11() {
    let pki = TestPki::generate();
    let secure = TestServer::start_tls(pki.server_config()).await;
    let plain = TestServer::start().await;
    let client = trusting(&pki).build().unwrap();

    let resp = bounded("tls default", client.fetch(secure.url("/version")))
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    let resp = bounded("plain default", client.fetch(plain.url("/version")))
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.text().unwrap(), "HTTP/1.1");
}

#[test]
fn http1_only_and_prior_knowledge_exclude_each_other() {
    let e = expect_err(
        defaults().http1_only().http2_prior_knowledge().build(),
        "both versions forced",
    );
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let e = expect_err(
        defaults().http2_prior_knowledge().http1_only().build(),
        "both versions forced, other order",
    );
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
}
