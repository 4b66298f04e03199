//! The client through an `https://` proxy made of real servers: Debian's
//! nginx terminating TLS (its stream module) in front of Debian's
//! tinyproxy. https targets are tunnelled (TLS to the target inside TLS to
//! the proxy, HTTP/2 still agreed with the target), http targets forwarded
//! inside the TLS; the proxy's certificate is verified like any server's.
//! Without nginx, its stream module or tinyproxy the cases skip, saying so
//! on the terminal.

use std::time::Duration;

use batch_fetch::{BatchClientBuilder, ErrorKind, Proxy};

use crate::support::nginx::{Nginx, NginxSettings, Session};
use crate::support::tinyproxy::Tinyproxy;
use crate::support::{Echo, bounded, eventually, expect_err};
use crate::tinyproxy::{Targets, refused_by};

/// tinyproxy (requiring `credentials`, if given) behind nginx's TLS front.
fn start(test: &str, credentials: Option<(&str, &str)>) -> Option<(Tinyproxy, Nginx)> {
    let proxy = Tinyproxy::start(test, credentials)?;
    let settings = NginxSettings {
        tls_front: Some(proxy.addr),
        ..NginxSettings::default()
    };
    let front = Nginx::start(test, settings)?;
    Some((proxy, front))
}

/// [`Targets::retrying`], also trusting the front's CA, through
/// `proxy_url`.
fn through_front(targets: &Targets, front: &Nginx, proxy_url: String) -> BatchClientBuilder {
    targets
        .retrying()
        .add_root_certificate(front.certificate())
        .proxy(Proxy::all(proxy_url))
}

/// Once the client has let go of its connections: the front's sessions,
/// at least one for each request tinyproxy read (it serves one a
/// connection; a connect the pool raced against a connection freeing up
/// may end unused), each TLS 1.3 with `http/1.1` agreed by ALPN, ended
/// well.
async fn sessions_ended(front: &Nginx, proxy: &Tinyproxy) {
    let n = proxy.requests().len();
    let ended = eventually(Duration::from_secs(5), || front.sessions().len() >= n).await;
    let sessions = front.sessions();
    assert!(
        ended,
        "{} of {n} sessions ended: {sessions:?}",
        sessions.len()
    );
    let well = Session {
        tls: "TLSv1.3".to_owned(),
        alpn: "http/1.1".to_owned(),
        status: 200,
    };
    assert!(
        sessions.iter().all(|s| *s == well),
        "{sessions:?}\n{}",
        front.error_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_tunnel_through_tinyproxy_behind_tls() {
    let Some((proxy, front)) = start("TLS front + tinyproxy: tunnel", None) else {
        return;
    };
    let targets = Targets::start().await;
    let client = through_front(&targets, &front, front.tls_front_url())
        .build()
        .unwrap();

    targets.three_through_one_tunnel(&client, &proxy).await;
    drop(client);
    sessions_ended(&front, &proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_targets_are_forwarded_by_tinyproxy_behind_tls_with_credentials() {
    let Some((proxy, front)) = start("TLS front + tinyproxy: forward", Some(("user", "s3cret")))
    else {
        return;
    };
    let targets = Targets::start().await;
    let client = through_front(
        &targets,
        &front,
        front.tls_front_url_with_auth("user", "s3cret"),
    )
    .build()
    .unwrap();

    let resp = bounded("forwarded", client.fetch(targets.http.url("/echo")))
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", front.error_log(), proxy.log()));
    assert_eq!(resp.status(), 200);
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.uri, "/echo", "origin form to the target");
    assert!(
        echo.header("via").is_some_and(|v| v.contains("tinyproxy")),
        "{echo:?}"
    );
    assert_eq!(echo.header("proxy-authorization"), None, "{echo:?}");
    assert_eq!(proxy.forwards(), [targets.http.url("/echo")]);
    drop(client);
    sessions_ended(&front, &proxy).await;

    // Wrong credentials: the tunnel refused once and for all, the proxy
    // named as the client knows it.
    let wrong_url = front.tls_front_url_with_auth("user", "wrong-secret");
    let wrong = through_front(&targets, &front, wrong_url).build().unwrap();
    let e = expect_err(
        bounded("wrong credentials", wrong.fetch(targets.https.url("/id/1"))).await,
        "wrong credentials",
    );
    let name = format!("localhost:{}", front.tls_front.unwrap().port());
    refused_by(
        &e,
        &name,
        &["401 Unauthorized", "407 Proxy Authentication Required"],
        "wrong-secret",
    );
    assert_eq!(
        proxy.connects(),
        [targets.https.addr().to_string()],
        "asked once"
    );
    assert_eq!(targets.https.total_hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_through_tinyproxy_behind_tls_is_all_ok_in_order() {
    let Some((proxy, front)) = start("TLS front + tinyproxy: batch", None) else {
        return;
    };
    let targets = Targets::start().await;
    let client = through_front(&targets, &front, front.tls_front_url())
        .concurrency(10)
        .build()
        .unwrap();

    // Even inputs to the https target, odd ones to the http one.
    let urls: Vec<String> = (0..50)
        .map(|i| match i % 2 {
            0 => targets.https.url(&format!("/id/{i}")),
            _ => targets.http.url(&format!("/id/{i}")),
        })
        .collect();
    let batch = client.batch();
    let results = bounded("a batch", batch.fetch_all_settled(&urls)).await;

    assert_eq!(results.len(), urls.len());
    for (i, result) in results.iter().enumerate() {
        let resp = result
            .as_ref()
            .unwrap_or_else(|e| panic!("input {i}: {e:#}\n{}", proxy.log()));
        assert_eq!(resp.text().unwrap(), i.to_string(), "input {i}");
        // An https input has its tunnel. tinyproxy closes each connection
        // after one answer without saying so (`HTTP/1.1`, no `Connection:
        // close`): an http input may go out on a connection it is closing,
        // and is then sent again at once on a new one, as the same attempt.
        assert_eq!(resp.attempts(), 1, "input {i}");
    }
    let again = batch.progress().redispatches();
    eprintln!("sent again on a new connection: {again} of 25 http inputs");
    assert!(again <= 25, "at most once each http input: {again}");
    for i in 0..50 {
        let target = if i % 2 == 0 {
            &targets.https
        } else {
            &targets.http
        };
        assert_eq!(target.hits(&format!("/id/{i}")), 1, "input {i}");
    }
    // tinyproxy read each http input once: a lost one it never read.
    let (connects, forwards) = (proxy.connects(), proxy.forwards());
    assert_eq!(forwards.len(), 25, "each http input forwarded once");
    assert_eq!(
        connects,
        [targets.https.addr().to_string()],
        "one tunnel carries the 25 https inputs (HTTP/2)"
    );
    assert_eq!(targets.https.connections_used(), 1);
    drop((batch, client));
    sessions_ended(&front, &proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_tls_proxy_is_a_tls_error_naming_it() {
    let Some((proxy, front)) = start("TLS front + tinyproxy: untrusted", None) else {
        return;
    };
    let targets = Targets::start().await;
    // The targets' CA only: the front's certificate is refused.
    let client = targets
        .retrying()
        .proxy(Proxy::all(front.tls_front_url()))
        .build()
        .unwrap();
    let name = format!("proxy localhost:{}", front.tls_front.unwrap().port());

    for url in [targets.https.url("/id/1"), targets.http.url("/id/2")] {
        let e = expect_err(
            bounded("untrusted proxy", client.fetch(&url)).await,
            "the proxy's CA is not trusted",
        );
        let shown = format!("{e:#}");
        assert_eq!(e.kind(), ErrorKind::Tls, "{url}: {shown}");
        assert!(shown.contains(&name), "{url}: names the proxy: {shown}");
        assert_eq!(e.attempts(), 1, "{url}: {shown}");
    }
    assert_eq!(proxy.requests(), [], "nothing reached tinyproxy");
    assert_eq!(targets.https.total_hits() + targets.http.total_hits(), 0);
    // One handshake a request, each failed (nginx's 500).
    eventually(Duration::from_secs(5), || front.sessions().len() >= 2).await;
    let sessions = front.sessions();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions.iter().all(|s| s.status == 500), "{sessions:?}");
}
