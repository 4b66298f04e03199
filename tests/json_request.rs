//! The `json` feature, request side: `Request::json(&T)` sets the body and
//! `Content-Type: application/json` (unless one is set), and a batch of
//! JSON requests keeps input order.
#![cfg(feature = "json")]
mod support;

use std::time::Duration;

use batch_fetch::{BatchClient, Request, RetryPolicy};
use serde::{Deserialize, Serialize};
use support::fn_server::{reply, with_header};
use support::{Echo, FnServer, TestServer, bounded};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    id: u32,
    name: String,
    tags: Vec<String>,
    price: Option<f64>,
}

fn item(id: u32) -> Item {
    Item {
        id,
        name: format!("item \"{id}\" — ünïcode"),
        tags: vec!["a".into(), format!("t{id}")],
        price: (id % 2 == 0).then_some(f64::from(id) * 1.5),
    }
}

fn client() -> BatchClient {
    BatchClient::builder()
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

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
    // Answers with the request body as application/json.
    let server = FnServer::start(|seen| async move {
        with_header(
            reply(200, seen.body.clone()),
            "content-type",
            "application/json",
        )
    })
    .await;
    let client = BatchClient::builder()
        .concurrency(8)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let items: Vec<Item> = (0..50).map(item).collect();
    let reqs: Vec<Request> = items
        .iter()
        .map(|it| Request::put(server.url(&format!("/items/{}", it.id))).json(it))
        .collect();

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
