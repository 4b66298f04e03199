//! The entry points: [`BatchClient`], its builder, and [`Batch`] (a batch
//! with settings of its own).

mod builder;
mod exec;
mod handle;
mod service;

pub use builder::BatchClientBuilder;
pub use handle::Batch;
pub use service::Pending;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use http::HeaderMap;

use crate::download::{self, Download, DownloadSettings, IntoDownloads};
use crate::error::Error;
use crate::inputs::IntoInputs;
use crate::layers::Stack;
use crate::request::IntoRequest;
use crate::response::Response;
use crate::streaming::{self, StreamingResponse};

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

struct Inner {
    stack: Stack,
    default_headers: HeaderMap,
    concurrency: usize,
    batch_deadline: Option<Duration>,
    error_for_status: bool,
    downloads: DownloadSettings,
}

// Checked here so that a change that breaks it fails to compile.
fn _assert_impls() {
    fn ok<T: Send + Sync + Clone + 'static>() {}
    ok::<BatchClient>();
    fn send<T: Send + Unpin + 'static>() {}
    send::<Pending>();
}

// Batches can be spawned: their futures are `Send`.
fn _assert_send_futures(client: &BatchClient) {
    fn send<T: Send>(_: T) {}
    send(client.fetch("http://127.0.0.1/"));
    send(client.fetch_all(vec![String::from("http://127.0.0.1/")]));
    send(client.fetch_all_settled([http::Request::new(())]));
    send(client.fetch_streaming("http://127.0.0.1/"));
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

    fn from_inner(inner: Inner) -> Self {
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
        self.exec(self.prepare(req), None).future.await
    }

    /// A batch with settings of its own (deadline, cancellation, observer)
    /// that shows its progress and stats; see [`Batch`].
    pub fn batch(&self) -> Batch {
        Batch::new(self.clone(), self.inner.batch_deadline)
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
        self.batch().fetch_all(reqs).await
    }

    /// Fetches every input and returns exactly one result per input, in
    /// input order, whatever fails, like `asyncio.gather(...,
    /// return_exceptions=True)`.
    ///
    /// Each `Err` carries [`Error::index()`] of its input.
    pub async fn fetch_all_settled<I: IntoInputs>(&self, reqs: I) -> Vec<Result<Response, Error>> {
        self.batch().fetch_all_settled(reqs).await
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
        self.batch().fetch_stream(reqs)
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
        self.batch().fetch_stream_ordered(reqs)
    }

    /// Fetches one request and hands the response over when its head
    /// arrives, its body unread: a [`StreamingResponse`], read chunk by
    /// chunk as the server sends it (as reqwest's `Response` is). Through
    /// the same limits, timeout and retries as a batch; the body holds
    /// the request's permits until it ends or is dropped (see
    /// [`fetch_stream_bodies`](Self::fetch_stream_bodies)).
    ///
    /// ```
    /// # async fn run() -> Result<(), batch_fetch::Error> {
    /// let client = batch_fetch::BatchClient::new();
    /// let mut resp = client.fetch_streaming("http://127.0.0.1:1/large").await?;
    /// while let Some(chunk) = resp.chunk().await? {
    ///     println!("{} bytes", chunk.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`fetch`](Self::fetch), up to the response head; the body's
    /// own failures come from reading it.
    pub async fn fetch_streaming(&self, req: impl IntoRequest) -> Result<StreamingResponse, Error> {
        self.fetch(streaming::one(req))
            .await
            .map(|res| StreamingResponse::from_response(res, None))
    }

    /// Like [`fetch_stream`](Self::fetch_stream), but yields each response
    /// as soon as its head arrives, its body unread: a
    /// [`StreamingResponse`] whose body the caller reads chunk by chunk,
    /// so that no body is held in memory whole (large files, long
    /// responses). Results come in completion order (of the heads), one
    /// per input.
    ///
    /// - **Concurrency**: an input counts against
    ///   [`concurrency`](crate::BatchClientBuilder::concurrency) in the
    ///   stream until its head arrives, as in `fetch_stream`; but its
    ///   permits (the client's, and its host's under
    ///   [`per_host_concurrency`](crate::BatchClientBuilder::per_host_concurrency))
    ///   and its connection are held until its body ends or its
    ///   `StreamingResponse` is dropped. A consumer that sits on bodies
    ///   therefore slows the batch down rather than letting connections
    ///   pile up: at most `concurrency` bodies are open at once, and the
    ///   next input waits for one of them. Read or drop each body before
    ///   asking for many more responses: a consumer that collects the
    ///   whole stream before reading any body waits forever once
    ///   `concurrency` bodies are held (or until the batch's deadline).
    /// - **Timeout and limits**: each body is bound by its attempt's
    ///   [`timeout`](crate::BatchClientBuilder::timeout), counted from the
    ///   attempt's start, by the
    ///   [`read_timeout`](crate::BatchClientBuilder::read_timeout) if set,
    ///   and by
    ///   [`max_body_size`](crate::BatchClientBuilder::max_body_size) in
    ///   decoded bytes (see [`StreamingResponse`]).
    /// - **Retries and redirects** apply up to the head, as for every
    ///   request: a `503` is retried, a redirect followed, and only the
    ///   final answer is handed over. A failure in a body is its reader's
    ///   error, never retried.
    /// - Only a `2xx` body streams; any other is read whole first, within
    ///   `max_body_size` (see [`StreamingResponse`]).
    /// - The batch's deadline and cancellation stop the inputs whose head
    ///   has not arrived; a body already handed over is the caller's.
    ///   Progress, stats and the observer count a response done when its
    ///   head arrives, without its body's bytes, and do not see a failure
    ///   in its body; the progress counts it in flight too, until its
    ///   body ends.
    /// - [`layer`](crate::BatchClientBuilder::layer)s of the caller's see
    ///   a `2xx` answer with an empty body: the body streams past them,
    ///   to the `StreamingResponse`.
    ///
    /// ```
    /// # async fn run() {
    /// use futures_util::StreamExt;
    ///
    /// let client = batch_fetch::BatchClient::new();
    /// let urls = (0..3).map(|i| format!("http://127.0.0.1:1/file/{i}"));
    /// let mut responses = client.fetch_stream_bodies(urls);
    /// while let Some((index, result)) = responses.next().await {
    ///     let Ok(mut resp) = result else { continue };
    ///     let mut len = 0;
    ///     while let Ok(Some(chunk)) = resp.chunk().await {
    ///         len += chunk.len();
    ///     }
    ///     println!("input {index}: {len} bytes");
    /// }
    /// # }
    /// ```
    pub fn fetch_stream_bodies<I>(
        &self,
        reqs: I,
    ) -> impl Stream<Item = (usize, Result<StreamingResponse, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        self.batch().fetch_stream_bodies(reqs)
    }

    /// Downloads one request's body to the file `path`, through the same
    /// limits, timeout and retries as a batch; see
    /// [`download_all`](Self::download_all).
    ///
    /// # Errors
    ///
    /// As for [`download_all`](Self::download_all).
    pub async fn download(
        &self,
        req: impl IntoRequest,
        path: impl Into<PathBuf>,
    ) -> Result<Download, Error> {
        self.fetch(download::one(req, path))
            .await
            .map(Download::from_response)
    }

    /// Downloads every `(request, path)` pair, each body streamed to its
    /// file rather than held in memory, and returns the downloads in input
    /// order, or the first error (fail-fast, as
    /// [`fetch_all`](Self::fetch_all)).
    ///
    /// Each body is written to `<path>.part` beside its path and renamed
    /// onto the path once whole, so a file at the path is always complete
    /// (an existing one is replaced at that moment). A download that
    /// fails, or is cancelled or dropped, leaves no `.part` file.
    ///
    /// - Only a `2xx` answer is written. Any other final answer (after the
    ///   retry policy and the redirects) is an error of kind
    ///   [`Status`](crate::ErrorKind::Status): a file holding an error
    ///   page would pass for the file.
    /// - A body cut off mid-way is retried by the client's retry policy
    ///   (for `GET` and the other methods it repeats). If the server said
    ///   `Accept-Ranges: bytes` with a strong `ETag` (or a
    ///   `Last-Modified`) and a `Content-Length`, as file servers do, the
    ///   next attempt asks for the rest only, with
    ///   `Range` and `If-Range`: a `206` whose `Content-Range` runs from
    ///   where the file ends to the end, with that many bytes, is appended
    ///   ([`Download::resumed`]); a `200` (the
    ///   file changed on the server) starts the file over, so two versions
    ///   are never spliced; a `206` for other bytes is refused and the next
    ///   attempt starts over. Without a validator, retries start over.
    /// - Each attempt has the client's [`timeout`](crate::BatchClientBuilder::timeout)
    ///   up to the response head only; the body may then take as long as
    ///   it needs while its bytes keep coming: a body silent for the
    ///   [`read_timeout`](crate::BatchClientBuilder::read_timeout) (by
    ///   default the attempt timeout) fails its attempt, and the next one
    ///   resumes like after a cut.
    /// - A body the server compressed (`Content-Encoding`) is stored
    ///   decoded, as [`Response::body`] holds it: the file is the resource
    ///   itself, whatever the server chose to send on the wire. A body sent
    ///   with a `Content-Encoding` is never resumed (ranges count the bytes
    ///   as sent, and a resume asks for the body unencoded), so its retries
    ///   start over. A client built with
    ///   [`decompress(false)`](crate::BatchClientBuilder::decompress)
    ///   stores the raw bytes (and restarts them too).
    /// - [`max_download_size`](crate::BatchClientBuilder::max_download_size)
    ///   bounds a file (unlimited by default);
    ///   [`max_body_size`](crate::BatchClientBuilder::max_body_size) does
    ///   not apply.
    /// - A file that cannot be written (a missing directory, no space, no
    ///   permission) is that input's error, of kind
    ///   [`File`](crate::ErrorKind::File), naming the path; the rest of the
    ///   batch goes on. Two inputs of one batch (or of one process) with
    ///   the same path: the second is such an error while the first runs.
    ///
    /// The disk is written by a few threads of the crate's own (not
    /// tokio's runtime): the task that drives the batch never waits for
    /// it.
    ///
    /// # Errors
    ///
    /// The first error, with [`Error::index()`] naming its input.
    pub async fn download_all<I: IntoDownloads>(&self, items: I) -> Result<Vec<Download>, Error> {
        self.batch().download_all(items).await
    }

    /// Like [`download_all`](Self::download_all), with exactly one result
    /// per input, in input order, whatever fails.
    pub async fn download_all_settled<I: IntoDownloads>(
        &self,
        items: I,
    ) -> Vec<Result<Download, Error>> {
        self.batch().download_all_settled(items).await
    }

    /// Like [`download_all`](Self::download_all), yielding `(index,
    /// result)` as each download completes, as
    /// [`fetch_stream`](Self::fetch_stream) does.
    pub fn download_stream<I>(
        &self,
        items: I,
    ) -> impl Stream<Item = (usize, Result<Download, Error>)> + Send + 'static + use<I>
    where
        I: IntoDownloads,
        <I::Inputs as IntoInputs>::Stream: Send + 'static,
        <I::Inputs as IntoInputs>::Item: Send,
    {
        self.batch().download_stream(items)
    }

    /// Like [`download_stream`](Self::download_stream), but yields the
    /// results in input order, as
    /// [`fetch_stream_ordered`](Self::fetch_stream_ordered) does.
    pub fn download_stream_ordered<I>(
        &self,
        items: I,
    ) -> impl Stream<Item = (usize, Result<Download, Error>)> + Send + 'static + use<I>
    where
        I: IntoDownloads,
        <I::Inputs as IntoInputs>::Stream: Send + 'static,
        <I::Inputs as IntoInputs>::Item: Send,
    {
        self.batch().download_stream_ordered(items)
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
