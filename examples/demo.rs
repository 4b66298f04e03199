//! The main job, end to end, with no network: an embedded server on
//! 127.0.0.1 plays a slow remote API, and one `fetch_all_settled` call
//! fetches all of it.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! The server has 500 endpoints that each take about 200 ms (like a remote
//! API), 6 flaky ones that answer `503` before they answer `200`, and one
//! that hangs far past the client's timeout (fetched beside the batch, on
//! a clone of the same client).

#[path = "support/loopback.rs"]
mod loopback;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use batch_fetch::{BatchClient, RetryPolicy};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

const ENDPOINTS: usize = 500;
const FLAKY: usize = 6;
const CONCURRENCY: usize = 100;
const TIMEOUT: Duration = Duration::from_millis(750);
const MAX_RETRIES: u32 = 2;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, flaky_hits) = start_server().await?;
    let base = format!("http://{addr}");

    let mut urls: Vec<String> = (0..FLAKY).map(|i| format!("{base}/flaky/{i}")).collect();
    urls.extend((0..ENDPOINTS).map(|i| format!("{base}/api/{i}")));
    let sequential: Duration = (0..ENDPOINTS).map(api_delay).sum();

    let client = BatchClient::builder()
        .concurrency(CONCURRENCY)
        .timeout(TIMEOUT)
        .retry(RetryPolicy::default().max_retries(MAX_RETRIES))
        .build()?;

    println!(
        "batch-fetch demo: {} requests to an embedded server at {base}",
        urls.len() + 1
    );
    println!(
        "  concurrency {CONCURRENCY}, timeout {} ms per attempt, up to {MAX_RETRIES} retries\n",
        TIMEOUT.as_millis()
    );

    // The batch, and beside it one request that hangs, on a clone of the
    // same client: both share its pool and its limits. A progress line
    // shows how far the batch has got while it runs.
    let batch = client.batch();
    let watcher = batch.clone();
    let progress = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            eprint!("\r  {:<78}", watcher.progress().to_string());
        }
    });
    let started = Instant::now();
    let run = async {
        let results = batch.fetch_all_settled(&urls).await;
        progress.abort();
        (results, started.elapsed())
    };
    let hang = async {
        let result = client.clone().fetch(format!("{base}/hang")).await;
        (result, started.elapsed())
    };
    let ((results, batch_wall), (hang_result, wall)) = tokio::join!(run, hang);
    eprintln!("\r  {:<78}\n", batch.progress().to_string());

    // The batch's own stats, with the hanging request added by hand.
    let mut stats = batch.stats();
    stats.record(&hang_result);
    let ok = results
        .iter()
        .chain([&hang_result])
        .filter(|r| r.as_ref().is_ok_and(|res| res.status().is_success()))
        .count();
    // What a zero-overhead client would take: the same waits, started in
    // input order on the permits the hanging request leaves free.
    let waits = (0..FLAKY)
        .map(|_| FLAKY_DELAY)
        .chain((0..ENDPOINTS).map(api_delay));
    let ideal = list_schedule(waits, CONCURRENCY - 1);

    let row = |name: &str, value: String| println!("  {name:<22}{value}");
    row("requests", (results.len() + 1).to_string());
    row("ok (2xx)", ok.to_string());
    row(
        "batch wall time",
        format!(
            "{:.2} s for the {} API and flaky requests",
            batch_wall.as_secs_f64(),
            urls.len()
        ),
    );
    row(
        "sequential time",
        format!(
            "{:.1} s (the server's waits added up)",
            sequential.as_secs_f64()
        ),
    );
    row(
        "ideal",
        format!(
            "{:.2} s (the waits packed on {} free permits, zero overhead)",
            ideal.as_secs_f64(),
            CONCURRENCY - 1
        ),
    );
    row(
        "speed-up",
        format!(
            "{:.1}x over sequential; {:.2}x the ideal",
            sequential.as_secs_f64() / batch_wall.as_secs_f64(),
            batch_wall.as_secs_f64() / ideal.as_secs_f64()
        ),
    );
    row(
        "throughput",
        format!("{:.0} req/s", urls.len() as f64 / batch_wall.as_secs_f64()),
    );
    row(
        "retries",
        format!(
            "{} (flaky endpoints were hit {} times)",
            stats.retries(),
            flaky_hits.load(Ordering::Relaxed)
        ),
    );
    if let Err(err) = &hang_result {
        row("the hanging one", err.to_string());
    }
    row(
        "total wall time",
        format!(
            "{:.2} s (the hanging request: {} attempts of {} ms, plus backoff)",
            wall.as_secs_f64(),
            MAX_RETRIES + 1,
            TIMEOUT.as_millis()
        ),
    );
    if let Some(slow) = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .max_by_key(|r| r.elapsed())
    {
        let t = slow.timings();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        row(
            "slowest response",
            format!(
                "{:.0} ms, {} attempts, queued {:.1} ms; last attempt: connect {:.1} ms, \
                 first byte {:.1} ms, body {:.1} ms",
                ms(t.total()),
                slow.attempts(),
                ms(t.queued()),
                ms(t.connect()),
                ms(t.ttfb()),
                ms(t.body())
            ),
        );
    }
    println!("\nBatchStats (the batch and the hanging request):\n{stats}");
    Ok(())
}

/// The makespan of running `waits` in order, each on the first of `slots`
/// permits to come free.
fn list_schedule(waits: impl Iterator<Item = Duration>, slots: usize) -> Duration {
    use std::cmp::Reverse;
    let mut free_at: std::collections::BinaryHeap<Reverse<Duration>> =
        (0..slots).map(|_| Reverse(Duration::ZERO)).collect();
    let mut end = Duration::ZERO;
    for wait in waits {
        let Reverse(start) = free_at.pop().unwrap_or_default();
        end = end.max(start + wait);
        free_at.push(Reverse(start + wait));
    }
    end
}

const FLAKY_DELAY: Duration = Duration::from_millis(100);

/// Each API endpoint waits 150–250 ms, like a remote service.
fn api_delay(i: usize) -> Duration {
    Duration::from_millis(150 + (i as u64 * 37) % 101)
}

async fn start_server() -> std::io::Result<(SocketAddr, Arc<AtomicU32>)> {
    let flaky: Arc<Vec<AtomicU32>> = Arc::new((0..FLAKY).map(|_| AtomicU32::new(0)).collect());
    let flaky_hits = Arc::new(AtomicU32::new(0));
    let hits = flaky_hits.clone();
    let addr = loopback::serve(move |req| handle(req, flaky.clone(), hits.clone())).await?;
    Ok((addr, flaky_hits))
}

async fn handle(
    req: Request<Incoming>,
    flaky: Arc<Vec<AtomicU32>>,
    hits: Arc<AtomicU32>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let number = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let reply = |status: StatusCode, body: String| {
        let mut res = Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = status;
        res
    };
    if let Some(i) = number("/api/") {
        tokio::time::sleep(api_delay(i)).await;
        return reply(StatusCode::OK, format!("{{\"item\":{i}}}"));
    }
    if let Some(i) = number("/flaky/").filter(|i| *i < FLAKY) {
        hits.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(FLAKY_DELAY).await;
        // Endpoint i fails (i % 2) + 1 times, then recovers.
        let seen = flaky[i].fetch_add(1, Ordering::Relaxed);
        if seen <= (i as u32 % 2) {
            return reply(StatusCode::SERVICE_UNAVAILABLE, "busy".into());
        }
        return reply(StatusCode::OK, format!("{{\"flaky\":{i}}}"));
    }
    if path == "/hang" {
        // Far past the client's timeout; the client gives up first.
        tokio::time::sleep(Duration::from_secs(60)).await;
        return reply(StatusCode::OK, "too late".into());
    }
    reply(StatusCode::NOT_FOUND, "no such endpoint".into())
}
