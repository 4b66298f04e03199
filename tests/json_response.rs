//! The `json` feature, response side: `Response::json::<T>()` reads the
//! body as JSON; an invalid or mismatched body is an error of kind
//! `Decode` that names the URL.
#![cfg(feature = "json")]
mod support;

use std::time::Duration;

use batch_fetch::{BatchClient, ErrorKind, Request, RetryPolicy};
use serde::{Deserialize, Serialize};
use support::fn_server::{reply, with_header};
use support::{FnServer, bounded, expect_err};

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

/// Answers with the request body as `application/json`, or fixed bodies
/// for `/invalid`, `/wrong-shape` and `/not-utf8`.
async fn json_echo() -> FnServer {
    FnServer::start(|seen| async move {
        let body = match seen.uri.path() {
            "/invalid" => bytes::Bytes::from_static(b"{\"id\": 1, \"name\": "),
            "/wrong-shape" => bytes::Bytes::from_static(b"[1, 2, 3]"),
            "/not-utf8" => bytes::Bytes::from_static(b"\"\xff\xfe\""),
            _ => seen.body.clone(),
        };
        with_header(reply(200, body), "content-type", "application/json")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_round_trip_through_response_json() {
    let server = json_echo().await;
    let sent = item(42);

    let resp = bounded(
        "round trip",
        client().fetch(Request::put(server.url("/items/42")).json(&sent)),
    )
    .await
    .unwrap();

    let back: Item = resp.json().expect("valid JSON of an Item");
    assert_eq!(back, sent);
    let value: serde_json::Value = resp.json().expect("any JSON value");
    assert_eq!(value["id"], 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_or_mismatched_json_is_a_decode_error() {
    let server = json_echo().await;
    let client = client();
    for path in ["/invalid", "/wrong-shape", "/not-utf8"] {
        let resp = bounded("bad json", client.fetch(server.url(path)))
            .await
            .unwrap();
        let e = expect_err(resp.json::<Item>(), path);
        assert_eq!(e.kind(), ErrorKind::Decode, "{path}: {e}");
        assert_eq!(
            e.url().map(|u| u.to_string()),
            Some(server.url(path)),
            "{path}: the error names the URL"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_json_responses_keeps_input_order() {
    let server = json_echo().await;
    let client = BatchClient::builder()
        .concurrency(8)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let items: Vec<Item> = (0..50).map(item).collect();
    let reqs: Vec<Request> = items
        .iter()
        .map(|it| Request::post(server.url(&format!("/items/{}", it.id))).json(it))
        .collect();

    let resps = bounded("json batch", client.fetch_all(reqs)).await.unwrap();

    let back: Vec<Item> = resps.iter().map(|r| r.json().unwrap()).collect();
    assert_eq!(back, items);
}
