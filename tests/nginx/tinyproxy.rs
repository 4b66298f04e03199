//! The client through a real forward proxy, Debian's tinyproxy, spoken to
//! in plain TCP (an `http://` proxy): `CONNECT` tunnels for https targets,
//! with HTTP/2 agreed with the target by ALPN inside; absolute-form
//! forwarding for http targets; Basic credentials right, wrong and
//! missing. Without tinyproxy the cases skip, saying so on the terminal
//! (see `support::tinyproxy`).
//!
//! tinyproxy serves one request a client connection and then closes it,
//! without saying so (no `Connection: close` on a forwarded response): a
//! pooled connection to it may be dead when the next request goes out on
//! it, which fails that attempt ("connection closed before message
//! completed"; tinyproxy never read the request). The clients here retry,
//! as the default policy does.

use std::time::Duration;

use batch_fetch::{BatchClient, BatchClientBuilder, Error, ErrorKind, Proxy};
use http::Version;

use crate::support::clients::{defaults, quick};
use crate::support::tinyproxy::Tinyproxy;
use crate::support::{Echo, TestPki, TestServer, bounded, expect_err};

/// The targets behind the proxy: one TLS (ALPN h2, http/1.1, its own CA),
/// one plain.
pub(crate) struct Targets {
    pub(crate) pki: TestPki,
    pub(crate) https: TestServer,
    pub(crate) http: TestServer,
}

impl Targets {
    pub(crate) async fn start() -> Targets {
        let pki = TestPki::generate();
        let https = TestServer::start_tls(pki.server_config()).await;
        let http = TestServer::start().await;
        Targets { pki, https, http }
    }

    /// A client that trusts the https target's CA and retries three times
    /// (quickly): a request lost on a connection tinyproxy closed goes
    /// again, and a refusal must still end after one attempt.
    pub(crate) fn retrying(&self) -> BatchClientBuilder {
        defaults()
            .retry(quick(3))
            .timeout(Duration::from_secs(10))
            .add_root_certificate(self.pki.certificate())
    }

    /// Fetches `/id/1..=3` from the https target with `client`, through
    /// `proxy`: all Ok in order, HTTP/2 agreed with the target by ALPN
    /// inside the tunnel, and one tunnel for the three (one `CONNECT`, one
    /// connection at the target).
    pub(crate) async fn three_through_one_tunnel(&self, client: &BatchClient, proxy: &Tinyproxy) {
        let results = bounded(
            "https through the proxy",
            client.fetch_all((1..=3).map(|i| self.https.url(&format!("/id/{i}")))),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", proxy.log()));
        let bodies: Vec<String> = results.iter().map(|r| r.text().unwrap()).collect();
        assert_eq!(bodies, ["1", "2", "3"]);
        assert_eq!(
            results[0].version(),
            Version::HTTP_2,
            "ALPN with the target, inside the tunnel"
        );
        assert_eq!(proxy.connects(), [self.https.addr().to_string()]);
        assert_eq!(self.https.connections_used(), 1);
    }
}

/// `e` is the proxy's refusal of the tunnel, named by its `host:port`,
/// with one of `statuses`, given after one attempt and without the
/// password.
#[track_caller]
pub(crate) fn refused_by(e: &Error, proxy: &str, statuses: &[&str], password: &str) {
    let shown = format!("{e:#}");
    assert_eq!(e.kind(), ErrorKind::Connect, "{shown}");
    assert!(
        shown.contains(&format!("proxy {proxy} refused the tunnel")),
        "the error names the proxy {proxy}: {shown}"
    );
    assert!(
        statuses.iter().any(|s| shown.contains(s)),
        "one of {statuses:?}: {shown}"
    );
    assert_eq!(e.attempts(), 1, "a refusal is final: {shown}");
    assert!(
        !shown.contains(password) && !format!("{e:?}").contains(password),
        "the password never shows: {shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tinyproxy_tunnels_https_and_forwards_http() {
    let Some(proxy) = Tinyproxy::start("tinyproxy: tunnel and forward", None) else {
        return;
    };
    let targets = Targets::start().await;
    let client = targets
        .retrying()
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();

    targets.three_through_one_tunnel(&client, &proxy).await;

    let paths: Vec<String> = (4..=6).map(|i| format!("/id/{i}")).collect();
    let results = bounded(
        "http through tinyproxy",
        client.fetch_all(paths.iter().map(|p| targets.http.url(p))),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", proxy.log()));
    let bodies: Vec<String> = results.iter().map(|r| r.text().unwrap()).collect();
    assert_eq!(bodies, ["4", "5", "6"]);
    let mut forwards = proxy.forwards();
    forwards.sort();
    let urls: Vec<String> = paths.iter().map(|p| targets.http.url(p)).collect();
    assert_eq!(forwards, urls, "each forwarded once, in absolute form");

    // What the target got from tinyproxy: origin form, its Via.
    let resp = bounded("echo", client.fetch(targets.http.url("/echo")))
        .await
        .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.uri, "/echo");
    assert!(
        echo.header("via").is_some_and(|v| v.contains("tinyproxy")),
        "{echo:?}"
    );
    assert_eq!(targets.http.total_hits(), 4);
    assert_eq!(targets.https.total_hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tinyproxy_credentials_right_wrong_and_missing() {
    let Some(proxy) = Tinyproxy::start("tinyproxy: credentials", Some(("user", "s3cret"))) else {
        return;
    };
    let name = proxy.addr.to_string();
    let targets = Targets::start().await;

    // Right: through both ways; the target never sees them.
    let client = targets
        .retrying()
        .proxy(Proxy::all(proxy.url_with_auth("user", "s3cret")))
        .build()
        .unwrap();
    let resp = bounded("https, right", client.fetch(targets.https.url("/id/1")))
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", proxy.log()));
    assert_eq!(resp.text().unwrap(), "1");
    let resp = bounded("http, right", client.fetch(targets.http.url("/echo")))
        .await
        .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.header("proxy-authorization"), None, "{echo:?}");

    // Wrong: the tunnel is refused once and for all. tinyproxy 1.11.1
    // (Debian 12) answers wrong credentials with 401 Unauthorized, missing
    // ones with 407; later versions answer 407 to both.
    let wrong = targets
        .retrying()
        .proxy(Proxy::all(proxy.url_with_auth("user", "wrong-secret")))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("https, wrong", wrong.fetch(targets.https.url("/id/2"))).await,
        "wrong credentials",
    );
    refused_by(
        &e,
        &name,
        &["401 Unauthorized", "407 Proxy Authentication Required"],
        "wrong-secret",
    );
    // http: tinyproxy's own answer is the response.
    let resp = bounded("http, wrong", wrong.fetch(targets.http.url("/id/3")))
        .await
        .unwrap();
    assert!(matches!(resp.status().as_u16(), 401 | 407), "{resp:?}");
    assert_eq!(resp.attempts(), 1);

    // Missing: 407 both ways.
    let anonymous = targets
        .retrying()
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let e = expect_err(
        bounded("https, none", anonymous.fetch(targets.https.url("/id/4"))).await,
        "no credentials",
    );
    refused_by(&e, &name, &["407 Proxy Authentication Required"], "s3cret");
    let resp = bounded("http, none", anonymous.fetch(targets.http.url("/id/5")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 407);

    // Each asked for once: a refusal is not retried.
    let (https, http) = (targets.https.addr().to_string(), &targets.http);
    let asked: Vec<(String, String)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.target))
        .collect();
    let expected = [
        ("CONNECT", https.clone()),
        ("GET", http.url("/echo")),
        ("CONNECT", https.clone()),
        ("GET", http.url("/id/3")),
        ("CONNECT", https),
        ("GET", http.url("/id/5")),
    ]
    .map(|(method, target)| (method.to_owned(), target));
    assert_eq!(asked, expected, "{}", proxy.log());
    assert_eq!(targets.https.total_hits(), 1, "only the right credentials");
    assert_eq!(targets.http.total_hits(), 1, "only the right credentials");
}
