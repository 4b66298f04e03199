//! The engine under every batch entry point: pulls inputs as capacity
//! frees up, keeps the requests running on the caller's task, and yields
//! each result, with its input's index, as it completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{Fuse, FuturesUnordered, StreamExt};
use pin_project_lite::pin_project;

use crate::admission::Admission;
use crate::error::Error;
use crate::response::Response;

/// Requests parked (waiting out a backoff or for a busy host) do not count
/// against the concurrency, so a batch may hold more request futures than
/// that. This bounds how many more, so a batch that is mostly one slow host
/// does not pull its whole input into memory.
const MAX_PARKED: usize = 1024;

pub(crate) type Outcome = (usize, Result<Response, Error>);

pin_project! {
    /// A running batch, as a stream of `(index, result)` in completion
    /// order. No task is spawned per request: the request futures live in a
    /// `FuturesUnordered` polled by whoever polls this stream (hyper's
    /// connection tasks do the I/O), and dropping it cancels all of them.
    pub(crate) struct Driver<S, F, M> {
        #[pin]
        inputs: Fuse<S>,
        running: FuturesUnordered<F>,
        start: M,
        admission: Admission,
        next_index: usize,
        concurrency: usize,
        max_futures: usize,
        // Inputs started but whose result was not yet taken by the consumer
        // may not exceed this (the ordered stream's window).
        window: usize,
        unfinished: usize,
    }
}

impl<S, F, M> Driver<S, F, M>
where
    S: Stream,
    F: Future<Output = Outcome>,
    M: FnMut(usize, S::Item, Admission) -> F,
{
    pub(crate) fn new(inputs: S, concurrency: usize, start: M) -> Self {
        Driver {
            inputs: inputs.fuse(),
            running: FuturesUnordered::new(),
            start,
            admission: Admission::new(),
            next_index: 0,
            concurrency,
            max_futures: concurrency.saturating_add(concurrency.max(MAX_PARKED)),
            window: usize::MAX,
            unfinished: 0,
        }
    }

    /// Starts no input while `window` started ones are not yet released.
    pub(crate) fn with_window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// The consumer let go of one result (see `with_window`).
    pub(crate) fn release(self: Pin<&mut Self>) {
        let this = self.project();
        *this.unfinished = this.unfinished.saturating_sub(1);
    }

    pub(crate) fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// How many inputs were started so far.
    pub(crate) fn started(&self) -> usize {
        self.next_index
    }
}

impl<S, F, M> Stream for Driver<S, F, M>
where
    S: Stream,
    F: Future<Output = Outcome>,
    M: FnMut(usize, S::Item, Admission) -> F,
{
    type Item = Outcome;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        let mut this = self.project();
        loop {
            // Start inputs while fewer than `concurrency` are running.
            let mut input_pending = false;
            let room = |running: &FuturesUnordered<F>, unfinished: usize| {
                this.admission.running() < *this.concurrency
                    && running.len() < *this.max_futures
                    && unfinished < *this.window
            };
            while room(this.running, *this.unfinished) {
                match this.inputs.as_mut().poll_next(cx) {
                    Poll::Ready(Some(input)) => {
                        let index = *this.next_index;
                        *this.next_index += 1;
                        *this.unfinished += 1;
                        this.admission.enter();
                        let fut = (this.start)(index, input, this.admission.clone());
                        this.running.push(fut);
                    }
                    Poll::Ready(None) => break,
                    Poll::Pending => {
                        input_pending = true;
                        break;
                    }
                }
            }
            match this.running.poll_next_unpin(cx) {
                Poll::Ready(Some(outcome)) => {
                    this.admission.leave();
                    return Poll::Ready(Some(outcome));
                }
                Poll::Ready(None) if this.inputs.is_done() => return Poll::Ready(None),
                // Nothing running: either the input will wake us, or the
                // window is full until the consumer releases a result.
                Poll::Ready(None) => {
                    if input_pending || *this.unfinished >= *this.window {
                        return Poll::Pending;
                    }
                }
                Poll::Pending => {
                    // A request that parked while being polled made room.
                    if input_pending
                        || this.inputs.is_done()
                        || !room(this.running, *this.unfinished)
                    {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}
