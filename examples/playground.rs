//! A loopback server to try the `batch-fetch` command-line tool on, with
//! the mix of a real crawl: mostly quick pages of varied size, some slow
//! ones, redirects, 404s and 500s, endpoints that answer `503` or `429`
//! (with `Retry-After`) before they answer `200`, some that hang past any
//! sensible timeout, and a port where nothing listens.
//!
//! ```text
//! cargo run --example playground -- --urls urls.txt --count 2000
//! # once it prints `listening http://127.0.0.1:PORT`, in another terminal:
//! cargo run --release -p batch-fetch-cli -- urls.txt --timeout 1s --report report.html
//! ```
//!
//! It writes the URL list before it prints `listening`, and ends after
//! `--seconds` (default 600): nothing here outlives its use.

#[path = "support/loopback.rs"]
mod loopback;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

/// Longest a hanging endpoint hangs (past any timeout worth using here).
const HANG: Duration = Duration::from_secs(30);

struct Options {
    urls: Option<String>,
    count: usize,
    seconds: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        urls: None,
        count: 1000,
        seconds: 600,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--urls" => options.urls = Some(value()?),
            "--count" => options.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--seconds" => {
                options.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            other => {
                return Err(format!(
                    "unknown argument {other} (--urls FILE, --count N, --seconds S)"
                ));
            }
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    // Hits per path, for the endpoints that fail before they succeed.
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let addr = loopback::serve(move |req| handle(req, hits.clone())).await?;
    let closed = closed_port().await?;
    if let Some(path) = &options.urls {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for i in 0..options.count {
            writeln!(file, "{}", url(addr, closed, i))?;
        }
        file.flush()?;
    }
    println!("listening http://{addr}");
    std::io::stdout().flush()?;
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    Ok(())
}

/// The `i`th URL of the list: a fixed mix, spread through the list.
fn url(addr: SocketAddr, closed: SocketAddr, i: usize) -> String {
    let roll = mix(i as u64) % 1000;
    let path = match roll {
        0..=779 => "page",
        780..=839 => "slow",
        840..=869 => "moved",
        870..=899 => "missing",
        900..=919 => "broken",
        920..=959 => "flaky",
        960..=979 => "busy",
        980..=989 => "hang",
        _ => return format!("http://{closed}/refused/{i}"),
    };
    format!("http://{addr}/{path}/{i}")
}

async fn handle(
    req: Request<Incoming>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let kind = parts.next().unwrap_or("");
    let n: u64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let seen = {
        let mut hits = hits.lock().unwrap_or_else(|p| p.into_inner());
        let seen = hits.entry(path.clone()).or_insert(0);
        *seen += 1;
        *seen
    };
    let r = mix(n ^ 0xfeed);
    match kind {
        // 5 to 80 ms, 200 B to 64 KiB.
        "page" => {
            tokio::time::sleep(Duration::from_millis(5 + r % 76)).await;
            body(StatusCode::OK, 200 + (r >> 8) as usize % (64 << 10))
        }
        // 300 ms to 1.2 s.
        "slow" => {
            tokio::time::sleep(Duration::from_millis(300 + r % 900)).await;
            body(StatusCode::OK, 4096)
        }
        "moved" => {
            tokio::time::sleep(Duration::from_millis(2 + r % 20)).await;
            let mut res = body(StatusCode::FOUND, 0);
            res.headers_mut().insert(
                http::header::LOCATION,
                http::HeaderValue::from_str(&format!("/page/{n}"))
                    .unwrap_or(http::HeaderValue::from_static("/page/0")),
            );
            res
        }
        "missing" => body(StatusCode::NOT_FOUND, 120),
        "broken" => {
            tokio::time::sleep(Duration::from_millis(10 + r % 50)).await;
            body(StatusCode::INTERNAL_SERVER_ERROR, 80)
        }
        // 503 twice, then 200.
        "flaky" if seen <= 2 => {
            tokio::time::sleep(Duration::from_millis(5 + r % 30)).await;
            body(StatusCode::SERVICE_UNAVAILABLE, 60)
        }
        // 429 with Retry-After: 1 once, then 200.
        "busy" if seen <= 1 => {
            let mut res = body(StatusCode::TOO_MANY_REQUESTS, 40);
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            res
        }
        "flaky" | "busy" => body(StatusCode::OK, 2048),
        "hang" => {
            tokio::time::sleep(HANG).await;
            body(StatusCode::OK, 10)
        }
        _ => body(StatusCode::NOT_FOUND, 0),
    }
}

fn body(status: StatusCode, len: usize) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(vec![b'x'; len])));
    *res.status_mut() = status;
    res
}

/// A loopback port where nothing listens (bound, then let go).
async fn closed_port() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    listener.local_addr()
}

/// A fixed scramble of `n` (splitmix64's finalizer): the same mix on
/// every run.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
