//! The response futures of [`Gate`](super::Gate).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use pin_project_lite::pin_project;
use tower::util::Oneshot;

use super::Permits;
use crate::error::BoxError;
use crate::layers::StackRequest;
use crate::observe::AttemptGuard;
use crate::streaming::BodySlot;

/// The wait at the gate and the attempt after it, boxed: the semaphores'
/// and the timer's futures cannot be named.
pub(super) type Waiting =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, BoxError>> + Send>>;

pin_project! {
    /// An attempt let through at once, or one that waits at the gate.
    #[project = ResponseFutureProj]
    pub(crate) enum ResponseFuture<S>
    where
        S: tower::Service<StackRequest>,
    {
        /// Its permit was free when it arrived, and no other limit
        /// applies: no wait to box.
        Admitted { #[pin] attempt: Admitted<S> },
        Waiting { future: Waiting },
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError>,
{
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseFutureProj::Admitted { attempt } => attempt.poll(cx),
            ResponseFutureProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

pin_project! {
    /// An attempt through the gate: sent (with the `tracing` feature, in a
    /// span of its own), holding its permits and counted in flight until
    /// it ends, not until it is dropped. A streaming answer's attempt
    /// ends with its body, which the caller reads after this future has
    /// ended: its permits go into that body (see `crate::streaming`).
    pub(super) struct Admitted<S>
    where
        S: tower::Service<StackRequest>,
    {
        #[pin]
        send: Oneshot<S, StackRequest>,
        span: AttemptSpan,
        held: Option<(Permits, Option<AttemptGuard>)>,
    }
}

impl<S> Admitted<S>
where
    S: tower::Service<StackRequest>,
{
    pub(super) fn new(
        inner: S,
        req: StackRequest,
        permits: Permits,
        attempt: Option<AttemptGuard>,
    ) -> Self {
        Admitted {
            span: AttemptSpan::new(&req, attempt.as_ref()),
            send: Oneshot::new(inner, req),
            held: Some((permits, attempt)),
        }
    }
}

impl<S> Future for Admitted<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError>,
{
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let send = this.send;
        let result = ready!(this.span.in_scope(|| send.poll(cx)));
        this.span.record(&result);
        // Most answers have no extensions left here: one null check.
        if let Ok(res) = &result
            && !res.extensions().is_empty()
        {
            hand_over(this.held, res);
        }
        this.held.take();
        Poll::Ready(result)
    }
}

/// Moves what an attempt holds into its answer's body when the body
/// streams to the caller (see [`Admitted`]). Out of the way of the common
/// path (`cold`).
#[cold]
fn hand_over(held: &mut Option<(Permits, Option<AttemptGuard>)>, res: &http::Response<Bytes>) {
    if let Some(body) = res.extensions().get::<BodySlot>()
        && let Some(held) = held.take()
    {
        body.hold(Box::new(held));
    }
}

/// The `attempt` span of the `tracing` feature; nothing without it.
#[derive(Debug)]
struct AttemptSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl AttemptSpan {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    fn new(req: &StackRequest, attempt: Option<&AttemptGuard>) -> Self {
        AttemptSpan {
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!(
                "attempt",
                attempt = attempt.map(|a| a.attempt()),
                method = %req.method(),
                url = %crate::error::Redacted(req.uri()),
                status = tracing::field::Empty,
                error = tracing::field::Empty,
            ),
        }
    }

    fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        let _entered = self.span.enter();
        f()
    }

    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    fn record(&self, result: &Result<http::Response<Bytes>, BoxError>) {
        #[cfg(feature = "tracing")]
        match result {
            Ok(res) => self.span.record("status", res.status().as_u16()),
            Err(err) => self.span.record("error", tracing::field::display(err)),
        };
    }
}
