//! The client's own pool of HTTP/1.1 connections: no more connections to
//! an origin than requests in flight there, each reused while it stays
//! open, and closed once idle for the pool's idle timeout; and a `CONNECT`
//! in the form HTTP/1.1 asks.

use std::time::Duration;

use batch_fetch::BatchClient;
use tokio::io::AsyncWriteExt;

use crate::support::clients::trusting;
use crate::support::fn_server::{FnServer, reply};
use crate::support::raw::read_request;
use crate::support::{RawServer, TestPki, TestServer, bounded};

/// A server whose answers take `delay`, so requests overlap.
async fn slow_server(delay: Duration) -> FnServer {
    FnServer::builder()
        .start(move |_| async move {
            tokio::time::sleep(delay).await;
            reply(200, "ok")
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_never_outnumber_the_requests_in_flight() {
    // Quick answers: requests end while others wait for their connects,
    // which is when a pool that does not hand connections over opens more.
    let server = FnServer::builder()
        .start(|_| async { reply(200, "ok") })
        .await;
    let client = BatchClient::builder().concurrency(64).build().unwrap();
    opens_no_more_than_in_flight_then_reuses(&client, &server, 3000, 64).await;
}

/// Runs `n` requests to `server` through `client`, which lets `c` run at
/// once: no more connections than that are opened, and a second batch
/// reuses them all.
async fn opens_no_more_than_in_flight_then_reuses(
    client: &BatchClient,
    server: &FnServer,
    n: usize,
    c: usize,
) {
    let urls: Vec<String> = (0..n).map(|i| server.url(&format!("/a/{i}"))).collect();
    let results = bounded("batch", client.fetch_all_settled(urls.clone())).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|res| res.status() == 200))
    );
    let opened = server.stats().accepted();
    assert!(
        opened <= c,
        "{opened} connections for {c} requests in flight at most"
    );
    // The next batch finds them all idle.
    bounded("again", client.fetch_all_settled(urls)).await;
    assert_eq!(
        server.stats().accepted(),
        opened,
        "the second batch reused them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_origin_gets_no_more_connections_than_its_limit() {
    let servers = [
        FnServer::builder()
            .ip([127, 0, 0, 21])
            .start(|_| async { reply(200, "a") })
            .await,
        FnServer::builder()
            .ip([127, 0, 0, 22])
            .start(|_| async { reply(200, "b") })
            .await,
    ];
    let client = BatchClient::builder()
        .concurrency(64)
        .per_host_concurrency(3)
        .build()
        .unwrap();
    let urls: Vec<String> = (0..600)
        .map(|i| servers[i % 2].url(&format!("/n/{i}")))
        .collect();
    let results = bounded("batch", client.fetch_all_settled(urls)).await;
    assert!(results.iter().all(|r| r.is_ok()));
    for server in &servers {
        let opened = server.stats().accepted();
        assert!(
            (1..=3).contains(&opened),
            "{opened} connections to one origin at a limit of 3"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_one_after_another_share_one_connection() {
    let server = FnServer::builder()
        .start(|_| async { reply(200, "") })
        .await;
    let client = BatchClient::new();
    for i in 0..20 {
        // Empty bodies too: the connection goes back at the end of a body
        // that ends as it starts.
        let res = bounded("fetch", client.fetch(server.url(&format!("/{i}"))))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(server.stats().accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let server = FnServer::builder()
        .start(|_| async { reply(200, "x") })
        .await;
    let client = BatchClient::builder()
        .pool_idle_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    bounded("first", client.fetch(server.url("/1")))
        .await
        .unwrap();
    bounded("soon after", client.fetch(server.url("/2")))
        .await
        .unwrap();
    assert_eq!(server.stats().accepted(), 1, "reused while fresh");
    tokio::time::sleep(Duration::from_millis(600)).await;
    bounded("later", client.fetch(server.url("/3")))
        .await
        .unwrap();
    assert_eq!(server.stats().accepted(), 2, "the idle one expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_are_kept_idle_than_allowed() {
    let server = slow_server(Duration::from_millis(20)).await;
    let client = BatchClient::builder()
        .concurrency(8)
        .pool_max_idle_per_host(2)
        .build()
        .unwrap();
    let urls = |round: usize| -> Vec<String> {
        (0..8)
            .map(|i| server.url(&format!("/{round}/{i}")))
            .collect()
    };
    bounded("first", client.fetch_all_settled(urls(1))).await;
    assert_eq!(server.stats().accepted(), 8);
    bounded("second", client.fetch_all_settled(urls(2))).await;
    assert_eq!(server.stats().accepted(), 8 + 6, "two were kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_http2_connection_is_let_go_after_the_idle_timeout() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&pki)
        .pool_idle_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let first = bounded("first", client.fetch(server.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(first.version(), http::Version::HTTP_2);
    bounded("soon after", client.fetch(server.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(server.accepted(), 1, "shared while in use");
    tokio::time::sleep(Duration::from_millis(800)).await;
    bounded("later", client.fetch(server.url("/id/3")))
        .await
        .unwrap();
    assert_eq!(server.accepted(), 2, "the unused one was let go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_over_http1_reuses_its_connections_and_says_its_host() {
    let pki = TestPki::generate();
    let server = FnServer::builder()
        .tls(pki.server_config_with_alpn(&[b"http/1.1"]))
        .start(|seen| async move { reply(200, seen.header("host").unwrap_or_default()) })
        .await;
    let client = trusting(&pki).build().unwrap();
    for i in 0..5 {
        let res = bounded("fetch", client.fetch(server.url(&format!("/{i}"))))
            .await
            .unwrap();
        assert_eq!(res.version(), http::Version::HTTP_11);
        assert_eq!(res.text().unwrap(), server.addr().to_string());
    }
    assert_eq!(server.stats().accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_overtaken_by_a_connection_put_back_count_against_the_limit() {
    // TLS handshakes take long next to quick answers, so requests are
    // often handed a connection put back while their own connect is half
    // made (the server has accepted it). A pool that drops such connects
    // and connects again for the next request opens more connections than
    // requests in flight; these go on, and join the idle ones.
    let pki = TestPki::generate();
    let server = FnServer::builder()
        .tls(pki.server_config_with_alpn(&[b"http/1.1"]))
        .start(|_| async { reply(200, "ok") })
        .await;
    let client = trusting(&pki).concurrency(24).build().unwrap();
    opens_no_more_than_in_flight_then_reuses(&client, &server, 1500, 24).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_request_names_its_authority_with_the_port() {
    // RFC 9110 §9.3.6: `CONNECT host:port`, not a path.
    let (lines, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let server = RawServer::script(move |mut stream, _| {
        let lines = lines.clone();
        async move {
            let mut buf = Vec::new();
            if let Some(line) = read_request(&mut stream, &mut buf, Duration::from_secs(5)).await {
                let _ = lines.send(line);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    })
    .await;
    let client = BatchClient::new();
    let req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(server.url("/"))
        .body(Vec::<u8>::new())
        .unwrap();
    let res = bounded("connect", client.fetch(req)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        seen.recv().await.unwrap(),
        format!("CONNECT 127.0.0.1:{}", server.addr().port())
    );
}
