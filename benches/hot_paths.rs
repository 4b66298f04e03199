//! Micro-benchmarks of the paths this crate owns: turning inputs into
//! requests, and a whole batch through the stack against a loopback
//! server (so the figure is the client's overhead plus loopback I/O).
//! With the `bench-internals` feature, also the two paths with the network
//! taken out: one request through the tower stack over a service that
//! answers at once (`stack_ready`), and the gather driver over request
//! futures that are ready at once (`gather_ready`).
//!
//! Run with `cargo bench` (or `cargo bench --all-features` for every
//! group). Compare figures within one run only: these machines are shared
//! and noisy.

use std::hint::black_box;

use batch_fetch::{BatchClient, IntoRequest, RetryPolicy};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn conversion(c: &mut Criterion) {
    let mut group = c.benchmark_group("into_request");
    group.bench_function("str", |b| {
        b.iter(|| black_box("http://127.0.0.1:8080/items/42?x=1").into_request())
    });
    group.bench_function("string", |b| {
        let url = String::from("https://api.example.test/v1/items/42?x=1");
        b.iter(|| black_box(url.clone()).into_request())
    });
    group.bench_function("request_with_body", |b| {
        b.iter(|| {
            http::Request::post("http://127.0.0.1:8080/submit")
                .header("content-type", "application/json")
                .body(black_box(r#"{"id":42}"#))
                .unwrap()
                .into_request()
        })
    });
    group.finish();
}

/// A minimal keep-alive HTTP/1.1 server: answers every request head with a
/// fixed 100-byte body. Cheap enough that the client dominates the profile.
async fn loopback_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}",
            "x".repeat(100)
        );
        while let Ok((mut sock, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = sock.read(&mut chunk).await {
                    buf.extend_from_slice(&chunk[..n]);
                    let mut out = Vec::new();
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        out.extend_from_slice(reply.as_bytes());
                    }
                    if sock.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

fn batch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(loopback_server());
    let mut group = c.benchmark_group("fetch_all_loopback");
    const N: usize = 1000;
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(20);
    for concurrency in [16, 64] {
        let client = BatchClient::builder()
            .concurrency(concurrency)
            .retry(RetryPolicy::default())
            .build()
            .unwrap();
        let urls: Vec<String> = (0..N).map(|i| format!("{base}/fast?i={i}")).collect();
        group.bench_with_input(
            BenchmarkId::new("batch_fetch", concurrency),
            &urls,
            |b, urls| {
                b.to_async(&rt).iter(|| async {
                    let responses = client.fetch_all(urls).await.unwrap();
                    assert_eq!(responses.len(), N);
                })
            },
        );
    }

    // The peer measured in the same run: what people write by hand with a
    // raw hyper-util pooled client, a task per request and a semaphore.
    let raw: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    for concurrency in [16, 64] {
        let urls: Vec<http::Uri> = (0..N)
            .map(|i| format!("{base}/fast?i={i}").parse().unwrap())
            .collect();
        group.bench_with_input(
            BenchmarkId::new("raw_hyper_util_spawn_semaphore", concurrency),
            &urls,
            |b, urls| {
                b.to_async(&rt).iter(|| async {
                    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
                    let tasks: Vec<_> = urls
                        .iter()
                        .cloned()
                        .map(|uri| {
                            let raw = raw.clone();
                            let permits = permits.clone();
                            tokio::spawn(async move {
                                let _permit = permits.acquire_owned().await.unwrap();
                                let res = raw.get(uri).await.unwrap();
                                http_body_util::BodyExt::collect(res.into_body())
                                    .await
                                    .unwrap()
                                    .to_bytes()
                            })
                        })
                        .collect();
                    for task in tasks {
                        assert_eq!(task.await.unwrap().len(), 100);
                    }
                })
            },
        );
    }
    group.finish();
}

/// The groups that reach into the crate through its `bench_api`.
#[cfg(feature = "bench-internals")]
mod internals {
    use std::hint::black_box;

    use batch_fetch::RetryPolicy;
    use batch_fetch::bench_api::{ReadyStack, gather_ready};
    use bytes::Bytes;
    use criterion::{BenchmarkId, Criterion, Throughput};

    /// One runtime thread: these paths run on the task that polls them, so
    /// a second worker would only add noise. The timer is on because the
    /// timeout layer needs one.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// One request through the whole stack (redirects, retry, the gate,
    /// the timeout, body collection, decompression) as the client sends
    /// it: a clone of the stack, a fresh trace, `oneshot`, over an
    /// innermost service that answers at once with a canned `200` and a
    /// 100-byte body. Includes building the request and the canned
    /// response (a few allocations); excludes the network, hyper, the
    /// input's conversion (`into_request`) and the batch driver
    /// (`gather_ready`).
    pub(crate) fn stack_ready(c: &mut Criterion) {
        let rt = runtime();
        let mut group = c.benchmark_group("stack_ready");
        group.throughput(Throughput::Elements(1));
        for (name, retry) in [
            ("default", RetryPolicy::default()),
            ("retry_none", RetryPolicy::none()),
        ] {
            let stack = ReadyStack::new(retry);
            group.bench_function(name, |b| {
                b.to_async(&rt).iter(|| async {
                    let req = http::Request::get("http://127.0.0.1:8080/items/42?x=1")
                        .body(Bytes::new())
                        .unwrap();
                    let res = stack.call(black_box(req)).await.unwrap();
                    assert_eq!(res.body().len(), 100);
                    black_box(res)
                })
            });
        }
        group.finish();
    }

    /// What `fetch_all_settled` runs around its requests, per input: pulling
    /// inputs as capacity frees up, the `FuturesUnordered` of request
    /// futures, the progress counters and stats, and the results put in
    /// input order into one `Vec`, over futures that are ready at once
    /// with a response built on the spot. Excludes the input's conversion
    /// and the stack (the other groups) and any waiting: with every future
    /// ready at once, the concurrency only sets how many are in flight.
    pub(crate) fn gather(c: &mut Criterion) {
        let rt = runtime();
        let mut group = c.benchmark_group("gather_ready");
        const N: usize = 10_000;
        group.throughput(Throughput::Elements(N as u64));
        for concurrency in [64, 1024] {
            group.bench_with_input(
                BenchmarkId::from_parameter(concurrency),
                &concurrency,
                |b, &concurrency| {
                    b.to_async(&rt).iter(|| async move {
                        let done = gather_ready(black_box(N), concurrency).await;
                        assert_eq!(done, N);
                    })
                },
            );
        }
        group.finish();
    }
}

#[cfg(feature = "bench-internals")]
criterion_group!(
    benches,
    conversion,
    internals::stack_ready,
    internals::gather,
    batch
);
#[cfg(not(feature = "bench-internals"))]
criterion_group!(benches, conversion, batch);
criterion_main!(benches);
