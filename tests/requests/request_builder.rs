//! `batch_fetch::Request`: method constructors, headers, bodies, auth
//! helpers and query pairs reach the server as built; an invalid header is
//! that input's `InvalidRequest` at fetch time, never a panic. Bodies sent
//! through `http::Request<B>` arrive too.

use crate::support::clients::{client, defaults};
use crate::support::fn_server::reply;
use crate::support::{Echo, FnServer, TestServer, bounded, expect_err};
use batch_fetch::{BatchClient, ErrorKind, Request};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

async fn echo_of(client: &BatchClient, req: Request) -> Echo {
    let resp = bounded("echo", client.fetch(req)).await.unwrap();
    assert_eq!(resp.status(), 200);
    Echo::parse(&resp.text().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_constructor_sends_its_method() {
    let server = TestServer::start().await;
    let client = client();
    let url = server.url("/echo");
    let cases = [
        (Request::get(url.as_str()), "GET"),
        (Request::post(url.as_str()), "POST"),
        (Request::put(url.as_str()), "PUT"),
        (Request::delete(url.as_str()), "DELETE"),
        (Request::new(Method::PATCH, url.as_str()), "PATCH"),
        (Request::new(Method::OPTIONS, url.as_str()), "OPTIONS"),
    ];
    for (req, method) in cases {
        let echo = echo_of(&client, req).await;
        assert_eq!(echo.method, method);
    }
    // HEAD: the server sees HEAD, and the response has no body.
    let resp = bounded("head", client.fetch(Request::head(url.as_str())))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.body().is_empty());
    assert_eq!(server.log().last().unwrap().method, Method::HEAD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_bodies_auth_and_query_arrive_as_built() {
    let server = TestServer::start().await;
    let client = client();
    let mut extra = HeaderMap::new();
    extra.insert("x-from-map", HeaderValue::from_static("map"));
    extra.append("x-multi", HeaderValue::from_static("m1"));
    extra.append("x-multi", HeaderValue::from_static("m2"));

    let req = Request::put(server.url("/echo?keep=1"))
        .header("x-one", "1")
        .header("x-twice", "t1")
        .header("x-twice", "t2")
        .headers(extra)
        .header("content-type", "text/plain; charset=utf-8")
        .query(&[("q", "a b&c=d"), ("emoji", "é")])
        .query(&[("n", "2")])
        .body("the body");
    let echo = echo_of(&client, req).await;

    assert_eq!(echo.method, "PUT");
    assert_eq!(echo.uri, "/echo?keep=1&q=a+b%26c%3Dd&emoji=%C3%A9&n=2");
    assert_eq!(echo.header("x-one"), Some("1"));
    assert_eq!(echo.header("x-from-map"), Some("map"));
    assert_eq!(echo.header_all("x-multi"), ["m1", "m2"]);
    assert_eq!(echo.header_all("x-twice"), ["t1", "t2"], "header() appends");
    assert_eq!(
        echo.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(echo.header("content-length"), Some("8"));
    assert_eq!(echo.body, "the body");

    let echo = echo_of(
        &client,
        Request::get(server.url("/echo")).bearer_auth("tok-123"),
    )
    .await;
    assert_eq!(echo.header("authorization"), Some("Bearer tok-123"));

    let echo = echo_of(
        &client,
        Request::get(server.url("/echo")).basic_auth("user", Some("pass")),
    )
    .await;
    assert_eq!(echo.header("authorization"), Some("Basic dXNlcjpwYXNz"));

    let echo = echo_of(
        &client,
        Request::get(server.url("/echo")).basic_auth("user", None::<&str>),
    )
    .await;
    assert_eq!(
        echo.header("authorization"),
        Some("Basic dXNlcjo="),
        "user:"
    );

    // Query pairs go before a fragment, which is never sent.
    let echo = echo_of(
        &client,
        Request::get(server.url("/echo#frag")).query(&[("k", "v")]),
    )
    .await;
    assert_eq!(echo.uri, "/echo?k=v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_header_is_that_input_s_error_not_a_panic() {
    let server = TestServer::start().await;
    let client = client();
    let reqs = vec![
        Request::get(server.url("/id/0")),
        Request::get(server.url("/id/1")).header("bad header name", "x"),
        Request::get(server.url("/id/2")).header("x-bad-value", "line\nbreak"),
        Request::post(server.url("/id/3")).header("x-ok", "fine"),
        Request::get(server.url("/id/4")).bearer_auth("bad\r\ntoken"),
        Request::get("not a url"),
        Request::get(server.url("/id/6")),
    ];

    let results = bounded("invalid headers", client.fetch_all_settled(reqs)).await;

    assert_eq!(results.len(), 7);
    for (i, r) in results.iter().enumerate() {
        match i {
            0 | 3 | 6 => assert_eq!(r.as_ref().unwrap().text().unwrap(), i.to_string()),
            _ => {
                let e = r
                    .as_ref()
                    .err()
                    .unwrap_or_else(|| panic!("input {i} must fail"));
                assert_eq!(e.kind(), ErrorKind::InvalidRequest, "input {i}: {e}");
                assert_eq!(e.index(), Some(i));
                assert_eq!(e.attempts(), 0, "never sent");
            }
        }
    }
    assert_eq!(server.total_hits(), 3, "only the valid inputs were sent");

    // fetch() alike, and fetch_all() fails at it.
    let e = expect_err(
        bounded(
            "fetch invalid",
            client.fetch(Request::get(server.url("/id/9")).header("a b", "c")),
        )
        .await,
        "invalid header name",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert_eq!(e.index(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_through_http_requests_and_request_builder_arrive_intact() {
    // The server records the exact bytes it received.
    let server =
        FnServer::start(|seen| async move { reply(200, seen.body.len().to_string()) }).await;
    let client = client();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();

    let posts = vec![
        http::Request::post(server.url("/bytes"))
            .body(Bytes::from(big.clone()))
            .unwrap(),
        http::Request::put(server.url("/vec"))
            .body(Bytes::from(b"vec body".to_vec()))
            .unwrap(),
    ];
    let resps = bounded("http::Request bodies", client.fetch_all(posts))
        .await
        .unwrap();
    assert_eq!(resps[0].text().unwrap(), "1000000");
    assert_eq!(resps[1].text().unwrap(), "8");

    let r = bounded(
        "String body",
        client.fetch(
            http::Request::post(server.url("/string"))
                .body(String::from("sträng"))
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.text().unwrap(), "7");
    let r = bounded(
        "&'static str body",
        client.fetch(
            http::Request::put(server.url("/static"))
                .body("static")
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.text().unwrap(), "6");
    let r = bounded(
        "Vec body",
        client.fetch(
            http::Request::post(server.url("/vec2"))
                .body(vec![1u8, 2, 3])
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.text().unwrap(), "3");

    let reqs = vec![
        Request::post(server.url("/b1")).body(big.clone()),
        Request::put(server.url("/b2")).body(Bytes::from_static(b"put")),
        Request::post(server.url("/b3")).body("str"),
        Request::post(server.url("/b4")).body(String::from("string")),
    ];
    let resps = bounded("Request bodies", client.fetch_all(reqs))
        .await
        .unwrap();
    let lens: Vec<String> = resps.iter().map(|r| r.text().unwrap()).collect();
    assert_eq!(lens, ["1000000", "3", "3", "6"]);

    let log = server.log();
    let b1 = log.iter().find(|s| s.uri.path() == "/b1").unwrap();
    assert_eq!(b1.method, Method::POST);
    assert!(
        b1.body[..] == big[..],
        "the 1 MB body arrived byte for byte"
    );
    let b2 = log.iter().find(|s| s.uri.path() == "/b2").unwrap();
    assert_eq!(b2.method, Method::PUT);
    assert_eq!(&b2.body[..], b"put");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_a_batch_keep_input_order() {
    let server = TestServer::start().await;
    let client = defaults().concurrency(10).build().unwrap();
    let reqs: Vec<Request> = (0..40)
        .map(|i| {
            Request::post(server.url("/echo"))
                .query(&[("i", i.to_string()), ("delay", ((40 - i) * 2).to_string())])
                .header("x-index", i.to_string())
                .body(format!("body {i}"))
        })
        .collect();

    let resps = bounded("Request batch", client.fetch_all(reqs))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        let echo = Echo::parse(&r.text().unwrap());
        assert_eq!(echo.header("x-index"), Some(i.to_string().as_str()));
        assert_eq!(echo.body, format!("body {i}"));
        assert!(
            echo.uri.starts_with(&format!("/echo?i={i}&")),
            "{}",
            echo.uri
        );
    }
}

/// `Accept: */*` goes with every request, as curl and reqwest send it,
/// unless the client's default headers or the request name another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_defaults_to_any_and_yields_to_the_callers() {
    let server = TestServer::start().await;
    let url = server.url("/echo");

    let echo = echo_of(&client(), Request::get(url.as_str())).await;
    assert_eq!(echo.header_all("accept"), ["*/*"]);

    let json = Request::get(url.as_str()).header("accept", "application/json");
    let echo = echo_of(&client(), json).await;
    assert_eq!(echo.header_all("accept"), ["application/json"]);

    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static("text/html"));
    let html = defaults().default_headers(headers).build().unwrap();
    let echo = echo_of(&html, Request::get(url.as_str())).await;
    assert_eq!(echo.header_all("accept"), ["text/html"]);
}

/// A zero timeout or an invalid retry policy on one input is that input's
/// `InvalidRequest`, naming the setting; the batch goes on, and nothing
/// of the bad input reaches the server. Valid overrides leave the request
/// as it was built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_override_is_that_input_s_error() {
    use std::time::Duration;

    use batch_fetch::RetryPolicy;

    let server = TestServer::start().await;
    let url = server.url("/echo");
    let backwards = RetryPolicy::default()
        .base_delay(Duration::from_secs(2))
        .max_delay(Duration::from_secs(1));
    let results = bounded(
        "overrides",
        client().fetch_all_settled([
            Request::get(format!("{url}?i=0")).timeout(Duration::ZERO),
            Request::get(format!("{url}?i=1")).retry(backwards),
            Request::get(format!("{url}?i=2"))
                .header("x-kept", "yes")
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::none()),
        ]),
    )
    .await;
    let zero = results[0].as_ref().unwrap_err();
    assert_eq!(zero.kind(), ErrorKind::InvalidRequest);
    assert!(zero.to_string().contains("timeout"), "{zero}");
    let policy = results[1].as_ref().unwrap_err();
    assert_eq!(policy.kind(), ErrorKind::InvalidRequest);
    assert!(policy.to_string().contains("max_delay"), "{policy}");
    let echo = Echo::parse(&results[2].as_ref().unwrap().text().unwrap());
    assert_eq!(echo.header("x-kept"), Some("yes"));
    assert_eq!(server.hits_prefix("/echo"), 1);
}
