//! A million URLs through `fetch_stream`, with the peak memory (RSS) of the
//! process measured as it goes: the stream pulls its input lazily and holds
//! only the requests in flight, so memory stays flat however long the
//! input.
//!
//! ```text
//! cargo run --release --example million            # 1,000,000 requests
//! cargo run --release --example million -- 20000   # a shorter run
//! ```
//!
//! Everything stays on 127.0.0.1: an embedded hyper server answers each
//! `/item/{i}` with a small body at once. The peak RSS is read from
//! `/proc/self/status` (Linux); elsewhere it shows as `n/a`.

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::time::Instant;

use batch_fetch::{BatchClient, BatchStats};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use process::{memory, show_mib};

const CONCURRENCY: usize = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("count {n:?}: {e}"))?,
        None => 1_000_000,
    };
    let addr = start_server().await?;
    let client = BatchClient::builder().concurrency(CONCURRENCY).build()?;

    println!("fetch_stream over {total} URLs at {addr}, concurrency {CONCURRENCY}");
    println!(
        "{:>10}  {:>10}  {:>12}  {:>12}",
        "requests", "req/s", "RSS now", "peak RSS"
    );
    let rss_before = memory();
    println!(
        "{:>10}  {:>10}  {:>12}  {:>12}",
        0,
        "",
        show_mib(rss_before.map(|m| m.now)),
        show_mib(rss_before.map(|m| m.peak))
    );

    // A lazy input: no URL exists before the stream asks for it.
    let urls = (0..total).map(move |i| format!("http://{addr}/item/{i}"));
    let mut results = client.fetch_stream(urls);
    let mut stats = BatchStats::new();
    let started = Instant::now();
    let mut peak_at_tenth = None;
    let step = (total / 10).max(1);
    while let Some((_, result)) = results.next().await {
        stats.record(&result);
        let seen = stats.count() as usize;
        if seen.is_multiple_of(step) || seen == total {
            let mem = memory();
            if seen == step {
                peak_at_tenth = mem.map(|m| m.peak);
            }
            println!(
                "{:>10}  {:>10.0}  {:>12}  {:>12}",
                seen,
                seen as f64 / started.elapsed().as_secs_f64(),
                show_mib(mem.map(|m| m.now)),
                show_mib(mem.map(|m| m.peak))
            );
        }
    }

    println!("\n{stats}");
    let end = memory();
    if let (Some(tenth), Some(end)) = (peak_at_tenth, end) {
        println!(
            "\npeak RSS after {} requests: {}; after all {total}: {} ({:+.1} % over the last 90 %)",
            step,
            show_mib(Some(tenth)),
            show_mib(Some(end.peak)),
            (end.peak as f64 / tenth as f64 - 1.0) * 100.0
        );
    }
    if stats.count() as usize != total || stats.errors() > 0 {
        return Err(format!("{} results, {} errors", stats.count(), stats.errors()).into());
    }
    Ok(())
}

async fn start_server() -> std::io::Result<SocketAddr> {
    loopback::serve(|req: Request<Incoming>| async move {
        let body = format!("{{\"path\":\"{}\"}}", req.uri().path());
        Response::new(Full::new(Bytes::from(body)))
    })
    .await
}
