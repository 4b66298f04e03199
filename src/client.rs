//! [`BatchClient`]: the entry points.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_core::Stream;
use http::HeaderMap;
use http::header::Entry;
use tower::ServiceExt;

use crate::admission::Admission;
use crate::batch;
use crate::builder::BatchClientBuilder;
use crate::error::Error;
use crate::inputs::IntoInputs;
use crate::layers::{FinalUrl, Stack};
use crate::request::IntoRequest;
use crate::response::Response;

/// A client for fetching many URLs at once.
///
/// Cheap to clone: clones share one connection pool, one global concurrency
/// limit, one per-host limit and one retry budget, so a client can be
/// handed to many tasks and the limits still hold across all of them.
///
/// ```
/// # async fn run() {
/// use batch_fetch::BatchClient;
///
/// let client = BatchClient::new();
/// let results = client
///     .fetch_all_settled(["http://127.0.0.1:1/a", "not a url"])
///     .await;
/// assert_eq!(results.len(), 2);
/// # }
/// ```
#[derive(Clone)]
pub struct BatchClient {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) stack: Stack,
    pub(crate) default_headers: HeaderMap,
    pub(crate) concurrency: usize,
}

// Checked here so that a change that breaks it fails to compile.
fn _assert_impls() {
    fn ok<T: Send + Sync + Clone + 'static>() {}
    ok::<BatchClient>();
}

// Batches can be spawned: their futures are `Send`.
fn _assert_send_futures(client: &BatchClient) {
    fn send<T: Send>(_: T) {}
    send(client.fetch("http://127.0.0.1/"));
    send(client.fetch_all(vec![String::from("http://127.0.0.1/")]));
    send(client.fetch_all_settled([http::Request::new(())]));
}

impl BatchClient {
    /// A client with the default settings (see [`BatchClientBuilder`]).
    pub fn new() -> Self {
        // The defaults are valid and the built-in roots parse, so this
        // cannot fail; a failure here is a bug in this crate.
        BatchClientBuilder::new()
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder to configure a client.
    pub fn builder() -> BatchClientBuilder {
        BatchClientBuilder::new()
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        BatchClient {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// Fetches one request, through the same limits, timeout and retries as
    /// a batch.
    ///
    /// # Errors
    ///
    /// When the input is not a valid request, or every allowed attempt
    /// failed. A response with any status, `404` or `503` included, is
    /// `Ok`.
    pub async fn fetch(&self, req: impl IntoRequest) -> Result<Response, Error> {
        self.start(None, req, None).await
    }

    /// Fetches every input and returns the responses in input order, or the
    /// first error, like Python's `asyncio.gather()`.
    ///
    /// Inputs (any iterator of requests, or a stream wrapped by
    /// [`from_stream`](crate::from_stream)) are pulled as capacity frees up,
    /// not all up front. On the first failure (the first in time, not in
    /// input order) the others are cancelled: requests in flight are dropped
    /// with their connections and inputs not started are never sent.
    ///
    /// # Errors
    ///
    /// The first error, with [`Error::index()`] naming its input.
    pub async fn fetch_all<I: IntoInputs>(&self, reqs: I) -> Result<Vec<Response>, Error> {
        batch::gather(self, reqs, batch::Mode::FailFast)
            .await?
            .into_iter()
            .collect()
    }

    /// Fetches every input and returns exactly one result per input, in
    /// input order, whatever fails, like `asyncio.gather(...,
    /// return_exceptions=True)`.
    ///
    /// Each `Err` carries [`Error::index()`] of its input.
    pub async fn fetch_all_settled<I: IntoInputs>(&self, reqs: I) -> Vec<Result<Response, Error>> {
        match batch::gather(self, reqs, batch::Mode::Settled).await {
            Ok(results) => results,
            // Only a fail-fast batch stops at an error.
            Err(err) => vec![Err(err)],
        }
    }

    /// Fetches every input and yields `(index, result)` for each as soon as
    /// it completes, like Python's `asyncio.as_completed()`.
    ///
    /// The stream pulls its input lazily and keeps at most
    /// [`concurrency`](crate::BatchClientBuilder::concurrency) requests in
    /// flight, holding nothing but those: a stream over a million URLs
    /// runs in the memory of a hundred. It does its work when polled, on
    /// the polling task; dropping it cancels whatever is in flight. It owns
    /// a handle to the client, so it can be moved into a task of its own.
    ///
    /// ```
    /// # async fn run() {
    /// use futures_util::StreamExt;
    ///
    /// let client = batch_fetch::BatchClient::new();
    /// let urls = (0..3).map(|i| format!("http://127.0.0.1:1/item/{i}"));
    /// let mut results = client.fetch_stream(urls);
    /// while let Some((index, result)) = results.next().await {
    ///     println!("input {index}: {}", result.is_ok());
    /// }
    /// # }
    /// ```
    pub fn fetch_stream<I>(
        &self,
        reqs: I,
    ) -> impl Stream<Item = (usize, Result<Response, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        self.stream(reqs, false)
    }

    /// Like [`fetch_stream`](Self::fetch_stream), but yields the results in
    /// input order.
    ///
    /// Results that complete early wait in a reorder buffer for the ones
    /// before them. To keep that buffer bounded, no input is started more
    /// than twice `concurrency` positions past the oldest one not yet
    /// yielded; a very slow request therefore slows the stream down rather
    /// than letting memory grow.
    pub fn fetch_stream_ordered<I>(
        &self,
        reqs: I,
    ) -> impl Stream<Item = (usize, Result<Response, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        self.stream(reqs, true)
    }

    fn stream<I>(
        &self,
        reqs: I,
        in_order: bool,
    ) -> impl Stream<Item = (usize, Result<Response, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        let client = self.clone();
        let driver = batch::Driver::new(
            reqs.into_stream(),
            self.concurrency(),
            move |index, input, admission| {
                // `run` is not generic over the input type, so the stream's
                // futures borrow nothing and need no copy of the client.
                let started = Instant::now();
                let prepared = client.prepare(Some(index), input, Some(admission));
                let fut = run(prepared, Some(index), started);
                async move { (index, fut.await) }
            },
        );
        batch::Ordered::new(driver, in_order)
    }

    /// One input, start to end: convert it and add the default headers now,
    /// then run the stack in a future that owns all it needs (so a stream
    /// of them can outlive this borrow of the client).
    pub(crate) fn start(
        &self,
        index: Option<usize>,
        input: impl IntoRequest,
        admission: Option<Admission>,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        let started = Instant::now();
        run(self.prepare(index, input, admission), index, started)
    }

    fn prepare(
        &self,
        index: Option<usize>,
        input: impl IntoRequest,
        admission: Option<Admission>,
    ) -> Result<(Stack, http::Request<bytes::Bytes>), Error> {
        let mut req = input.into_request().map_err(|e| e.with_index(index))?;
        if tokio::runtime::Handle::try_current().is_err() {
            // hyper would panic spawning its connection task; say why instead.
            return Err(Error::config("requests must run inside a Tokio runtime")
                .with_url(req.uri().clone())
                .with_index(index));
        }
        add_defaults(req.headers_mut(), &self.inner.default_headers);
        if let Some(admission) = admission {
            req.extensions_mut().insert(admission);
        }
        Ok((self.inner.stack.clone(), req))
    }
}

/// The part of a request that waits: not generic over the input type, and
/// borrowing nothing.
async fn run(
    prepared: Result<(Stack, http::Request<bytes::Bytes>), Error>,
    index: Option<usize>,
    started: Instant,
) -> Result<Response, Error> {
    let (stack, req) = prepared?;
    let url = req.uri().clone();
    match stack.oneshot(req).await {
        Ok(mut res) => {
            // After redirects, the URL that answered.
            let url = match res.extensions_mut().remove::<FinalUrl>() {
                Some(FinalUrl(last)) => last,
                None => url,
            };
            Ok(Response::new(res, url, started.elapsed()))
        }
        Err(err) => Err(Error::from_stack(err).with_url(url).with_index(index)),
    }
}

impl Default for BatchClient {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for BatchClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchClient")
            .field("concurrency", &self.inner.concurrency)
            .finish_non_exhaustive()
    }
}

/// Adds each default header the request does not set itself.
fn add_defaults(headers: &mut HeaderMap, defaults: &HeaderMap) {
    for name in defaults.keys() {
        if let Entry::Vacant(slot) = headers.entry(name) {
            let mut values = defaults.get_all(name).iter();
            if let Some(first) = values.next() {
                let mut added = slot.insert_entry(first.clone());
                for value in values {
                    added.append(value.clone());
                }
            }
        }
    }
}
