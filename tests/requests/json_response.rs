//! The `json` feature, response side: `Response::json::<T>()` reads the
//! body as JSON; an invalid or mismatched body is an error of kind
//! `Decode` that names the URL.
#![cfg(feature = "json")]

use crate::support::clients::{client, defaults};
use crate::support::json::{Item, item, item_requests, json_echo};
use crate::support::{bounded, expect_err};
use batch_fetch::{ErrorKind, Request, RetryPolicy};
use http::Method;

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
    let client = defaults()
        .concurrency(8)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let (items, reqs) = item_requests(&server, Method::POST, 50);

    let resps = bounded("json batch", client.fetch_all(reqs)).await.unwrap();

    let back: Vec<Item> = resps.iter().map(|r| r.json().unwrap()).collect();
    assert_eq!(back, items);
}
