//! `client-reqwest`: the comparison's reqwest client, written as reqwest's
//! users do: a stream of request futures run `buffered(c)` (input order)
//! or, with `--stream`, `buffer_unordered(c)` (completion order).
//!
//! It prints one JSON [`Report`](batch_fetch_harness::Report) line.

use batch_fetch_harness::{ClientArgs, Tally};
use futures_util::StreamExt;

const NAME: &str = "reqwest";

fn main() {
    batch_fetch_harness::client_main(run);
}

/// One request: `Ok` for a 2xx whose body was read whole.
async fn fetch(client: reqwest::Client, url: String) -> Result<(), String> {
    let res = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        drop(body);
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

async fn run(args: ClientArgs) {
    let mut tally = Tally::start(NAME, &args);
    let mut builder = reqwest::Client::builder().timeout(args.timeout());
    if args.h2c {
        builder = builder.http2_prior_knowledge();
    }
    let client = batch_fetch_harness::built(NAME, builder.build());
    tally.requests_start();

    let requests =
        futures_util::stream::iter(0..args.n).map(|i| fetch(client.clone(), args.url(i)));
    if args.stream {
        let mut results = requests.buffer_unordered(args.c);
        while let Some(result) = results.next().await {
            tally.record(result);
        }
    } else {
        let mut results = requests.buffered(args.c);
        while let Some(result) = results.next().await {
            tally.record(result);
        }
    }

    drop(client);
    tally.finish();
}
