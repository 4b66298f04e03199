//! The per-attempt timeout: tower's `Timeout`, but with the duration of
//! each request's own, when its input set one
//! ([`Request::timeout`](crate::Request::timeout)), else the client's.
//!
//! It fails with tower's own [`Elapsed`](tower::timeout::error::Elapsed),
//! so a timeout reads the same whichever setting it came from: kind
//! `Timeout`, "request timed out", retried like any other.
//!
//! The timer covers the body, which the body layer reads inside it. A
//! streaming request's body is read by the caller, after the attempt's
//! future has ended: its copy of the `Streaming` mark gets the attempt's
//! deadline, and the body, timed by it, fails the same way.
//!
//! A download's body is not covered: a large file may take as long as it
//! needs, as long as its bytes keep coming (the read timeout, which for a
//! download is this timeout unless `read_timeout` says otherwise). Its
//! attempt is timed by the body layer instead, up to the head: the request
//! carries an [`AttemptClock`] there, and the timer here is left unset
//! (rather than stopped by a switch, which every request's future would
//! carry).

mod future;

pub(crate) use future::ResponseFuture;

use std::task::{Context, Poll};
use std::time::Duration;

use crate::download::{AttemptClock, Job};
use crate::error::BoxError;
use crate::layers::StackRequest;
use crate::request::Overrides;
use crate::streaming::Streaming;

/// Applies [`Timeout`] to a service.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeoutLayer {
    default: Duration,
}

impl TimeoutLayer {
    /// Attempts of requests without a timeout of their own get `default`.
    pub(crate) const fn new(default: Duration) -> Self {
        TimeoutLayer { default }
    }
}

impl<S> tower::Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            default: self.default,
        }
    }
}

/// Fails an attempt that has not finished within its timeout.
#[derive(Clone, Debug)]
pub(crate) struct Timeout<S> {
    inner: S,
    default: Duration,
}

impl<S> tower::Service<StackRequest> for Timeout<S>
where
    S: tower::Service<StackRequest>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, mut req: StackRequest) -> Self::Future {
        let timeout = Overrides::of(&req)
            .and_then(|own| own.timeout)
            .unwrap_or(self.default);
        // A body streamed to the caller is read after this future ends;
        // it ends at the same deadline (give or take the moment between
        // here and the timer's start below).
        if let Some(streaming) = Streaming::of_mut(req.extensions_mut()) {
            streaming.deadline = tokio::time::Instant::now().checked_add(timeout);
        }
        let timer = if !req.extensions().is_empty() && req.extensions().get::<Job>().is_some() {
            req.extensions_mut().insert(AttemptClock { timeout });
            tokio::time::sleep_until(far_future())
        } else {
            tokio::time::sleep(timeout)
        };
        let response = self.inner.call(req);
        ResponseFuture::new(response, timer)
    }
}

/// A deadline no attempt reaches (about thirty years away).
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}
