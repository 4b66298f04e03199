//! The fault suite's connection side: every way a connection can fail to
//! open ends in its expected kind after the expected attempts, within the
//! connect timeout rather than the attempt timeout, and never hangs.
//! Stalls (a TLS handshake, a name lookup, a proxy's `CONNECT` that never
//! answer) are timeouts of kind `Connect`, retried; a server that speaks
//! plaintext on an `https` port and certificates out of their validity are
//! `Tls`, not retried; a proxy's refusal is retried only when it may pass
//! (a `502`, not a `403`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::clients::{builder, quick};
use crate::support::raw::{Behavior, RawServer};
use crate::support::{TestPki, TestServer, bounded};
use batch_fetch::{BatchClientBuilder, ErrorKind, Proxy, Resolve, Resolving};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Far above the connect timeout: a fault that reaches it was not bounded
/// by the connect timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Generous for two connect timeouts and a backoff on a busy machine, and
/// far below [`ATTEMPT_TIMEOUT`].
const PROMPT: Duration = Duration::from_secs(8);

fn client() -> BatchClientBuilder {
    builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT)
        .retry(quick(1))
}

/// What a fetch of `url` with `client` must end in: the kind, the
/// attempts, and whether it is a timeout.
async fn expect(
    what: &str,
    client: BatchClientBuilder,
    url: &str,
    (kind, attempts, timed_out): (ErrorKind, u32, bool),
) {
    let client = client.build().unwrap();
    let t0 = Instant::now();
    let err = bounded(what, client.fetch(url))
        .await
        .expect_err("the connection cannot be made");
    let took = t0.elapsed();
    assert_eq!(err.kind(), kind, "{what}: {err}");
    assert_eq!(err.attempts(), attempts, "{what}: {err}");
    assert_eq!(err.is_timeout(), timed_out, "{what}: {err}");
    assert!(took < PROMPT, "{what}: took {took:?}: {err}");
}

/// A resolver whose lookups never end.
struct NeverAnswers;

impl Resolve for NeverAnswers {
    fn resolve(&self, _host: &str) -> Resolving {
        Box::pin(std::future::pending())
    }
}

/// A resolver that says no name exists.
struct NoSuchName;

impl Resolve for NoSuchName {
    fn resolve(&self, host: &str) -> Resolving {
        let err = std::io::Error::new(std::io::ErrorKind::NotFound, format!("NXDOMAIN: {host}"));
        Box::pin(async move { Err(err.into()) })
    }
}

/// A server that takes connections and never says a word (nor reads one).
async fn silent() -> RawServer {
    RawServer::script(|stream, _| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await
}

/// A proxy that reads the `CONNECT` head and answers `status`.
async fn refusing_proxy(status: &'static str) -> RawServer {
    RawServer::script(move |mut stream, _| async move {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await
}

fn https(addr: SocketAddr) -> String {
    format!("https://{addr}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_stalls_is_a_connect_timeout() {
    let server = silent().await;
    expect(
        "TLS stall",
        client(),
        &https(server.addr()),
        (ErrorKind::Connect, 2, true),
    )
    .await;
    assert_eq!(server.accepted(), 2, "one connection per attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_lookup_that_never_ends_is_a_connect_timeout() {
    let client = client().dns_resolver(std::sync::Arc::new(NeverAnswers));
    expect(
        "DNS stall",
        client,
        "http://never.test:8080/",
        (ErrorKind::Connect, 2, true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_exist_is_a_connect_error() {
    let client = client().dns_resolver(std::sync::Arc::new(NoSuchName));
    expect(
        "NXDOMAIN",
        client,
        "http://nowhere.test/",
        (ErrorKind::Connect, 2, false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_never_answers_connect_is_a_connect_timeout() {
    let proxy = RawServer::start(Behavior::NeverAnswer).await;
    let client = client().proxy(Proxy::all(proxy.url("")));
    expect(
        "CONNECT stall",
        client,
        "https://127.0.0.1:9/",
        (ErrorKind::Connect, 2, true),
    )
    .await;
    assert_eq!(proxy.requests(), 2, "one CONNECT per attempt");
}

/// A refusal the proxy will repeat (`403`) is final; one that may pass
/// (`502`: it could not reach the site) is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_refusing_the_tunnel_is_asked_again_only_if_it_may_pass() {
    for (status, attempts) in [("403 Forbidden", 1), ("502 Bad Gateway", 2)] {
        let proxy = refusing_proxy(status).await;
        let client = client().proxy(Proxy::all(proxy.url("")));
        let want = (ErrorKind::Connect, attempts, false);
        expect(status, client, "https://127.0.0.1:9/", want).await;
        assert_eq!(proxy.accepted(), attempts as usize, "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_server_on_an_https_port_is_a_tls_error() {
    let server = TestServer::start().await;
    let url = https(server.addr());
    expect("plaintext", client(), &url, (ErrorKind::Tls, 1, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_out_of_their_validity_are_tls_errors() {
    for (what, pki) in [
        ("expired", TestPki::valid_between(2000, 2001)),
        ("not yet valid", TestPki::valid_between(2090, 2091)),
    ] {
        let server = TestServer::start_tls(pki.server_config()).await;
        let client = client().add_root_certificate(pki.certificate());
        let client = client.build().unwrap();
        let err = bounded(what, client.fetch(server.url("/id/1")))
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Tls, "{what}: {err}");
        assert_eq!(err.attempts(), 1, "{what}: {err}");
        let shown = err.to_string().to_lowercase();
        assert!(
            shown.contains("expired")
                || shown.contains("not valid yet")
                || shown.contains("notvalidyet"),
            "{what}: the message says why: {err}"
        );
    }
}
