//! `client-batch-fetch`: the comparison's batch-fetch client, with the
//! library's full default stack (retries, per-host limits, decompression).
//!
//! Gather mode uses `fetch_all_settled`; `--stream` uses `fetch_stream`.
//! With `--download-dir` each body goes to a file instead
//! (`download_all_settled`; `download_stream` with `--stream`).
//! It prints one JSON [`Report`](batch_fetch_harness::Report) line.

use batch_fetch::{BatchClient, Download, Error, Response};
use batch_fetch_harness::{ClientArgs, Tally};
use futures_util::StreamExt;

const NAME: &str = "batch-fetch";

/// `Ok` for a 2xx (whose body the library has read whole).
fn outcome(result: Result<Response, Error>) -> Result<(), String> {
    match result {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) => Err(format!("status {}", res.status())),
        Err(e) => Err(e.to_string()),
    }
}

/// `Ok` for a download whose file is complete (the library renames it into
/// place only then).
fn downloaded(result: Result<Download, Error>) -> Result<(), String> {
    result.map(drop).map_err(|e| e.to_string())
}

fn main() {
    batch_fetch_harness::client_main(run);
}

async fn run(args: ClientArgs) {
    let mut tally = Tally::start(NAME, &args);
    let mut builder = BatchClient::builder()
        .concurrency(args.c)
        .timeout(args.timeout());
    if args.h2c {
        builder = builder.http2_prior_knowledge();
    }
    if let Some(ca) = &args.ca_der {
        let der = std::fs::read(ca).unwrap_or_else(|e| {
            eprintln!("{NAME}: cannot read {}: {e}", ca.display());
            std::process::exit(2);
        });
        let ca = batch_fetch::Certificate::from_der(&der).unwrap_or_else(|e| {
            eprintln!("{NAME}: {}: {e}", ca.display());
            std::process::exit(2);
        });
        builder = builder.add_root_certificate(ca);
    }
    let client = batch_fetch_harness::built(NAME, builder.build());
    tally.requests_start();

    let urls = {
        let args = args.clone();
        (0..args.n).map(move |i| args.url(i))
    };
    if let Some(dir) = args.download_dir.clone() {
        let items = urls
            .enumerate()
            .map(move |(i, url)| (url, dir.join(i.to_string())));
        if args.stream {
            let mut results = client.download_stream(items);
            while let Some((_, result)) = results.next().await {
                tally.record(downloaded(result));
            }
        } else {
            for result in client.download_all_settled(items).await {
                tally.record(downloaded(result));
            }
        }
    } else if args.stream {
        let mut results = client.fetch_stream(urls);
        while let Some((_, result)) = results.next().await {
            tally.record(outcome(result));
        }
    } else {
        for result in client.fetch_all_settled(urls).await {
            tally.record(outcome(result));
        }
    }

    drop(client);
    tally.finish();
}
