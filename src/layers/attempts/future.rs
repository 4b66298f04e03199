//! The response future of [`Attempts`](super::Attempts).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use pin_project_lite::pin_project;

use crate::connect::NewConnection;
use crate::error::{BoxError, ErrorKind, Raised};
use crate::layers::StackRequest;
use crate::layers::redirect::{FinalUrl, Hops, RedirectPolicy};
use crate::retry::{Backoff, Next, Policy, Sent};

pin_project! {
    /// The loop of a request's attempts and hops.
    #[project = ResponseFutureProj]
    pub(crate) struct ResponseFuture<S>
    where
        S: tower::Service<StackRequest>,
    {
        #[pin]
        step: Step<S::Future>,
        service: S,
        hops: Hops,
        retry: Policy,
        redirect: RedirectPolicy,
        // The next attempt's request goes out on a connection made for it.
        new_connection: bool,
    }
}

pin_project! {
    #[project = StepProj]
    enum Step<F> {
        /// An attempt in flight.
        Attempt { #[pin] future: F },
        /// Waiting out the backoff before a retry.
        Backoff { #[pin] backoff: Backoff },
        /// Waiting for the service to be ready for the next attempt.
        Ready,
    }
}

impl<S> ResponseFuture<S>
where
    S: tower::Service<StackRequest>,
{
    pub(crate) fn new(
        first: S::Future,
        service: S,
        hops: Hops,
        retry: Policy,
        redirect: RedirectPolicy,
    ) -> Self {
        ResponseFuture {
            step: Step::Attempt { future: first },
            service,
            hops,
            retry,
            redirect,
            new_connection: false,
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError>,
{
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let ResponseFutureProj {
            mut step,
            service,
            hops,
            retry,
            redirect,
            new_connection,
        } = self.project();
        loop {
            match step.as_mut().project() {
                StepProj::Attempt { future } => {
                    let mut result = ready!(future.poll(cx));
                    let sent = Sent {
                        method: hops.method(),
                        uri: hops.uri(),
                        record: hops.body().record.as_ref(),
                    };
                    match retry.after(sent, &mut result) {
                        Next::Done => {}
                        Next::Redispatch {
                            new_connection: new,
                        } => {
                            *new_connection = new;
                            step.set(Step::Ready);
                            continue;
                        }
                        Next::Retry(backoff) => {
                            step.set(Step::Backoff { backoff });
                            continue;
                        }
                    }
                    let mut res = result?;
                    // A refused redirect is raised with its kind.
                    if !redirect.enabled()
                        || !hops
                            .follow(&res, redirect)
                            .map_err(|e| Raised::boxed(ErrorKind::Redirect, e))?
                    {
                        if let Some(url) = hops.redirected_to() {
                            res.extensions_mut().insert(FinalUrl(url.clone()));
                        }
                        return Poll::Ready(Ok(res));
                    }
                    retry.new_hop();
                    step.set(Step::Ready);
                }
                StepProj::Backoff { backoff } => {
                    ready!(backoff.poll(cx));
                    step.set(Step::Ready);
                }
                StepProj::Ready => {
                    ready!(service.poll_ready(cx))?;
                    retry.attempt_starts();
                    let mut req = hops.request();
                    if std::mem::take(new_connection) {
                        req.extensions_mut().insert(NewConnection);
                    }
                    let future = service.call(req);
                    step.set(Step::Attempt { future });
                }
            }
        }
    }
}
