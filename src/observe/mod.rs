//! Watching a batch: events as they happen ([`Observer`]), a live
//! [`Progress`] snapshot, each request's [`Timings`], and a [`BatchStats`]
//! summary at the end.

mod batch_state;
mod progress;
mod request_record;
mod stats;

pub use crate::timings::Timings;
pub use progress::Progress;
pub use stats::BatchStats;

pub(crate) use batch_state::BatchState;
pub(crate) use progress::Counters;
pub(crate) use request_record::{AttemptGuard, RequestRecord};

use std::time::Duration;

use http::{StatusCode, Uri};

use crate::error::{Error, ErrorKind};
use crate::response::Response;

/// Something that happened to one input of a batch, as told to an
/// [`Observer`].
///
/// New events may be added in minor releases, so matches need a wildcard
/// arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A request got its rate-limit slots and concurrency permits and is
    /// being sent. `attempt` is 1 for the first request sent for this
    /// input and counts up with each retry, redirect hop and redispatch.
    Started {
        /// The input's position in the batch.
        index: usize,
        /// The URL being requested (a redirect hop's own URL).
        url: &'a Uri,
        /// Which request this is for the input, from 1.
        attempt: u32,
    },
    /// An attempt failed in a way the retry policy repeats; the next one
    /// starts after `delay`.
    Retrying {
        /// The input's position in the batch.
        index: usize,
        /// The URL that will be requested again.
        url: &'a Uri,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// The wait before the next attempt (backoff, or `Retry-After`).
        delay: Duration,
        /// The status that is retried (`429`, `503`, ...), if a response
        /// came back.
        status: Option<StatusCode>,
        /// What went wrong, if no response came back.
        error: Option<ErrorKind>,
    },
    /// The server did not process a request (an HTTP/2 stream it refused
    /// or cut off with a GOAWAY, a connection that closed before the
    /// request went out, or, for a method that may be repeated, a
    /// keep-alive connection it closed as the request arrived), which is
    /// sent again at once on another connection. Not a retry: no backoff,
    /// nothing drawn from the retry budget, and not counted in
    /// [`Response::attempts`](crate::Response::attempts).
    Redispatched {
        /// The input's position in the batch.
        index: usize,
        /// The URL sent again.
        url: &'a Uri,
        /// The request that was not processed (as in
        /// [`Event::Started`]), from 1.
        attempt: u32,
        /// What came back instead of a response.
        error: ErrorKind,
    },
    /// An input finished with a response (of any status).
    Completed {
        /// The input's position in the batch.
        index: usize,
        /// The response, body read.
        response: &'a Response,
    },
    /// An input finished with an error, cancellation included.
    Failed {
        /// The input's position in the batch.
        index: usize,
        /// Why.
        error: &'a Error,
    },
}

/// Told of every [`Event`] of a batch.
///
/// Any `Fn(&Event<'_>) + Send + Sync + 'static` closure is an observer.
/// Observers are called on the task that drives the batch, in the middle
/// of its work: keep them short (count, log, send on a channel), and do
/// not block.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use batch_fetch::{BatchClient, Event};
///
/// let retries = Arc::new(AtomicUsize::new(0));
/// let seen = retries.clone();
/// let batch = BatchClient::new().batch().observer(move |event: &Event<'_>| {
///     if let Event::Retrying { .. } = event {
///         seen.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// # drop(batch);
/// ```
pub trait Observer: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &Event<'_>);
}

impl<F> Observer for F
where
    F: Fn(&Event<'_>) + Send + Sync + 'static,
{
    fn on_event(&self, event: &Event<'_>) {
        self(event)
    }
}
