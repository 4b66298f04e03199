//! Host overrides, like curl's `--resolve`: `resolve(host, addr)` sends
//! requests for `host` to `addr` (its port when the URL names none; an
//! explicit URL port wins; port 0 means the URL's), and TLS is still
//! verified against the host name.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::{Echo, TestPki, TestServer, bounded, clients, closed_port, expect_err};
use batch_fetch::{BatchClientBuilder, ErrorKind};
use http::Version;

/// [`clients::builder`] with a 5 s connect timeout.
fn builder() -> BatchClientBuilder {
    clients::builder().connect_timeout(Duration::from_secs(5))
}

fn closed_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], closed_port()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_name_without_port_goes_to_the_override_and_is_verified() {
    let pki = TestPki::for_names(&["api.example.test"]);
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = builder()
        .add_root_certificate(pki.certificate())
        .resolve("api.example.test", server.addr())
        .build()
        .unwrap();

    let resp = bounded("override", client.fetch("https://api.example.test/id/1"))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "1");
    assert_eq!(resp.version(), Version::HTTP_2, "ALPN as usual");
    assert_eq!(resp.url().to_string(), "https://api.example.test/id/1");
    assert_eq!(server.hits("/id/1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_url_port_wins_over_the_override_s_port() {
    let pki = TestPki::for_names(&["api.example.test"]);
    let server = TestServer::start_tls(pki.server_config()).await;
    // The override's port is closed; the URL names the server's.
    let addr = closed_addr();
    let client = builder()
        .add_root_certificate(pki.certificate())
        .resolve("api.example.test", addr)
        .build()
        .unwrap();

    let url = format!("https://api.example.test:{}/id/2", server.port());
    let resp = bounded("url port", client.fetch(url.as_str()))
        .await
        .unwrap();

    assert_eq!(resp.text().unwrap(), "2");

    // And the other way round: the override names the server's port, the
    // URL a closed one, which is what is used.
    let client = builder()
        .add_root_certificate(pki.certificate())
        .resolve("api.example.test", server.addr())
        .build()
        .unwrap();
    let url = format!("https://api.example.test:{}/id/3", addr.port());
    let e = expect_err(
        bounded("closed url port", client.fetch(url.as_str())).await,
        "the URL's closed port is used",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(server.hits("/id/3"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_a_tls_error() {
    let pki = TestPki::for_names(&["api.example.test"]);
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = builder()
        .add_root_certificate(pki.certificate())
        .resolve("other.example.test", server.addr())
        .build()
        .unwrap();

    let e = expect_err(
        bounded(
            "wrong name",
            client.fetch("https://other.example.test/id/1"),
        )
        .await,
        "the leaf names api.example.test only",
    );

    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert_eq!(
        server.total_hits(),
        0,
        "nothing sent over an unverified connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_sends_the_name_in_host() {
    let server = TestServer::start().await;
    let client = builder()
        .resolve("api.example.test", server.addr())
        .build()
        .unwrap();

    let resp = bounded(
        "http override",
        client.fetch("http://api.example.test/echo"),
    )
    .await
    .unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.header("host"), Some("api.example.test"));
    assert_eq!(resp.url().to_string(), "http://api.example.test/echo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_zero_means_the_url_s_port() {
    let server = TestServer::start().await;
    let client = builder()
        .resolve("svc.test", SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .unwrap();

    let url = format!("http://svc.test:{}/echo", server.port());
    let resp = bounded("port 0", client.fetch(url.as_str())).await.unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(
        echo.header("host"),
        Some(format!("svc.test:{}", server.port()).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_hosts_and_addresses() {
    let one = TestServer::start().await;
    let two = TestServer::builder().ip([127, 0, 0, 2]).start().await;
    let client = builder()
        .resolve("one.test", one.addr())
        .resolve("two.test", two.addr())
        // Two addresses for one name: the first refuses, the second answers.
        .resolve("both.test", closed_addr())
        .resolve("both.test", two.addr())
        .build()
        .unwrap();
    let urls: Vec<String> = (0..30)
        .map(|i| match i % 3 {
            0 => format!("http://one.test/id/{i}"),
            1 => format!("http://two.test/id/{i}"),
            _ => format!("http://both.test/id/{i}"),
        })
        .collect();

    let resps = bounded("several overrides", client.fetch_all(&urls))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.text().unwrap(), i.to_string());
    }
    assert_eq!(one.total_hits(), 10);
    assert_eq!(two.total_hits(), 20, "two.test and both.test");
}
