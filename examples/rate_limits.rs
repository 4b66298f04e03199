//! How close a rate limit gets to the rate asked for, and what waiting
//! for slots costs in CPU: for each rate, 3 seconds' worth of requests to
//! one embedded loopback server, with 100 allowed in flight, so the limit
//! (not the server) sets the pace and a thousand requests wait for slots.
//!
//! ```text
//! cargo run --release --example rate_limits
//! ```
//!
//! CPU time is the whole process's (client and server), from
//! `/proc/self/stat` (Linux; `n/a` elsewhere).

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use batch_fetch::BatchClient;
use bytes::Bytes;
use http_body_util::Full;
use process::cpu_seconds;

const SECONDS: u32 = 3;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = start_server().await?;
    println!("per_host_rate_limit(n, 1 s), {SECONDS} s of requests each, concurrency 100\n");
    println!(
        "{:>8}  {:>9}  {:>10}  {:>8}  {:>13}",
        "asked/s", "requests", "achieved/s", "ratio", "CPU/request"
    );
    for rate in [10, 50, 200, 1000, 5000] {
        let client = BatchClient::builder()
            .concurrency(100)
            .per_host_rate_limit(rate, Duration::from_secs(1))
            .build()?;
        let n = (rate * SECONDS) as usize;
        let urls: Vec<String> = (0..n).map(|i| format!("http://{addr}/{i}")).collect();
        // One request first, so the connection is open before the clock.
        client.fetch(format!("http://{addr}/warm-up")).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;

        let (cpu_before, started) = (cpu_seconds(), Instant::now());
        let results = client.fetch_all(&urls).await?;
        let wall = started.elapsed();
        let cpu = cpu_seconds()
            .zip(cpu_before)
            .map(|(after, before)| after - before);

        // n requests under a limit of `rate` a second take (n - 1) / rate.
        let achieved = (results.len() - 1) as f64 / wall.as_secs_f64();
        println!(
            "{:>8}  {:>9}  {:>10.1}  {:>8.3}  {:>13}",
            rate,
            results.len(),
            achieved,
            achieved / f64::from(rate),
            cpu.map_or("n/a".to_owned(), |c| format!(
                "{:.0} µs",
                c / results.len() as f64 * 1e6
            ))
        );
    }
    Ok(())
}

async fn start_server() -> std::io::Result<SocketAddr> {
    loopback::serve(|_| async { hyper::Response::new(Full::new(Bytes::from("ok"))) }).await
}
