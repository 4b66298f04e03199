//! [`BatchClient`]: the entry points.

use std::sync::Arc;
use std::time::Instant;

use http::HeaderMap;
use http::header::Entry;
use tower::ServiceExt;

use crate::admission::Admission;
use crate::batch;
use crate::builder::BatchClientBuilder;
use crate::error::Error;
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
        self.execute(None, req, None).await
    }

    /// Fetches every input and returns the responses in input order, or the
    /// first error, like Python's `asyncio.gather()`.
    ///
    /// Inputs are pulled from the iterator as capacity frees up, not all up
    /// front. On the first failure (the first in time, not in input order)
    /// the others are cancelled: requests in flight are dropped with their
    /// connections and inputs not started are never sent.
    ///
    /// # Errors
    ///
    /// The first error, with [`Error::index()`] naming its input.
    pub async fn fetch_all<I>(&self, reqs: I) -> Result<Vec<Response>, Error>
    where
        I: IntoIterator,
        I::Item: IntoRequest,
    {
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
    pub async fn fetch_all_settled<I>(&self, reqs: I) -> Vec<Result<Response, Error>>
    where
        I: IntoIterator,
        I::Item: IntoRequest,
    {
        match batch::gather(self, reqs, batch::Mode::Settled).await {
            Ok(results) => results,
            // Only a fail-fast batch stops at an error.
            Err(err) => vec![Err(err)],
        }
    }

    /// One input, start to end: convert, add the default headers, run the
    /// stack, map the outcome.
    pub(crate) async fn execute(
        &self,
        index: Option<usize>,
        input: impl IntoRequest,
        admission: Option<Admission>,
    ) -> Result<Response, Error> {
        let started = Instant::now();
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
        let url = req.uri().clone();
        match self.inner.stack.clone().oneshot(req).await {
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
