//! The internal service the `internal_service` example calls: a small
//! inventory API behind a bearer token.
//!
//! - `GET /v1/items`: every item, as a JSON array;
//! - `PUT /v1/items/{id}`: replaces an item (`200`, the item; `404` if
//!   there is none);
//! - `POST /v1/items`: adds one (`201`, the item with its new id).
//!
//! `401` without the token, `415` for a body that is not JSON, `400` for
//! JSON that is not an item. The first `PUT` to one chosen item is answered
//! `503` (a replica restarting), once. Each request takes a few
//! milliseconds, and the API keeps the most it had in flight at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde::{Deserialize, Serialize};

/// The largest request body the API reads.
const MAX_BODY: usize = 64 * 1024;
/// What each request takes.
const WORK: Duration = Duration::from_millis(15);

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Item {
    #[serde(default)]
    id: u32,
    sku: String,
    name: String,
    quantity: u32,
}

/// The API's state, shared by every connection.
pub struct InventoryApi {
    token: String,
    items: Mutex<BTreeMap<u32, Item>>,
    /// The item whose first `PUT` is answered `503`, and whether it was.
    flaky_item: u32,
    failed_once: AtomicBool,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// Requests answered, by the client that sent them.
    by_client: Mutex<BTreeMap<String, usize>>,
}

impl InventoryApi {
    /// An API that accepts `token`, holding a few items, one of them
    /// (`flaky_item`) answering its first `PUT` with `503`.
    pub fn new(token: &str, flaky_item: u32) -> Arc<InventoryApi> {
        let stock = [
            ("KB-101", "keyboard", 4),
            ("MS-202", "mouse", 25),
            ("MN-303", "monitor", 2),
            ("DK-404", "docking station", 0),
            ("HS-505", "headset", 12),
        ];
        let items = stock
            .iter()
            .zip(1..)
            .map(|(&(sku, name, quantity), id)| {
                let item = Item {
                    id,
                    sku: sku.into(),
                    name: name.into(),
                    quantity,
                };
                (id, item)
            })
            .collect();
        Arc::new(InventoryApi {
            token: format!("Bearer {token}"),
            items: Mutex::new(items),
            flaky_item,
            failed_once: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            by_client: Mutex::new(BTreeMap::new()),
        })
    }

    /// The most requests it had in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Requests answered, by the client certificate's common name.
    pub fn requests_by_client(&self) -> BTreeMap<String, usize> {
        lock(&self.by_client).clone()
    }

    /// Answers `req`, sent by `client` (its certificate's common name).
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        client: Arc<str>,
    ) -> Response<Full<Bytes>> {
        let _counted = InFlight::enter(&self);
        *lock(&self.by_client).entry(client.to_string()).or_default() += 1;
        tokio::time::sleep(WORK).await;
        self.answer(req).await
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let authorized = req
            .headers()
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == self.token.as_bytes());
        if !authorized {
            return error(StatusCode::UNAUTHORIZED, "a bearer token is required");
        }
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let id = path.strip_prefix("/v1/items/").map(|id| id.parse::<u32>());
        match (method, path.as_str(), id) {
            (Method::GET, "/v1/items", _) => {
                let items: Vec<Item> = lock(&self.items).values().cloned().collect();
                json(StatusCode::OK, &items)
            }
            (Method::POST, "/v1/items", _) => match body::<Item>(req).await {
                Err(res) => res,
                Ok(mut item) => {
                    let mut items = lock(&self.items);
                    item.id = items.keys().last().map_or(1, |last| last + 1);
                    items.insert(item.id, item.clone());
                    json(StatusCode::CREATED, &item)
                }
            },
            (Method::PUT, _, Some(Ok(id))) => {
                if id == self.flaky_item && !self.failed_once.swap(true, Ordering::SeqCst) {
                    return error(StatusCode::SERVICE_UNAVAILABLE, "restarting, try again");
                }
                match body::<Item>(req).await {
                    Err(res) => res,
                    Ok(mut item) => {
                        item.id = id;
                        match lock(&self.items).get_mut(&id) {
                            Some(stored) => {
                                *stored = item.clone();
                                json(StatusCode::OK, &item)
                            }
                            None => error(StatusCode::NOT_FOUND, "no such item"),
                        }
                    }
                }
            }
            _ => error(StatusCode::NOT_FOUND, "no such route"),
        }
    }
}

/// A request counted in flight until dropped (a request whose connection
/// closes is dropped mid-way).
struct InFlight<'a>(&'a InventoryApi);

impl<'a> InFlight<'a> {
    fn enter(api: &'a InventoryApi) -> InFlight<'a> {
        let now = api.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        api.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(api)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The request's JSON body, or the answer that refuses it.
async fn body<T: for<'de> Deserialize<'de>>(
    req: Request<Incoming>,
) -> Result<T, Response<Full<Bytes>>> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return Err(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "JSON expected"));
    }
    let Ok(bytes) = Limited::new(req.into_body(), MAX_BODY).collect().await else {
        return Err(error(StatusCode::BAD_REQUEST, "unreadable body"));
    };
    serde_json::from_slice(&bytes.to_bytes())
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("not an item: {e}")))
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": message }))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
