//! The `json` feature, request side: `Request::json(&T)` sets the body and
//! `Content-Type: application/json` (unless one is set), and a batch of
//! JSON requests keeps input order.
#![cfg(feature = "json")]

use crate::support::clients::{client, defaults};
use crate::support::json::{Item, item, item_requests, json_echo};
use crate::support::{Echo, TestServer, bounded};
use batch_fetch::{Request, RetryPolicy};
use http::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_body_and_content_type_reach_the_server() {
    let server = TestServer::start().await;
    let sent = item(7);

    let resp = bounded(
        "json echo",
        client().fetch(Request::post(server.url("/echo")).json(&sent)),
    )
    .await
    .unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.method, "POST");
    assert_eq!(echo.header("content-type"), Some("application/json"));
    let got: Item = serde_json::from_str(&echo.body).expect("the body is JSON");
    assert_eq!(got, sent);
    assert_eq!(
        echo.header("content-length"),
        Some(
            serde_json::to_vec(&sent)
                .unwrap()
                .len()
                .to_string()
                .as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_content_type_is_kept() {
    let server = TestServer::start().await;
    let resp = bounded(
        "own content type",
        client().fetch(
            Request::post(server.url("/echo"))
                .header("content-type", "application/vnd.test+json")
                .json(&item(1)),
        ),
    )
    .await
    .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(
        echo.header_all("content-type"),
        ["application/vnd.test+json"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_json_requests_keeps_input_order() {
    let server = json_echo().await;
    let client = defaults()
        .concurrency(8)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let (items, reqs) = item_requests(&server, Method::PUT, 50);

    let resps = bounded("json batch", client.fetch_all(reqs)).await.unwrap();

    let back: Vec<Item> = resps
        .iter()
        .map(|r| serde_json::from_slice(r.body()).unwrap())
        .collect();
    assert_eq!(back, items);
    for seen in server.log() {
        assert_eq!(
            seen.header("content-type").as_deref(),
            Some("application/json")
        );
        let it: Item = serde_json::from_slice(&seen.body).unwrap();
        assert_eq!(seen.uri.path(), format!("/items/{}", it.id));
    }
}
