//! Explicit proxies: `https` goes through a `CONNECT` tunnel (TLS verified
//! end to end against the target), `http` is forwarded in absolute form;
//! credentials in the proxy URL are sent as `Proxy-Authorization: Basic`;
//! a `no_proxy` list bypasses the proxy; `Proxy::http`/`Proxy::https` pick
//! by scheme.

use std::time::{Duration, Instant};

use crate::support::clients::{builder, quick, trusting};
use crate::support::{Echo, ProxyServer, TestPki, TestServer, bounded, closed_port, expect_err};
use batch_fetch::{BatchClient, ErrorKind, Proxy};
use http::Version;

/// A CA, an https server presenting a leaf it signed, and a plain http
/// server.
async fn secure_and_plain() -> (TestPki, TestServer, TestServer) {
    let pki = TestPki::generate();
    let secure = TestServer::start_tls(pki.server_config()).await;
    let plain = TestServer::start().await;
    (pki, secure, plain)
}

/// Fetches `urls` one after the other; each must succeed.
async fn fetch_in_turn(client: &BatchClient, what: &str, urls: impl IntoIterator<Item = String>) {
    for url in urls {
        let scheme = url.split(':').next().unwrap().to_string();
        bounded(&format!("{what}: {scheme}"), client.fetch(url))
            .await
            .unwrap();
    }
}

/// `Basic base64(user:pass)`
const USER_PASS: &str = "Basic dXNlcjpwYXNz";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_a_connect_tunnel() {
    let pki = TestPki::generate(); // leaf for localhost and 127.0.0.1
    let server = TestServer::start_tls(pki.server_config()).await;
    let proxy = ProxyServer::start().await;
    let client = trusting(&pki)
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();

    let by_name = server.url_with_host("localhost", "/id/1");
    let resp = bounded("https via proxy", client.fetch(by_name.as_str()))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "1");
    assert_eq!(resp.version(), Version::HTTP_2, "ALPN through the tunnel");
    assert_eq!(
        proxy.connects(),
        [format!("localhost:{}", server.port())],
        "the proxy was asked for the target host"
    );

    let resp = bounded("https ip via proxy", client.fetch(server.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "2");
    assert_eq!(
        proxy.connects().last().unwrap(),
        &format!("127.0.0.1:{}", server.port())
    );
    assert!(
        proxy.forwards().is_empty(),
        "nothing sent in clear to the proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnel_does_not_weaken_certificate_checks() {
    let pki = TestPki::generate();
    let other = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let proxy = ProxyServer::start().await;
    let client = trusting(&other)
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();

    let e = expect_err(
        bounded("untrusted via proxy", client.fetch(server.url("/id/1"))).await,
        "the target's certificate is not trusted",
    );

    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert_eq!(proxy.connects().len(), 1);
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_forwarded_in_absolute_form() {
    let server = TestServer::start().await;
    let proxy = ProxyServer::start().await;
    let client = builder().proxy(Proxy::all(proxy.url())).build().unwrap();

    let url = server.url("/echo?x=1");
    let resp = bounded("http via proxy", client.fetch(url.as_str()))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(
        proxy.forwards(),
        std::slice::from_ref(&url),
        "absolute-form request line"
    );
    assert!(proxy.connects().is_empty());
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.uri, "/echo?x=1");
    assert_eq!(
        echo.header("host"),
        Some(server.addr().to_string().as_str())
    );
    assert_eq!(resp.url().to_string(), url);
    // The peer is the proxy that carried the request.
    assert_eq!(resp.remote_addr(), Some(proxy.addr()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_goes_through_the_proxy_in_order() {
    let (pki, secure, plain) = secure_and_plain().await;
    let proxy = ProxyServer::start().await;
    let client = trusting(&pki)
        .proxy(Proxy::all(proxy.url()))
        .concurrency(8)
        .build()
        .unwrap();
    let urls: Vec<String> = (0..30)
        .map(|i| {
            let s = if i % 2 == 0 { &secure } else { &plain };
            s.url(&format!("/id/{i}?delay={}", (30 - i) * 2))
        })
        .collect();

    let resps = bounded("batch via proxy", client.fetch_all(&urls))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.text().unwrap(), i.to_string());
    }
    assert_eq!(secure.total_hits() + plain.total_hits(), 30);
    assert_eq!(proxy.forwards().len(), 15, "each http request forwarded");
    assert!(!proxy.connects().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_proxy_url_are_sent() {
    let (pki, secure, plain) = secure_and_plain().await;
    let proxy = ProxyServer::with_auth("user", "pass").await;
    let client = trusting(&pki)
        .proxy(Proxy::all(proxy.url_with_auth("user", "pass")))
        .build()
        .unwrap();

    let resp = bounded("https with auth", client.fetch(secure.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "1");
    let resp = bounded("http with auth", client.fetch(plain.url("/echo")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let hits = proxy.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    for hit in &hits {
        assert_eq!(hit.auth.as_deref(), Some(USER_PASS), "{hit:?}");
        assert_eq!(hit.refused_with, 0, "{hit:?}");
    }
    assert_eq!(hits[0].method, "CONNECT");
    assert_eq!(hits[1].method, "GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_proxy_credentials_fail() {
    let (pki, secure, plain) = secure_and_plain().await;
    let proxy = ProxyServer::with_auth("user", "pass").await;
    let client = trusting(&pki)
        .proxy(Proxy::all(proxy.url_with_auth("user", "wrong-secret")))
        .build()
        .unwrap();

    // https: the CONNECT is refused with 407, so no connection: Connect,
    // and not retried (the credentials stay wrong).
    let e = expect_err(
        bounded("https 407", client.fetch(secure.url("/id/1"))).await,
        "the proxy refuses the tunnel",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(
        e.to_string().contains("407 Proxy Authentication Required"),
        "{e}"
    );
    assert_eq!(e.attempts(), 1, "{e}");
    assert!(
        !e.to_string().contains("wrong-secret") && !format!("{e:?}").contains("wrong-secret"),
        "the password never shows: {e}"
    );
    assert_eq!(secure.total_hits(), 0);

    // http: the proxy's 407 is the response.
    let resp = bounded("http 407", client.fetch(plain.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 407);
    assert_eq!(plain.total_hits(), 0);

    // Without credentials at all: the same.
    let anonymous = trusting(&pki)
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("https no auth", anonymous.fetch(secure.url("/id/3"))).await,
        "no credentials",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    let hits = proxy.hits();
    assert!(hits.iter().all(|h| h.refused_with == 407), "{hits:?}");
    assert_eq!(hits.last().unwrap().auth, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_list_bypasses_the_proxy() {
    let (pki, secure, plain) = secure_and_plain().await;
    let proxy = ProxyServer::start().await;
    let client = trusting(&pki)
        .resolve("api.example.test", plain.addr())
        .proxy(Proxy::all(proxy.url()).no_proxy("127.0.0.1,.example.test"))
        .build()
        .unwrap();

    let resp = bounded("bypass ip", client.fetch(plain.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "1");
    let resp = bounded("bypass https ip", client.fetch(secure.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "2");
    let resp = bounded(
        "bypass suffix",
        client.fetch("http://api.example.test/id/3"),
    )
    .await
    .unwrap();
    assert_eq!(resp.text().unwrap(), "3");
    assert_eq!(proxy.accepted(), 0, "{:?}", proxy.hits());

    // A host not on the list still goes through the proxy.
    let resp = bounded(
        "not listed",
        client.fetch(secure.url_with_host("localhost", "/id/4").as_str()),
    )
    .await
    .unwrap();
    assert_eq!(resp.text().unwrap(), "4");
    assert_eq!(proxy.connects(), [format!("localhost:{}", secure.port())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_https_proxies_are_chosen_by_scheme() {
    let (pki, secure, plain) = secure_and_plain().await;
    let for_http = ProxyServer::start().await;
    let for_https = ProxyServer::start().await;

    // Only an http proxy: https goes direct.
    let client = trusting(&pki)
        .proxy(Proxy::http(for_http.url()))
        .build()
        .unwrap();
    fetch_in_turn(
        &client,
        "http only",
        [plain.url("/id/1"), secure.url("/id/2")],
    )
    .await;
    assert_eq!(for_http.forwards().len(), 1);
    assert!(for_http.connects().is_empty(), "https went direct");

    // Only an https proxy: http goes direct.
    let client = trusting(&pki)
        .proxy(Proxy::https(for_https.url()))
        .build()
        .unwrap();
    fetch_in_turn(
        &client,
        "https only",
        [plain.url("/id/3"), secure.url("/id/4")],
    )
    .await;
    assert_eq!(for_https.connects().len(), 1);
    assert!(for_https.forwards().is_empty(), "http went direct");

    // Both, from two calls.
    let before = (for_http.hits().len(), for_https.hits().len());
    let client = trusting(&pki)
        .proxy(Proxy::http(for_http.url()))
        .proxy(Proxy::https(for_https.url()))
        .build()
        .unwrap();
    fetch_in_turn(&client, "both", [plain.url("/id/5"), secure.url("/id/6")]).await;
    assert_eq!(for_http.hits().len(), before.0 + 1);
    assert_eq!(for_https.hits().len(), before.1 + 1);
    assert_eq!(secure.total_hits() + plain.total_hits(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_no_proxy_goes_direct() {
    let server = TestServer::start().await;
    let client = builder().no_proxy().build().unwrap();
    let resp = bounded("no proxy", client.fetch(server.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_proxy_is_a_connect_error() {
    let server = TestServer::start().await;
    let port = closed_port();
    let client = builder()
        .proxy(Proxy::all(format!("http://user:hunter2@127.0.0.1:{port}")))
        .build()
        .unwrap();

    for url in [server.url("/id/1"), "https://127.0.0.1:9/".to_string()] {
        let e = expect_err(
            bounded("proxy down", client.fetch(url.as_str())).await,
            "nothing listens at the proxy",
        );
        assert_eq!(e.kind(), ErrorKind::Connect, "{url}: {e}");
        assert!(
            e.to_string()
                .contains(&format!("could not connect to the proxy 127.0.0.1:{port}")),
            "the error names the proxy: {e}"
        );
        assert!(
            !e.to_string().contains("hunter2") && !format!("{e:?}").contains("hunter2"),
            "the password never shows: {e}"
        );
    }
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_the_proxy_forbids_is_not_tried_again() {
    let proxy = ProxyServer::start().await;
    let client = builder()
        .retry(quick(3))
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("403", client.fetch("https://forbidden.example.test/a")).await,
        "the proxy forbids the site",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.attempts(), 1, "a 403 is not retried: {e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "the proxy {} refused the tunnel to forbidden.example.test:443: 403 Forbidden",
            proxy.addr()
        )),
        "{text}"
    );
    assert_eq!(proxy.connects().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_the_proxy_cannot_open_is_tried_again() {
    // The test proxy answers 502 for anything it cannot reach: the target
    // may come back, so the attempt is retried like a failed connect.
    let proxy = ProxyServer::start().await;
    let client = builder()
        .retry(quick(2))
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("502", client.fetch("https://down.example.test:8443/")).await,
        "the proxy cannot reach the site",
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.attempts(), 3, "{e}");
    assert!(
        e.to_string().contains(&format!(
            "the proxy {} refused the tunnel to down.example.test:8443: 502 Bad Gateway",
            proxy.addr()
        )),
        "{e}"
    );
    assert_eq!(proxy.connects(), ["down.example.test:8443"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_never_answers_connect_times_out_as_a_connect() {
    // Accepts the connection, reads the CONNECT, and says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let client = builder()
        .connect_timeout(Duration::from_millis(300))
        .proxy(Proxy::all(format!("http://{addr}")))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = expect_err(
        bounded("silent proxy", client.fetch("https://127.0.0.1:9/")).await,
        "the proxy never answers",
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the connect timeout, not the 10 s attempt timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.is_timeout(), "{e}");
    assert!(
        e.to_string().contains(&format!(
            "the proxy {addr} broke off the tunnel to 127.0.0.1:9"
        )),
        "{e}"
    );
    silent.abort();
}

#[test]
fn bad_proxy_urls_are_config_errors() {
    for bad in ["not a url", "ftp://127.0.0.1:1", "http://"] {
        let e = expect_err(BatchClient::builder().proxy(Proxy::all(bad)).build(), bad);
        assert_eq!(e.kind(), ErrorKind::Config, "{bad}: {e}");
    }
}
