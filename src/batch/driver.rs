//! The engine under every batch entry point: pulls inputs as capacity
//! frees up, keeps the requests running on the caller's task, and yields
//! each result, with its input's index, as it completes, until the input
//! ends or the batch is stopped (deadline or cancellation).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::stream::{Fuse, FuturesUnordered, StreamExt};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::admission::Admission;
use crate::error::{Error, Stopped};
use crate::observe::BatchState;
use crate::observe::RequestRecord;
use crate::request::IntoRequest;
use crate::response::Response;

/// Requests parked (waiting out a backoff, a rate slot or a busy host) do
/// not count against the concurrency, so a batch may hold more request
/// futures than that. This bounds how many more, so a batch that is mostly
/// one slow host does not pull its whole input into memory.
const MAX_PARKED: usize = 1024;

/// Inputs started in one poll before the driver yields to the runtime.
///
/// Starting a whole concurrency's worth at once (10,000 in a cold batch)
/// parks every request in hyper-util's pool as a waiter for an idle
/// connection before any connection exists; each connect that then wins
/// its race drops its request's checkout, and hyper-util scans the whole
/// waiter list for the origin to clean it (`clean_waiters`): quadratic in
/// the burst. Yielding between chunks lets connections complete as
/// requests start, so the list stays short. At 10,000 cold connections:
/// CPU per request 105 → 73 µs, wall 3.28 → 2.76 s (ideal 2.0 s), peak
/// RSS 302 → 273 MiB. (That pool is gone since; the chunks, which cost a
/// yield per 64 inputs, were kept without being measured again.)
const START_CHUNK: usize = 64;

pub(crate) type Outcome = (usize, Result<Response, Error>);

/// A request the driver started: its future, and its record (to say what
/// it was and how long it ran, should the batch be stopped under it).
pub(crate) struct Started<F> {
    pub(crate) future: F,
    pub(crate) record: Option<RequestRecord>,
}

/// Starts one input: what the driver calls to turn an input into a
/// running request. Any `FnMut(index, input, admission) -> Started<_>`.
pub(crate) trait Start<Item> {
    type Future: Future<Output = Result<Response, Error>>;

    fn start(&mut self, index: usize, input: Item, admission: Admission) -> Started<Self::Future>;
}

impl<Item, M, F> Start<Item> for M
where
    M: FnMut(usize, Item, Admission) -> Started<F>,
    F: Future<Output = Result<Response, Error>>,
{
    type Future = F;

    fn start(&mut self, index: usize, input: Item, admission: Admission) -> Started<F> {
        self(index, input, admission)
    }
}

/// When a batch stops early.
pub(crate) struct StopWhen {
    pub(crate) deadline: Option<Duration>,
    pub(crate) cancel: CancellationToken,
    /// On stopping, give every input still in the input (as far as it is
    /// ready) its `Cancelled` result too, so each input gets one result.
    pub(crate) drain: bool,
}

/// How long a stopped batch gives the requests under way to say they are
/// done before it drops them. A request whose response has come (the
/// consumer polled late) is done, and its result stands; but its body may
/// still sit in its connection's task, which reads it only once asked, on
/// a thread of its own. A request waiting for the server is not waited
/// for beyond this.
const SETTLING: Duration = Duration::from_millis(50);

pin_project! {
    /// A running batch, as a stream of `(index, result)` in completion
    /// order. No task is spawned per request: the request futures live in a
    /// `FuturesUnordered` polled by whoever polls this stream (hyper's
    /// connection tasks do the I/O), and dropping it cancels all of them.
    pub(crate) struct Driver<S, M>
    where
        S: Stream,
        M: Start<S::Item>,
    {
        #[pin]
        inputs: Fuse<S>,
        running: FuturesUnordered<Indexed<M::Future>>,
        start: M,
        admission: Admission,
        state: Arc<BatchState>,
        next_index: usize,
        concurrency: usize,
        max_futures: usize,
        // Inputs started but whose result was not yet taken by the consumer
        // may not exceed this (the ordered stream's window).
        window: usize,
        unfinished: usize,
        stop_when: StopWhen,
        // Armed on the first poll.
        deadline: Option<Pin<Box<Sleep>>>,
        cancelled: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
        // Once stopped: why, the time left for requests that are done to
        // say so, and the dropped ones still to report.
        stopped: Option<Stopped>,
        settling: Option<Pin<Box<Sleep>>>,
        dropped: VecDeque<(usize, Option<RequestRecord>)>,
    }
}

impl<S, M> Driver<S, M>
where
    S: Stream,
    S::Item: IntoRequest,
    M: Start<S::Item>,
{
    pub(crate) fn new(
        inputs: S,
        concurrency: usize,
        state: Arc<BatchState>,
        stop_when: StopWhen,
        start: M,
    ) -> Self {
        Driver {
            inputs: inputs.fuse(),
            running: FuturesUnordered::new(),
            start,
            admission: Admission::new(),
            state,
            next_index: 0,
            concurrency,
            max_futures: concurrency.saturating_add(concurrency.max(MAX_PARKED)),
            window: usize::MAX,
            unfinished: 0,
            stop_when,
            deadline: None,
            cancelled: None,
            stopped: None,
            settling: None,
            dropped: VecDeque::new(),
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

    /// The least number of inputs still to come, as the input says.
    pub(crate) fn input_size_hint(&self) -> usize {
        self.inputs.size_hint().0
    }

    /// How many inputs were started so far.
    pub(crate) fn started(&self) -> usize {
        self.next_index
    }
}

impl<S, M> Stream for Driver<S, M>
where
    S: Stream,
    S::Item: IntoRequest,
    M: Start<S::Item>,
{
    type Item = Outcome;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        if self.stopped.is_none()
            && let Some(why) = self.as_mut().poll_stop(cx)
        {
            self.as_mut().stop(why);
        }
        if let Some(why) = self.stopped {
            return self.poll_stopped(why, cx);
        }
        let mut this = self.project();
        loop {
            // Start inputs while fewer than `concurrency` are running.
            let mut input_pending = false;
            let room = |running: &FuturesUnordered<Indexed<M::Future>>, unfinished: usize| {
                this.admission.running() < *this.concurrency
                    && running.len() < *this.max_futures
                    && unfinished < *this.window
            };
            let mut started_now = 0;
            let mut yielding = false;
            while room(this.running, *this.unfinished) {
                if started_now == START_CHUNK {
                    // Let the runtime run (connections complete, the pool
                    // settles) before starting more; see START_CHUNK.
                    cx.waker().wake_by_ref();
                    yielding = true;
                    break;
                }
                started_now += 1;
                match this.inputs.as_mut().poll_next(cx) {
                    Poll::Ready(Some(input)) => {
                        let index = *this.next_index;
                        *this.next_index += 1;
                        *this.unfinished += 1;
                        this.admission.enter();
                        this.state.pulled();
                        let started = this.start.start(index, input, this.admission.clone());
                        this.running.push(Indexed {
                            index,
                            record: started.record,
                            future: started.future,
                        });
                    }
                    Poll::Ready(None) => break,
                    Poll::Pending => {
                        input_pending = true;
                        break;
                    }
                }
            }
            match this.running.poll_next_unpin(cx) {
                Poll::Ready(Some((index, result))) => {
                    this.admission.leave();
                    this.state.finish(index, &result);
                    return Poll::Ready(Some((index, result)));
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
                    if yielding
                        || input_pending
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

impl<S, M> Driver<S, M>
where
    S: Stream,
    S::Item: IntoRequest,
    M: Start<S::Item>,
{
    /// Arms the deadline and the cancellation on the first poll, then says
    /// whether either has fired.
    fn poll_stop(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Option<Stopped> {
        let this = self.project();
        if this.cancelled.is_none() {
            this.state.begin();
            *this.cancelled = Some(Box::pin(this.stop_when.cancel.clone().cancelled_owned()));
            *this.deadline = this
                .stop_when
                .deadline
                .map(|after| Box::pin(tokio::time::sleep(after)));
        }
        if let Some(cancelled) = this.cancelled
            && cancelled.as_mut().poll(cx).is_ready()
        {
            return Some(Stopped::Cancelled);
        }
        if let (Some(sleep), Some(after)) = (this.deadline, this.stop_when.deadline)
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Some(Stopped::Deadline(after));
        }
        None
    }

    /// Stops starting inputs; what is under way settles (see
    /// [`SETTLING`]), then is dropped.
    fn stop(self: Pin<&mut Self>, why: Stopped) {
        let this = self.project();
        *this.stopped = Some(why);
        if !this.running.is_empty() {
            *this.settling = Some(Box::pin(tokio::time::sleep(SETTLING)));
        }
        *this.deadline = None;
    }

    /// Drops every request still under way; each will be reported
    /// `Cancelled`, in input order.
    fn drop_running(self: Pin<&mut Self>) {
        let this = self.project();
        let mut dropped: Vec<(usize, Option<RequestRecord>)> = Pin::new(&*this.running)
            .iter_pin_ref()
            .map(|request| {
                let request = request.project_ref();
                (*request.index, request.record.clone())
            })
            .collect();
        dropped.sort_unstable_by_key(|(index, _)| *index);
        this.running.clear();
        this.dropped.extend(dropped);
    }

    /// After a stop: the requests that turn out to be done, then the
    /// dropped ones and (when draining) the inputs never started, each
    /// with its `Cancelled` error.
    fn poll_stopped(
        mut self: Pin<&mut Self>,
        why: Stopped,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Outcome>> {
        if self.settling.is_some() {
            let this = self.as_mut().project();
            match this.running.poll_next_unpin(cx) {
                Poll::Ready(Some(outcome)) => {
                    this.admission.leave();
                    this.state.finish(outcome.0, &outcome.1);
                    return Poll::Ready(Some(outcome));
                }
                Poll::Ready(None) => {}
                Poll::Pending => {
                    let settled = this
                        .settling
                        .as_mut()
                        .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                    if !settled {
                        return Poll::Pending;
                    }
                }
            }
            *this.settling = None;
            self.as_mut().drop_running();
        }
        let this = self.project();
        let outcome = if let Some((index, record)) = this.dropped.pop_front() {
            let mut err = Error::cancelled(why).with_index(Some(index));
            if let Some(record) = record {
                err = err
                    .with_url(record.url().clone())
                    .with_timings(record.timings());
            }
            (index, Err(err))
        } else if this.stop_when.drain {
            // An input that is not ready now is not waited for: the batch
            // is over.
            let Poll::Ready(Some(input)) = this.inputs.poll_next(cx) else {
                return Poll::Ready(None);
            };
            let index = *this.next_index;
            *this.next_index += 1;
            this.state.pulled();
            let mut err = Error::cancelled(why).with_index(Some(index));
            if let Ok(req) = input.into_request() {
                err = err.with_url(req.uri().clone());
            }
            (index, Err(err))
        } else {
            return Poll::Ready(None);
        };
        this.state.finish(outcome.0, &outcome.1);
        Poll::Ready(Some(outcome))
    }
}

pin_project! {
    /// A request future that knows its input.
    struct Indexed<F> {
        index: usize,
        record: Option<RequestRecord>,
        #[pin]
        future: F,
    }
}

impl<F> Future for Indexed<F>
where
    F: Future<Output = Result<Response, Error>>,
{
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.project();
        this.future.poll(cx).map(|result| (*this.index, result))
    }
}
