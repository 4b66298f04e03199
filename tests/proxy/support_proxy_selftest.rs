//! The loopback proxy of `crate::support::proxy` itself: it refuses any target
//! outside loopback without connecting anywhere, demands credentials when
//! configured, and forwards/tunnels to loopback targets.

use std::time::Duration;

use crate::support::{ProxyServer, TestServer, bounded, raw};

/// Sends `request` to the proxy and reads until it closes (5 s at most).
async fn exchange(proxy: &ProxyServer, request: &str) -> String {
    let out = raw::exchange(proxy.addr(), request.as_bytes(), Duration::from_secs(5)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_outside_loopback_are_refused_without_connecting() {
    let proxy = ProxyServer::start().await;
    for request in [
        "CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: 192.0.2.1:443\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "GET http://192.0.2.1/ HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n",
        "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
    ] {
        let answer = bounded("refused target", exchange(&proxy, request)).await;
        assert!(
            answer.starts_with("HTTP/1.1 502"),
            "{request:?}: {answer:?}"
        );
    }
    assert!(proxy.hits().iter().all(|h| h.refused_with == 502));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_required_when_configured() {
    let server = TestServer::start().await;
    let proxy = ProxyServer::with_auth("user", "pass").await;
    let target = server.url("/id/1");

    let answer = bounded(
        "no auth",
        exchange(&proxy, &format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 407"), "{answer:?}");

    let answer = bounded(
        "auth",
        exchange(
            &proxy,
            &format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n",
                server.addr()
            ),
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\n1"), "{answer:?}");
    assert_eq!(server.hits("/id/1"), 1);
}
