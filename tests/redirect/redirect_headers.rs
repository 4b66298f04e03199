//! Credentials do not follow a redirect to another origin:
//! `Authorization`, `Cookie` and `Proxy-Authorization` are dropped when the
//! target's scheme, host or port differs from the input's, and kept on
//! same-origin hops.

use crate::support::clients::client;
use crate::support::fn_server::{echo, redirect};
use crate::support::{Echo, FnServer, TestServer, bounded};
use batch_fetch::Request;

const SECRET_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

fn with_credentials(url: String) -> Request {
    Request::get(url)
        .header("authorization", "Bearer top-secret")
        .header("cookie", "session=abc")
        .header("proxy-authorization", "Basic cHJveHk6cHc=")
        .header("x-trace", "t-1")
}

/// `/go` redirects to `location`; `/echo` echoes.
async fn redirecting_to(location: String) -> FnServer {
    FnServer::start(move |seen| {
        let location = location.clone();
        async move {
            if seen.uri.path() == "/echo" {
                echo(&seen)
            } else {
                redirect(302, &location)
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_dropped_for_another_host() {
    // 127.0.0.1 and 127.0.0.2 are two origins.
    let target = TestServer::builder().ip([127, 0, 0, 2]).start().await;
    let from = redirecting_to(target.url("/echo")).await;

    let resp = bounded(
        "cross-origin",
        client().fetch(with_credentials(from.url("/go"))),
    )
    .await
    .unwrap();

    assert_eq!(resp.url().to_string(), target.url("/echo"));
    let echo = Echo::parse(&resp.text().unwrap());
    for name in SECRET_HEADERS {
        assert_eq!(
            echo.header(name),
            None,
            "{name} must not reach another origin"
        );
    }
    assert_eq!(
        echo.header("x-trace"),
        Some("t-1"),
        "other headers are kept"
    );
    // The first hop did get them.
    let first = &from.log()[0];
    for name in SECRET_HEADERS {
        assert!(
            first.headers.contains_key(name),
            "{name} sent to the input's origin"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_dropped_for_another_port() {
    let target = TestServer::start().await; // 127.0.0.1, another port
    let from = redirecting_to(target.url("/echo")).await;
    assert_ne!(from.port(), target.port());

    let resp = bounded(
        "other port",
        client().fetch(with_credentials(from.url("/go"))),
    )
    .await
    .unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    for name in SECRET_HEADERS {
        assert_eq!(
            echo.header(name),
            None,
            "{name}: another port is another origin"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_kept_on_same_origin_hops() {
    let from = redirecting_to("/echo".to_string()).await;

    let resp = bounded(
        "same origin",
        client().fetch(with_credentials(from.url("/go"))),
    )
    .await
    .unwrap();

    assert_eq!(resp.url().to_string(), from.url("/echo"));
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.header("authorization"), Some("Bearer top-secret"));
    assert_eq!(echo.header("cookie"), Some("session=abc"));
    assert_eq!(
        echo.header("proxy-authorization"),
        Some("Basic cHJveHk6cHc=")
    );
    assert_eq!(echo.header("x-trace"), Some("t-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_location_to_the_same_origin_keeps_credentials() {
    let from = FnServer::start(|seen| async move {
        if seen.uri.path() == "/echo" {
            echo(&seen)
        } else {
            // An absolute URL naming this very origin.
            let host = seen.header("host").unwrap();
            redirect(301, &format!("http://{host}/echo"))
        }
    })
    .await;

    let resp = bounded(
        "same origin, absolute",
        client().fetch(with_credentials(from.url("/go"))),
    )
    .await
    .unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.header("authorization"), Some("Bearer top-secret"));
    assert_eq!(echo.header("cookie"), Some("session=abc"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_http_request_inputs_are_dropped_too() {
    let target = TestServer::builder().ip([127, 0, 0, 2]).start().await;
    let from = redirecting_to(target.url("/echo")).await;
    let req = http::Request::get(from.url("/go"))
        .header("authorization", "Basic dXNlcjpwdw==")
        .header("cookie", "a=b")
        .body(())
        .unwrap();

    let resp = bounded("http::Request", client().fetch(req)).await.unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.header("authorization"), None);
    assert_eq!(echo.header("cookie"), None);
}
