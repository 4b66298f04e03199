//! What the `json` feature's tests send and receive.
use serde::{Deserialize, Serialize};

use super::FnServer;
use super::fn_server::{reply, with_header};

/// A JSON object with a string that needs escaping, non-ASCII text, an
/// array and an optional number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: u32,
    pub name: String,
    pub tags: Vec<String>,
    pub price: Option<f64>,
}

/// Item number `id` (with a price when `id` is even).
pub fn item(id: u32) -> Item {
    Item {
        id,
        name: format!("item \"{id}\" — ünïcode"),
        tags: vec!["a".into(), format!("t{id}")],
        price: id.is_multiple_of(2).then_some(f64::from(id) * 1.5),
    }
}

/// Answers with the request body as `application/json`, or fixed bodies
/// for `/invalid`, `/wrong-shape` and `/not-utf8`.
pub async fn json_echo() -> FnServer {
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

/// Items `0..n`, and for each a `method` request for `/items/{id}` on
/// `server` with the item as its JSON body.
#[cfg(feature = "json")]
pub fn item_requests(
    server: &FnServer,
    method: http::Method,
    n: u32,
) -> (Vec<Item>, Vec<batch_fetch::Request>) {
    let items: Vec<Item> = (0..n).map(item).collect();
    let reqs = items
        .iter()
        .map(|it| {
            let url = server.url(&format!("/items/{}", it.id));
            batch_fetch::Request::new(method.clone(), url).json(it)
        })
        .collect();
    (items, reqs)
}
