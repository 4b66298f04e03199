//! [`Batch`]: one batch's own settings (deadline, cancellation, observer),
//! and what it tells while and after it runs (progress, stats).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::BatchClient;
use super::exec::InBatch;
use crate::batch::{self, Driver, Mode, Results, Start, StopWhen};
use crate::download::{Download, IntoDownloads};
use crate::error::Error;
use crate::inputs::IntoInputs;
use crate::observe::BatchState;
use crate::observe::{BatchStats, Observer, Progress};
use crate::response::Response;
use crate::streaming::{self, StreamingResponse};

/// A batch with settings of its own, and a handle to watch or stop it.
///
/// Made by [`BatchClient::batch()`]; runs with the same entry points as
/// the client (`fetch_all`, `fetch_all_settled`, `fetch_stream`,
/// `fetch_stream_ordered`, `fetch_stream_bodies`, and the `download`
/// ones). Cheap to clone: clones share the progress, the stats and the
/// cancellation, so one clone can run the batch while another shows its
/// progress or cancels it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use batch_fetch::{BatchClient, ErrorKind};
///
/// let client = BatchClient::new();
/// let batch = client.batch().deadline(Duration::from_millis(50));
///
/// // Show the progress from another task while the batch runs.
/// let watcher = batch.clone();
/// let ticker = tokio::spawn(async move {
///     loop {
///         tokio::time::sleep(Duration::from_millis(10)).await;
///         eprintln!("{}", watcher.progress());
///     }
/// });
///
/// let urls = ["http://127.0.0.1:1/", "http://127.0.0.1:1/again"];
/// let results = batch.fetch_all_settled(urls).await;
/// ticker.abort();
/// assert_eq!(results.len(), 2);
/// assert_eq!(batch.stats().count(), 2);
/// # }
/// ```
///
/// A `Batch` may run several fetches, one after the other or at once:
/// its progress and stats then add them all up.
#[derive(Clone)]
#[must_use]
pub struct Batch {
    client: BatchClient,
    deadline: Option<Duration>,
    cancel: CancellationToken,
    state: Arc<BatchState>,
}

impl Batch {
    pub(crate) fn new(client: BatchClient, deadline: Option<Duration>) -> Self {
        Batch {
            client,
            deadline,
            cancel: CancellationToken::new(),
            state: Arc::new(BatchState::new(None)),
        }
    }

    /// Stops each fetch of this batch `deadline` after it starts (its first
    /// poll). Requests under way are dropped (but for those whose response
    /// is in, as [`cancel()`](Self::cancel) says) and every unfinished
    /// input gets an error of kind
    /// [`Cancelled`](crate::ErrorKind::Cancelled) (see
    /// [`cancel()`](Self::cancel) for what each entry point returns).
    ///
    /// Overrides the client's
    /// [`batch_deadline`](crate::BatchClientBuilder::batch_deadline).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Runs without a deadline, whatever the client's
    /// [`batch_deadline`](crate::BatchClientBuilder::batch_deadline).
    pub fn no_deadline(mut self) -> Self {
        self.deadline = None;
        self
    }

    /// Cancels this batch when `token` is cancelled: an application's
    /// shutdown token, say. (Cancelling the batch itself does not cancel
    /// `token`.)
    pub fn cancel_on(mut self, token: &CancellationToken) -> Self {
        self.cancel = token.child_token();
        self
    }

    /// Tells `observer` of every start, retry, completion and failure.
    ///
    /// Set it before running the batch: a new observer comes with fresh
    /// progress and stats.
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.state = Arc::new(BatchState::new(Some(Arc::new(observer))));
        self
    }

    /// Stops the batch now, from any task or thread. Inputs not started
    /// are not sent; requests under way are dropped (their connections
    /// closed), except those whose response turns out to be in already:
    /// they are given a moment (50 ms at most) to be read, and their
    /// results stand.
    ///
    /// - `fetch_all_settled` returns at once (after that moment at most),
    ///   with an error of kind [`Cancelled`](crate::ErrorKind::Cancelled)
    ///   for every unfinished input (inputs of a [`from_stream`](crate::from_stream) input that
    ///   are not ready yet are not waited for);
    /// - `fetch_all` returns a `Cancelled` error;
    /// - the streams yield a `Cancelled` error for each request that was
    ///   under way, then end.
    ///
    /// A cancelled batch stays cancelled: a later fetch on it stops at its
    /// first poll.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether [`cancel()`](Self::cancel) was called (or the token given to
    /// [`cancel_on`](Self::cancel_on) was cancelled).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A snapshot of how far the batch has got. Cheap: a few atomic loads.
    pub fn progress(&self) -> Progress {
        self.state.progress()
    }

    /// Counts, throughput and latency percentiles of the results so far.
    pub fn stats(&self) -> BatchStats {
        self.state.stats()
    }

    /// Like [`BatchClient::fetch_all`], with this batch's settings.
    ///
    /// # Errors
    ///
    /// The first error, with [`Error::index()`] naming its input.
    pub async fn fetch_all<I: IntoInputs>(&self, reqs: I) -> Result<Vec<Response>, Error> {
        batch::gather(self.driver(reqs, false), Mode::FailFast)
            .await?
            .into_iter()
            .collect()
    }

    /// Like [`BatchClient::fetch_all_settled`], with this batch's settings.
    pub async fn fetch_all_settled<I: IntoInputs>(&self, reqs: I) -> Vec<Result<Response, Error>> {
        match batch::gather(self.driver(reqs, true), Mode::Settled).await {
            Ok(results) => results,
            // Only a fail-fast batch stops at an error.
            Err(err) => vec![Err(err)],
        }
    }

    /// Like [`BatchClient::fetch_stream`], with this batch's settings.
    pub fn fetch_stream<I>(
        &self,
        reqs: I,
    ) -> impl Stream<Item = (usize, Result<Response, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        Results::new(self.driver(reqs, false), false)
    }

    /// Like [`BatchClient::fetch_stream_ordered`], with this batch's
    /// settings.
    pub fn fetch_stream_ordered<I>(
        &self,
        reqs: I,
    ) -> impl Stream<Item = (usize, Result<Response, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        Results::new(self.driver(reqs, false), true)
    }

    /// Like [`BatchClient::fetch_stream_bodies`], with this batch's
    /// settings.
    pub fn fetch_stream_bodies<I>(
        &self,
        reqs: I,
    ) -> impl Stream<Item = (usize, Result<StreamingResponse, Error>)> + Send + 'static + use<I>
    where
        I: IntoInputs,
        I::Stream: Send + 'static,
        I::Item: Send,
    {
        self.fetch_stream(streaming::inputs(reqs))
            .map(|(index, result)| {
                let res = result.map(|res| StreamingResponse::from_response(res, Some(index)));
                (index, res)
            })
    }

    /// Like [`BatchClient::download_all`], with this batch's settings.
    ///
    /// # Errors
    ///
    /// The first error, with [`Error::index()`] naming its input.
    pub async fn download_all<I: IntoDownloads>(&self, items: I) -> Result<Vec<Download>, Error> {
        let responses = self.fetch_all(items.into_inputs()).await?;
        Ok(responses.into_iter().map(Download::from_response).collect())
    }

    /// Like [`BatchClient::download_all_settled`], with this batch's
    /// settings.
    pub async fn download_all_settled<I: IntoDownloads>(
        &self,
        items: I,
    ) -> Vec<Result<Download, Error>> {
        let results = self.fetch_all_settled(items.into_inputs()).await;
        results
            .into_iter()
            .map(|result| result.map(Download::from_response))
            .collect()
    }

    /// Like [`BatchClient::download_stream`], with this batch's settings.
    pub fn download_stream<I>(
        &self,
        items: I,
    ) -> impl Stream<Item = (usize, Result<Download, Error>)> + Send + 'static + use<I>
    where
        I: IntoDownloads,
        <I::Inputs as IntoInputs>::Stream: Send + 'static,
        <I::Inputs as IntoInputs>::Item: Send,
    {
        self.fetch_stream(items.into_inputs()).map(downloaded)
    }

    /// Like [`BatchClient::download_stream_ordered`], with this batch's
    /// settings.
    pub fn download_stream_ordered<I>(
        &self,
        items: I,
    ) -> impl Stream<Item = (usize, Result<Download, Error>)> + Send + 'static + use<I>
    where
        I: IntoDownloads,
        <I::Inputs as IntoInputs>::Stream: Send + 'static,
        <I::Inputs as IntoInputs>::Item: Send,
    {
        self.fetch_stream_ordered(items.into_inputs())
            .map(downloaded)
    }

    /// A driver over `reqs` whose request futures own all they need, so
    /// it can outlive this borrow (the streams are `'static`).
    fn driver<I: IntoInputs>(
        &self,
        reqs: I,
        drain: bool,
    ) -> Driver<I::Stream, impl Start<I::Item, Future: Send + 'static> + Send + 'static + use<I>>
    {
        let client = self.client.clone();
        let state = self.state.clone();
        Driver::new(
            reqs.into_stream(),
            client.concurrency(),
            self.state.clone(),
            StopWhen {
                deadline: self.deadline,
                cancel: self.cancel.clone(),
                drain,
            },
            move |index, input, admission| {
                let batch = InBatch {
                    index,
                    admission,
                    state: state.clone(),
                };
                client.exec(client.prepare(input), Some(batch))
            },
        )
    }
}

/// A download's outcome, from the stream of its batch.
fn downloaded(
    (index, result): (usize, Result<Response, Error>),
) -> (usize, Result<Download, Error>) {
    (index, result.map(Download::from_response))
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("deadline", &self.deadline)
            .field("cancelled", &self.is_cancelled())
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}
