//! Internals for the crate's own benchmarks (`benches/hot_paths.rs`),
//! behind the `bench-internals` feature. Not a public API: it may change
//! or go away in any release.
//!
//! Each item runs one hot path of the crate with the network taken out,
//! so a benchmark measures that path's own cost:
//!
//! * [`ReadyStack`]: the tower stack (redirects, retry, the gate, the
//!   timeout, body collection, decompression) over an innermost service
//!   that answers at once;
//! * [`gather_ready`]: the batch driver and the gather into input order
//!   (what `fetch_all_settled` runs) over request futures that are ready
//!   at once.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::admission::Admission;
use crate::batch::{self, Driver, Mode, Started, StopWhen};
use crate::error::{BoxError, Error};
use crate::inputs::IntoInputs;
use crate::layers::{self, Payload, StackOver};
use crate::observe::BatchState;
use crate::observe::RequestRecord;
use crate::response::Response;
use crate::retry::RetryPolicy;
use crate::timings::Timings;

/// The body every canned response carries: 100 bytes, as the loopback
/// benchmarks' server sends.
const BODY: &[u8; 100] = &[b'x'; 100];

/// The innermost service of [`ReadyStack`], where the pooled client sits
/// in a real client: answers every request at once with `200`,
/// `content-length: 100` and [`BODY`].
#[derive(Clone, Copy, Debug)]
struct Canned;

impl<B> tower::Service<http::Request<B>> for Canned {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        let mut res = http::Response::new(Full::new(Bytes::from_static(BODY)));
        res.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("100"),
        );
        ready(Ok(res))
    }
}

/// The crate's whole tower stack, built by the same function as a real
/// client's, over a service that answers every request at once with a
/// canned `200` and a 100-byte body: no network, no hyper client.
///
/// Its settings are the [`BatchClientBuilder`](crate::BatchClientBuilder)
/// defaults (redirects followed, a concurrency of 100, a 30 s timeout,
/// decompression on, the default size and header limits), with the retry
/// policy given and no proxy.
pub struct ReadyStack {
    stack: StackOver<Canned>,
}

impl ReadyStack {
    /// The stack with the default settings and `retry`. Needs no runtime
    /// (only [`call`](Self::call) does).
    pub fn new(retry: RetryPolicy) -> Self {
        // The builder's defaults, as a client built with them has.
        let cfg = crate::BatchClientBuilder::new()
            .retry(retry)
            .stack_config()
            .expect("the default settings are valid");
        ReadyStack {
            stack: layers::stack_over(&cfg, Canned),
        }
    }

    /// Sends `req` through the stack as the client does for one request:
    /// a clone of the stack, a fresh record beside the request's body
    /// (of a request outside any batch, as `BatchClient::fetch` sends),
    /// and `oneshot`. Must be called inside a Tokio runtime with its timer
    /// enabled (the timeout layer needs it).
    ///
    /// # Errors
    ///
    /// Whatever the stack fails with; over the canned service, nothing
    /// unless a layer is broken.
    pub async fn call(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, BoxError> {
        let record = RequestRecord::new(None, req.uri().clone(), None, None, Instant::now());
        let req = req.map(|bytes| Payload {
            bytes,
            record: Some(record),
        });
        self.stack.clone().oneshot(req).await
    }
}

impl fmt::Debug for ReadyStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyStack").finish_non_exhaustive()
    }
}

/// Runs the gather driver of `fetch_all_settled` over `n` inputs whose
/// request futures are ready at once, at most `concurrency` in flight, and
/// returns how many results came back, in input order, as responses.
///
/// What runs is what a batch runs minus the requests: the inputs pulled
/// from an iterator as capacity frees up, the running count, the futures
/// in a `FuturesUnordered`, the batch's progress counters and stats, and
/// the results put in input order into one `Vec`. Each input's future
/// yields a response built on the spot (a `200` with a static 100-byte
/// body, no headers), which costs no allocation of its own; converting
/// the input into a request is left out (it is measured on its own).
///
/// Must be called inside a Tokio runtime.
pub async fn gather_ready(n: usize, concurrency: usize) -> usize {
    const URL: &str = "http://bench.invalid/item";
    let url = http::Uri::from_static(URL);
    let driver = Driver::new(
        std::iter::repeat_n(URL, n).into_stream(),
        concurrency.max(1),
        Arc::new(BatchState::new(None)),
        StopWhen {
            deadline: None,
            cancel: CancellationToken::new(),
            drain: true,
        },
        move |_: usize, _: &'static str, _: Admission| {
            let res = http::Response::new(Bytes::from_static(BODY));
            let res = Response::new(res, url.clone(), 1, Timings::default(), None);
            Started {
                future: ready(Ok::<_, Error>(res)),
                record: None,
            }
        },
    );
    match batch::gather(driver, Mode::Settled).await {
        Ok(results) => results.iter().filter(|result| result.is_ok()).count(),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_stack_answers_through_every_layer() {
        for retry in [RetryPolicy::default(), RetryPolicy::none()] {
            let stack = ReadyStack::new(retry);
            for _ in 0..3 {
                let req = http::Request::get("http://127.0.0.1:8080/items/42")
                    .body(Bytes::new())
                    .unwrap();
                let res = stack.call(req).await.unwrap();
                assert_eq!(res.status(), http::StatusCode::OK);
                assert_eq!(res.body().as_ref(), BODY);
            }
        }
    }

    #[tokio::test]
    async fn gather_ready_gives_one_response_per_input() {
        for (n, concurrency) in [(0, 1), (1, 1), (1000, 64), (1000, 1024)] {
            assert_eq!(gather_ready(n, concurrency).await, n);
        }
    }
}
