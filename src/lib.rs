//! Fetch many HTTP(S) URLs at once, fast and safely.
//!
//! `batch-fetch` does what is otherwise written by hand with
//! `buffer_unordered`, an HTTP client and a retry loop, or in Python with
//! aiohttp and `asyncio.gather`: give it any number of URLs or requests and
//! get one result per input back, in input order.
//!
//! * **Gather semantics**: [`BatchClient::fetch_all`] returns the responses
//!   in input order or fails fast at the first error, cancelling the rest;
//!   [`BatchClient::fetch_all_settled`] returns one result per input
//!   whatever fails.
//! * **Bounded**: a global concurrency limit shared by all clones of a
//!   client, an optional per-host limit, and inputs pulled lazily.
//! * **Timeouts** per attempt, covering connect, response head and the whole
//!   body (a download's: up to the head), a read timeout for silent
//!   bodies, plus a connect timeout.
//! * **Retries** with exponential backoff, full jitter, `Retry-After`, a
//!   retry budget, and only for methods that are safe to resend (see
//!   [`RetryPolicy`]).
//! * **HTTP/1.1 and HTTP/2** over a pooled hyper client, with TLS by rustls
//!   (always verified; HTTP/2 chosen by ALPN).
//! * **What users expect of an HTTP client**: redirects (with credentials
//!   kept to their origin), decompression (the size limit counts decoded
//!   bytes), proxies from the environment or [`Proxy`], DNS overrides and
//!   your own [`Resolve`], a [`Request`] builder, JSON.
//! * **Typed errors**: an [`Error`] names its [`ErrorKind`], URL and input
//!   index, and never hides the cause.
//!
//! # Cargo features
//!
//! * `gzip`, `deflate`, `brotli`, `zstd` (default): decode that
//!   `Content-Encoding`.
//! * `charset` (default): `Response::text()` decodes the `charset` of
//!   `Content-Type` (encoding_rs); `Response::text_with_charset()`.
//! * `json`: `Request::json()` and `Response::json()`, with serde.
//! * `hickory-dns`: `BatchClientBuilder::hickory_dns`, an async caching
//!   resolver.
//!
//! # Example
//!
//! ```
//! # async fn doc_server() -> String {
//! #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! #     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! #     let base = format!("http://{}", listener.local_addr().unwrap());
//! #     tokio::spawn(async move {
//! #         loop {
//! #             let Ok((mut sock, _)) = listener.accept().await else { return };
//! #             tokio::spawn(async move {
//! #                 let mut buf = Vec::new();
//! #                 let mut chunk = [0u8; 4096];
//! #                 while let Ok(n @ 1..) = sock.read(&mut chunk).await {
//! #                     buf.extend_from_slice(&chunk[..n]);
//! #                     while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
//! #                         buf.drain(..end + 4);
//! #                         let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
//! #                         if sock.write_all(reply).await.is_err() { return }
//! #                     }
//! #                 }
//! #             });
//! #         }
//! #     });
//! #     base
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), batch_fetch::Error> {
//! # let base = doc_server().await; // a tiny server on 127.0.0.1
//! use std::time::Duration;
//! use batch_fetch::{BatchClient, RetryPolicy};
//!
//! let client = BatchClient::builder()
//!     .concurrency(50)
//!     .per_host_concurrency(10)
//!     .timeout(Duration::from_secs(5))
//!     .retry(RetryPolicy::default().max_retries(2))
//!     .build()?;
//!
//! let urls: Vec<String> = (0..100).map(|i| format!("{base}/item/{i}")).collect();
//! let responses = client.fetch_all(&urls).await?;
//!
//! assert_eq!(responses.len(), 100);
//! for (url, res) in urls.iter().zip(&responses) {
//!     assert!(res.url().to_string().ends_with(&url[base.len()..]));
//!     assert_eq!(res.text()?, "hello");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Runtime
//!
//! Requests run on Tokio. A client can be built outside a runtime, but
//! its futures must be polled inside one.
//!
//! # Minimum supported Rust version
//!
//! The `rust-version` in `Cargo.toml` is the single source of the MSRV. It
//! may be raised in a minor release, never in a patch release.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

mod admission;
mod batch;
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_api;
mod client;
mod connect;
mod dns;
mod download;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod inputs;
mod layers;
mod observe;
mod origin;
mod proxy;
mod request;
mod response;
mod retry;
pub mod shard;
mod streaming;
mod timings;
mod tls;

pub use client::Batch;
pub use client::BatchClient;
pub use client::BatchClientBuilder;
pub use client::Pending;
pub use dns::{Resolve, Resolving};
pub use download::{Download, IntoDownloads};
pub use error::{BoxError, Error, ErrorKind};
pub use inputs::{FromStream, IntoInputs, from_stream};
pub use observe::{BatchStats, Event, Observer, Progress, Timings};
pub use proxy::Proxy;
pub use request::chained::Request;
pub use request::{IntoBody, IntoRequest};
pub use response::Response;
pub use retry::RetryPolicy;
pub use shard::{origin_key, origin_shard};
pub use streaming::StreamingResponse;
pub use tls::{Certificate, Identity};
/// The token [`Batch::cancel_on`] listens to (tokio-util's).
pub use tokio_util::sync::CancellationToken;
// The `http` types the API speaks in, as reqwest re-exports them, so that
// matching a status or naming a header needs no `http` dependency.
pub use http::{Method, StatusCode, Version, header};
/// A parsed WHATWG URL (the `url` crate's), accepted as an input.
pub use url::Url;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
