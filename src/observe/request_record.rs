//! The record each request carries through the stack, beside its body
//! (see `layers::Payload`): which input it is, the batch it belongs to, the
//! timing of its attempts and how many the last redirect hop took.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::{StatusCode, Uri};

use super::BatchState;
use super::{Event, Timings};
use crate::admission::{Admission, Parked};
use crate::error::ErrorKind;

/// Cheap to clone: the attempt loop copies the request (and so this) for
/// each hop and attempt, and every copy must update the same record.
#[derive(Clone, Debug)]
pub(crate) struct RequestRecord {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    index: Option<usize>,
    url: Uri,
    admission: Option<Admission>,
    batch: Option<Arc<BatchState>>,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sent: u32,
    /// Attempts of the last redirect hop that ended (0: not counted, which
    /// means one).
    hop_attempts: u32,
    queued: Duration,
    connect: Duration,
    ttfb: Duration,
    body: Duration,
    /// The peer of the attempt under way (or the last one).
    remote: Option<SocketAddr>,
}

impl RequestRecord {
    pub(crate) fn new(
        index: Option<usize>,
        url: Uri,
        admission: Option<Admission>,
        batch: Option<Arc<BatchState>>,
        started: Instant,
    ) -> Self {
        RequestRecord {
            inner: Arc::new(Inner {
                index,
                url,
                admission,
                batch,
                started,
                state: Mutex::default(),
            }),
        }
    }

    /// The input's URL (its first, before any redirect).
    pub(crate) fn url(&self) -> &Uri {
        &self.inner.url
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Only plain numbers are behind the lock: a panic elsewhere cannot
        // leave them torn.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops counting the request as running in its batch while it waits
    /// (for a backoff, a rate slot or a busy host).
    pub(crate) fn park(&self) -> Option<Parked> {
        self.inner.admission.as_ref().map(Admission::park)
    }

    /// An attempt that arrived at the limits at `arrived` got through them
    /// and is being sent now. In flight until the guard drops.
    pub(crate) fn sending(&self, url: &Uri, arrived: Instant) -> AttemptGuard {
        let attempt = {
            let mut state = self.state();
            state.sent += 1;
            state.queued += arrived.elapsed();
            state.connect = Duration::ZERO;
            state.ttfb = Duration::ZERO;
            state.body = Duration::ZERO;
            state.remote = None;
            state.sent
        };
        if let Some(batch) = &self.inner.batch {
            batch.counters().sending();
            if let (Some(observer), Some(index)) = (batch.observer(), self.inner.index) {
                observer.on_event(&Event::Started {
                    index,
                    url,
                    attempt,
                });
            }
        }
        AttemptGuard {
            batch: self.inner.batch.clone(),
            attempt,
        }
    }

    /// The hop under way ended after `attempts` attempts (see
    /// [`Response::attempts`](crate::Response::attempts)).
    pub(crate) fn hop_attempts(&self, attempts: u32) {
        self.state().hop_attempts = attempts;
    }

    /// Attempts of the last hop, at least one.
    pub(crate) fn attempts(&self) -> u32 {
        self.state().hop_attempts.max(1)
    }

    /// The phases of the attempt under way, and the peer it went to.
    pub(crate) fn phases(
        &self,
        connect: Duration,
        ttfb: Duration,
        body: Duration,
        remote: Option<SocketAddr>,
    ) {
        let mut state = self.state();
        state.connect = connect;
        state.ttfb = ttfb;
        state.body = body;
        state.remote = remote;
    }

    /// The peer of the last attempt that got a response.
    pub(crate) fn remote_addr(&self) -> Option<SocketAddr> {
        self.state().remote
    }

    /// The attempt under way failed and will be repeated after `delay`.
    pub(crate) fn retrying(
        &self,
        url: &Uri,
        delay: Duration,
        status: Option<StatusCode>,
        error: Option<ErrorKind>,
    ) {
        let Some(batch) = &self.inner.batch else {
            return;
        };
        batch.counters().retried();
        self.tell(batch, |index, attempt| Event::Retrying {
            index,
            url,
            attempt,
            delay,
            status,
            error,
        });
    }

    /// The attempt under way was not processed by the server and is sent
    /// again at once (not a retry).
    pub(crate) fn redispatching(&self, url: &Uri, error: ErrorKind) {
        let Some(batch) = &self.inner.batch else {
            return;
        };
        batch.counters().redispatched();
        self.tell(batch, |index, attempt| Event::Redispatched {
            index,
            url,
            attempt,
            error,
        });
    }

    /// Tells `batch`'s observer, if it has one, of an event about the
    /// attempt under way, made from the input's index and the attempt's
    /// number (the event is not made without an observer).
    fn tell<'u>(&self, batch: &BatchState, event: impl FnOnce(usize, u32) -> Event<'u>) {
        if let (Some(observer), Some(index)) = (batch.observer(), self.inner.index) {
            observer.on_event(&event(index, self.state().sent));
        }
    }

    /// The breakdown so far, `total` up to now.
    pub(crate) fn timings(&self) -> Timings {
        let state = self.state();
        Timings {
            queued: state.queued,
            connect: state.connect,
            ttfb: state.ttfb,
            body: state.body,
            total: self.inner.started.elapsed(),
        }
    }
}

/// An attempt in flight; counts it out of the batch's in-flight number
/// when dropped, however the attempt ends.
#[derive(Debug)]
pub(crate) struct AttemptGuard {
    batch: Option<Arc<BatchState>>,
    attempt: u32,
}

impl AttemptGuard {
    /// Which request this is for its input, from 1.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if let Some(batch) = &self.batch {
            batch.counters().sent();
        }
    }
}
