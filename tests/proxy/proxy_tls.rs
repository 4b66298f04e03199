//! Proxies spoken to over TLS (`https://` proxy URLs), as reqwest and curl
//! speak to them: the connection to the proxy is TLS, verified against the
//! client's roots like any server's; inside it, a `CONNECT` tunnel carries
//! `https` requests (TLS to the target within TLS to the proxy), and
//! `http` requests are forwarded in absolute form.

use batch_fetch::{Certificate, ErrorKind, Proxy};
use http::Version;

use crate::support::clients::trusting;
use crate::support::{ProxyServer, TestPki, TestServer, bounded, expect_err};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_tunnel_through_a_tls_proxy() {
    let pki = TestPki::generate();
    let target = TestServer::start_tls(pki.server_config()).await;
    let proxy = ProxyServer::start_tls(pki.server_config_with_alpn(&[b"http/1.1"]), None).await;
    let client = trusting(&pki)
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();

    let results = bounded(
        "through the TLS proxy",
        client.fetch_all((1..=3).map(|i| target.url(&format!("/id/{i}")))),
    )
    .await
    .unwrap();

    let bodies: Vec<String> = results.iter().map(|r| r.text().unwrap()).collect();
    assert_eq!(bodies, ["1", "2", "3"]);
    assert_eq!(
        results[0].version(),
        Version::HTTP_2,
        "ALPN with the target, inside the tunnel"
    );
    assert_eq!(proxy.connects(), [target.addr().to_string()]);
    assert_eq!(proxy.handshakes(), 1, "one TLS connection to the proxy");
    assert_eq!(target.connections_used(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_targets_are_forwarded_by_a_tls_proxy_with_its_credentials() {
    let pki = TestPki::generate();
    let target = TestServer::start().await;
    let proxy = ProxyServer::start_tls(
        pki.server_config_with_alpn(&[b"http/1.1"]),
        Some(("user", "s3cret")),
    )
    .await;
    let client = trusting(&pki)
        .proxy(Proxy::all(proxy.url_with_auth("user", "s3cret")))
        .build()
        .unwrap();

    let resp = bounded("forwarded", client.fetch(target.url("/id/7")))
        .await
        .unwrap();

    assert_eq!(resp.text().unwrap(), "7");
    let hits = proxy.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].method, "GET");
    assert_eq!(hits[0].target, target.url("/id/7"), "absolute form");
    assert_eq!(hits[0].refused_with, 0, "the credentials were taken");
    assert!(proxy.handshakes() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxys_ca_is_trusted_like_any_other() {
    let (target_pki, proxy_pki) = (TestPki::generate(), TestPki::generate());
    let target = TestServer::start_tls(target_pki.server_config()).await;
    let proxy =
        ProxyServer::start_tls(proxy_pki.server_config_with_alpn(&[b"http/1.1"]), None).await;

    // The target's CA alone: the proxy's certificate is refused, as TLS.
    let client = trusting(&target_pki)
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("untrusted proxy", client.fetch(target.url("/id/1"))).await,
        "the proxy's CA is not trusted",
    );
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let shown = format!("{e:#}");
    assert!(
        shown.contains(&format!("proxy {}", proxy.addr())),
        "the error names the proxy: {shown}"
    );
    assert!(
        proxy.hits().is_empty(),
        "nothing sent to an unverified proxy"
    );
    assert_eq!(target.total_hits(), 0);

    // Both CAs (the proxy's from PEM): through.
    let proxy_ca = Certificate::from_pem(proxy_pki.ca_pem.as_bytes()).unwrap();
    let client = trusting(&target_pki)
        .add_root_certificate(proxy_ca)
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let resp = bounded("trusted proxy", client.fetch(target.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "2");
    assert_eq!(proxy.connects(), [target.addr().to_string()]);
}
