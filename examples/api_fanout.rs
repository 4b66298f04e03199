//! Fanning out over a JSON API: fetch the list of user ids, then every
//! user, spread over two replicas of the API, under a global and a
//! per-host concurrency limit, with retries, and with `404`s and other
//! failed statuses kept as errors in their places.
//!
//! ```text
//! cargo run --example api_fanout --features json
//! ```
//!
//! The API is an embedded server, started by the example on 127.0.0.1 and
//! 127.0.0.2 (two hosts, so the per-host limit shows); nothing leaves the
//! machine. Some users were deleted since the list was made (`404`), about
//! one in eight answers `503` once before it answers (so retries show), and
//! one is down for good. The program checks the outcome against what the
//! server was told to do and exits non-zero if it differs.

#[path = "support/loopback.rs"]
mod loopback;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use batch_fetch::{BatchClient, ErrorKind, RetryPolicy, StatusCode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde::Deserialize;

/// Most requests in flight at once, across both hosts.
const CONCURRENCY: usize = 24;
/// Most requests in flight at once to one host (scheme, host and port).
const PER_HOST: usize = 16;
const MAX_RETRIES: u32 = 3;

/// What `/users/{id}` answers, decoded with serde.
#[derive(Debug, Deserialize)]
struct User {
    id: u32,
    name: String,
    email: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = Api::start().await?;
    let [first, second] = &api.hosts;
    println!("api_fanout: {USERS} users from two hosts, {first} and {second}");
    println!("  limits: {CONCURRENCY} in flight, {PER_HOST} per host; up to {MAX_RETRIES} retries");

    let client = BatchClient::builder()
        .concurrency(CONCURRENCY)
        .per_host_concurrency(PER_HOST)
        .timeout(Duration::from_secs(5))
        // Retries `503` (and 429, 502, 504, timeouts, refused connections)
        // after a jittered backoff that holds no concurrency permit.
        .retry(
            RetryPolicy::default()
                .max_retries(MAX_RETRIES)
                .base_delay(Duration::from_millis(20)),
        )
        // A final 4xx or 5xx is an `Err` of kind `Status`, as aiohttp's
        // `raise_for_status=True`: no status check at every call site.
        .error_for_status(true)
        // The server is local: ignore any HTTP_PROXY of the environment.
        .no_proxy()
        .build()?;
    let started = Instant::now();

    // `fetch_all` is all or nothing: the responses in input order, or the
    // first error (the others are cancelled). Good for a precondition.
    client
        .fetch_all(api.hosts.iter().map(|host| format!("{host}/health")))
        .await?;

    // One request: with `error_for_status(true)` a failed status is an
    // `Err` too, so `?` covers it. `json()` needs the `json` feature.
    let ids: Vec<u32> = client.fetch(format!("{first}/users")).await?.json()?;

    // Then every user, spread over the two hosts. `fetch_all_settled`
    // gives one result per input, in input order, whatever fails.
    let urls: Vec<String> = ids
        .iter()
        .map(|id| format!("{}/users/{id}", api.hosts[*id as usize % 2]))
        .collect();
    let results = client.fetch_all_settled(&urls).await;

    let (mut users, mut not_found, mut failed, mut retries) = (Vec::new(), Vec::new(), 0, 0);
    // In input order, so each result lines up with its id.
    for (&id, result) in ids.iter().zip(results) {
        retries += match &result {
            Ok(res) => res.attempts() - 1,
            Err(err) => err.attempts().saturating_sub(1),
        };
        // A body that is not a `User` becomes an `Err` of kind `Decode`.
        match result.and_then(|res| res.json::<User>()) {
            Ok(user) => users.push(user),
            Err(err)
                if err.kind() == ErrorKind::Status
                    && err.status() == Some(StatusCode::NOT_FOUND) =>
            {
                not_found.push(id)
            }
            // Anything else: a 503 past its retries, a timeout, bad JSON...
            Err(err) => {
                println!("  user {id} failed: {err}");
                failed += 1;
            }
        }
    }
    let elapsed = started.elapsed();

    println!(
        "  ok {}, not found {}, failed {failed}; {retries} retries; {:.2} s",
        users.len(),
        not_found.len(),
        elapsed.as_secs_f64()
    );
    println!("  not found: {not_found:?}");
    if let Some(user) = users.first() {
        println!("  the first: {} <{}>", user.name, user.email);
    }
    let peaks = api.peaks();
    println!(
        "  peak in flight at the server: {} on the first host, {} on the second (slower), {} on both",
        peaks[0], peaks[1], peaks[2]
    );

    // What the server was told to do, so that a wrong outcome fails.
    let expected_ok = (1..=USERS).filter(|&id| !missing(id) && id != DOWN);
    let expected_missing: Vec<u32> = (1..=USERS).filter(|&id| missing(id)).collect();
    let expected_retries =
        (1..=USERS).filter(|&id| flaky(id) && id != DOWN).count() as u32 + MAX_RETRIES;
    if !users.iter().map(|u| u.id).eq(expected_ok) || not_found != expected_missing || failed != 1 {
        return Err("the users fetched are not the ones the server has".into());
    }
    if retries != expected_retries {
        return Err(
            format!("{retries} retries, where the server asked for {expected_retries}").into(),
        );
    }
    if peaks[0] > PER_HOST || peaks[1] > PER_HOST || peaks[2] > CONCURRENCY {
        return Err(format!("more in flight than the limits allow: {peaks:?}").into());
    }
    Ok(())
}

// The embedded API. Not what a user copies: it plays the remote service.

const USERS: u32 = 400;
/// The user that is down for good: `503` to every attempt.
const DOWN: u32 = 250;
const SEED: u64 = 18;

/// Users deleted since the list was made: `404`.
fn missing(id: u32) -> bool {
    id.is_multiple_of(41)
}

/// Users that answer `503` once before they answer: about one in eight,
/// picked by a seeded hash (splitmix64) so that every run is the same.
fn flaky(id: u32) -> bool {
    let mut x = SEED ^ u64::from(id);
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)).is_multiple_of(8)
}

struct Api {
    hosts: [String; 2],
    /// Requests in the handler: on each host, and on both.
    gauges: [Arc<Gauge>; 3],
}

impl Api {
    async fn start() -> std::io::Result<Api> {
        let seen: Arc<Vec<AtomicU32>> = Arc::new((0..=USERS).map(|_| AtomicU32::new(0)).collect());
        let gauges = [(); 3].map(|_| Arc::new(Gauge::default()));
        let handler = |host: usize| {
            let counted = [gauges[host].clone(), gauges[2].clone()];
            let seen = seen.clone();
            move |req| handle(req, host, counted.clone(), seen.clone())
        };
        let one = loopback::serve(handler(0)).await?;
        // Linux answers on all of 127.0.0.0/8; elsewhere another port of
        // 127.0.0.1 is another origin too.
        let two =
            match loopback::serve_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), handler(1)).await {
                Ok(addr) => addr,
                Err(_) => loopback::serve(handler(1)).await?,
            };
        Ok(Api {
            hosts: [format!("http://{one}"), format!("http://{two}")],
            gauges,
        })
    }

    fn peaks(&self) -> [usize; 3] {
        self.gauges
            .each_ref()
            .map(|g| g.peak.load(Ordering::SeqCst))
    }
}

/// Requests under way, and the most at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// One request counted in a gauge until dropped.
struct Entered(Arc<Gauge>);

impl Entered {
    fn new(gauge: &Arc<Gauge>) -> Entered {
        let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.peak.fetch_max(now, Ordering::SeqCst);
        Entered(gauge.clone())
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    req: Request<Incoming>,
    host: usize,
    gauges: [Arc<Gauge>; 2],
    seen: Arc<Vec<AtomicU32>>,
) -> Response<Full<Bytes>> {
    let _counted = gauges.each_ref().map(Entered::new);
    let reply = |status: StatusCode, body: String| {
        let mut res = Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = status;
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        res
    };
    let path = req.uri().path();
    if path == "/health" {
        return reply(StatusCode::OK, "{\"ok\":true}".into());
    }
    if path == "/users" {
        let ids: Vec<String> = (1..=USERS).map(|id| id.to_string()).collect();
        return reply(StatusCode::OK, format!("[{}]", ids.join(",")));
    }
    let Some(id) = path
        .strip_prefix("/users/")
        .and_then(|id| id.parse::<u32>().ok())
        .filter(|id| (1..=USERS).contains(id))
    else {
        return reply(StatusCode::NOT_FOUND, "{\"error\":\"no such path\"}".into());
    };
    // Like a remote service: 10 to 40 ms a request on the first host, 30 ms
    // more on the second (a replica further away), so that its requests
    // pile up to the per-host limit while the first takes the other permits.
    let delay = 10 + u64::from(id * 7 % 31) + 30 * host as u64;
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let first_time = seen[id as usize].fetch_add(1, Ordering::SeqCst) == 0;
    if id == DOWN || (first_time && flaky(id)) {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"error\":\"busy\"}".into(),
        );
    }
    if missing(id) {
        return reply(StatusCode::NOT_FOUND, "{\"error\":\"no such user\"}".into());
    }
    reply(
        StatusCode::OK,
        format!("{{\"id\":{id},\"name\":\"User {id}\",\"email\":\"user{id}@example.test\"}}"),
    )
}
