//! `client-hyper-util`: the floor for a hyper-based client, hand-rolled as
//! people do it: hyper-util's legacy pooled `Client` over an
//! `HttpConnector`, a semaphore of `c` permits, and one spawned task per
//! request that holds its permit until the body is read.
//!
//! Gather mode records the tasks in input order; `--stream` records them
//! as they complete, holding nothing but the tasks in flight. It prints
//! one JSON [`Report`](batch_fetch_harness::Report) line.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use batch_fetch_harness::{ClientArgs, Tally};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const NAME: &str = "hyper-util";

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn main() {
    batch_fetch_harness::client_main(run);
}

/// One request: `Ok` for a 2xx whose body was read whole.
async fn fetch(client: HttpClient, url: String, timeout: Duration) -> Result<(), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let request = async {
        let res = client.get(uri).await.map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if status.is_success() {
            drop(body);
            Ok(())
        } else {
            Err(format!("status {status}"))
        }
    };
    match tokio::time::timeout(timeout, request).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

/// What a finished task gave: its result, or why it panicked.
fn joined(result: Result<Result<(), String>, tokio::task::JoinError>) -> Result<(), String> {
    result.unwrap_or_else(|e| Err(format!("task failed: {e}")))
}

async fn run(args: ClientArgs) {
    let mut tally = Tally::start(NAME, &args);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let mut builder = Client::builder(TokioExecutor::new());
    if args.h2c {
        builder.http2_only(true);
    }
    let client: HttpClient = builder.build(connector);
    let permits = Arc::new(Semaphore::new(args.c));
    tally.requests_start();

    let timeout = args.timeout();
    if args.stream {
        // Completion order, holding only the tasks in flight.
        let mut tasks = JoinSet::new();
        for i in 0..args.n {
            // Reap whatever finished, so the set holds at most `c` tasks.
            while let Some(result) = tasks.try_join_next() {
                tally.record(joined(result));
            }
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (client, url) = (client.clone(), args.url(i));
            tasks.spawn(async move {
                let result = fetch(client, url, timeout).await;
                drop(permit);
                result
            });
        }
        while let Some(result) = tasks.join_next().await {
            tally.record(joined(result));
        }
    } else {
        // Input order: the handles wait in a queue, oldest first.
        let mut tasks = VecDeque::new();
        for i in 0..args.n {
            // Record the ones at the front that are done already.
            while tasks
                .front()
                .is_some_and(tokio::task::JoinHandle::is_finished)
            {
                let handle = tasks.pop_front().expect("front exists");
                tally.record(joined(handle.await));
            }
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (client, url) = (client.clone(), args.url(i));
            tasks.push_back(tokio::spawn(async move {
                let result = fetch(client, url, timeout).await;
                drop(permit);
                result
            }));
        }
        for handle in tasks {
            tally.record(joined(handle.await));
        }
    }

    drop(client);
    tally.finish();
}
