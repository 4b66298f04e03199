//! Redirects are followed: 301/302/303/307/308 with a `Location`
//! (relative ones resolved), with the method and body rules of each code,
//! and `Response::url()` is the final URL. `redirect_limit(0)` returns the
//! 3xx itself.

use crate::support::clients::{client, defaults};
use crate::support::fn_server::{echo, redirect, reply};
use crate::support::{Echo, FnServer, TestServer, bounded};
use batch_fetch::{Request, RetryPolicy};
use http::Method;

/// `/code/{c}` redirects with status `c` to `/final`; `/final` and
/// `/echo` echo the request; `/dir/start` → `next` (relative) →
/// `../up?x=1` → `/final`.
async fn redirector() -> FnServer {
    FnServer::start(|seen| async move {
        let path = seen.uri.path().to_string();
        match path.as_str() {
            "/final" | "/echo" => echo(&seen),
            "/dir/start" => redirect(302, "next"),
            "/dir/next" => redirect(301, "../up?x=1"),
            "/up" => redirect(307, "/final?from=up"),
            p if p.starts_with("/code/") => {
                let code: u16 = p["/code/".len()..].parse().unwrap();
                redirect(code, "/final")
            }
            _ => reply(404, "no such route"),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_redirect_status_is_followed_for_get() {
    let server = redirector().await;
    let client = client();
    for code in [301u16, 302, 303, 307, 308] {
        let resp = bounded(
            "redirect",
            client.fetch(server.url(&format!("/code/{code}"))),
        )
        .await
        .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(resp.status(), 200, "{code}");
        assert_eq!(
            resp.url().to_string(),
            server.url("/final"),
            "{code}: url() is the final URL"
        );
        let echo = Echo::parse(&resp.text().unwrap());
        assert_eq!(echo.method, "GET", "{code}");
        assert_eq!(echo.uri, "/final", "{code}");
    }
    let paths: Vec<String> = server.log().iter().map(|s| s.path()).collect();
    assert_eq!(paths.len(), 10, "one request per hop: {paths:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_locations_are_resolved_against_the_current_url() {
    let server = redirector().await;
    let resp = bounded("relative", client().fetch(server.url("/dir/start")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().to_string(), server.url("/final?from=up"));
    let paths: Vec<String> = server.log().iter().map(|s| s.path()).collect();
    assert_eq!(
        paths,
        ["/dir/start", "/dir/next", "/up?x=1", "/final?from=up"],
        "`next` resolves against /dir/, `../up?x=1` against /dir/next"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_another_server_is_followed() {
    let target = TestServer::builder().ip([127, 0, 0, 2]).start().await;
    let from = FnServer::redirecting(302, target.url("/id/77")).await;

    let resp = bounded("cross-server", client().fetch(from.url("/go")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "77");
    assert_eq!(resp.url().to_string(), target.url("/id/77"));
    assert_eq!(target.hits("/id/77"), 1);
}

fn post(url: String) -> Request {
    Request::post(url)
        .header("content-type", "text/plain")
        .header("x-keep", "kept")
        .body("the payload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn see_other_turns_post_into_a_bodiless_get() {
    let server = redirector().await;
    let resp = bounded("303", client().fetch(post(server.url("/code/303"))))
        .await
        .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.method, "GET");
    assert_eq!(echo.body, "", "303 drops the body");
    assert_eq!(echo.header("content-type"), None);
    assert!(
        echo.header("content-length").is_none_or(|v| v == "0"),
        "no body length: {:?}",
        echo.header("content-length")
    );
    assert_eq!(echo.header("x-keep"), Some("kept"), "other headers stay");
    let first = &server.log()[0];
    assert_eq!(first.method, Method::POST);
    assert_eq!(&first.body[..], b"the payload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn see_other_keeps_head_a_head() {
    let server = redirector().await;
    let resp = bounded(
        "303 head",
        client().fetch(Request::head(server.url("/code/303"))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let methods: Vec<Method> = server.log().iter().map(|s| s.method.clone()).collect();
    assert_eq!(methods, [Method::HEAD, Method::HEAD]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_and_found_turn_post_into_get() {
    let server = redirector().await;
    for code in [301u16, 302] {
        let resp = bounded(
            "301/302 post",
            client().fetch(post(server.url(&format!("/code/{code}")))),
        )
        .await
        .unwrap();
        let echo = Echo::parse(&resp.text().unwrap());
        assert_eq!(echo.method, "GET", "{code}");
        assert_eq!(echo.body, "", "{code}: body dropped");
        assert_eq!(echo.header("content-type"), None, "{code}");
        assert!(
            echo.header("content-length").is_none_or(|v| v == "0"),
            "{code}: {:?}",
            echo.header("content-length")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_and_permanent_redirects_keep_method_and_body() {
    let server = redirector().await;
    for code in [307u16, 308] {
        let resp = bounded(
            "307/308 post",
            client().fetch(post(server.url(&format!("/code/{code}")))),
        )
        .await
        .unwrap();
        let echo = Echo::parse(&resp.text().unwrap());
        assert_eq!(echo.method, "POST", "{code}");
        assert_eq!(echo.body, "the payload", "{code}");
        assert_eq!(echo.header("content-type"), Some("text/plain"), "{code}");
        assert_eq!(echo.uri, "/final", "{code}");
    }
    // PUT keeps its method and body too.
    let put = Request::put(server.url("/code/308")).body("put body");
    let resp = bounded("308 put", client().fetch(put)).await.unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(
        (echo.method.as_str(), echo.body.as_str()),
        ("PUT", "put body")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_limit_zero_returns_the_redirect_itself() {
    let server = redirector().await;
    let client = defaults()
        .redirect_limit(0)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    for code in [301u16, 302, 303, 307, 308] {
        let resp = bounded(
            "no follow",
            client.fetch(server.url(&format!("/code/{code}"))),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), code);
        assert_eq!(resp.headers()["location"], "/final");
        assert_eq!(resp.url().to_string(), server.url(&format!("/code/{code}")));
    }
    assert!(server.seen_path("/final").is_empty(), "nothing followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_without_location_is_returned_as_is() {
    let server = FnServer::start(|_| async { reply(302, "no location") }).await;
    let resp = bounded("no location", client().fetch(server.url("/x")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.text().unwrap(), "no location");
    assert_eq!(server.total(), 1);
}
