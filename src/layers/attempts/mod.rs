//! The loop of one request: its attempts, and its redirect hops.
//!
//! A request may be sent more than once: again after a failure the retry
//! policy says another attempt may fix (a retry), and to a new URL after a
//! redirect (a hop, which is a request of its own with attempts of its
//! own). Each attempt goes through the layers below this one afresh: it
//! waits for its own permits, and has its own timeout.
//!
//! Both jobs are in one layer because both need a copy of the request
//! kept from before it was sent (the pooled client consumes the one it
//! sends). As two layers (tower's `Retry` under a redirect layer) they
//! would keep two copies, and each would clone the services below it for
//! each request; here one copy serves both, and the service below is cloned
//! once. The same copy serves a third job: an attempt whose request the
//! server did not process (an HTTP/2 stream refused or cut off by a
//! GOAWAY, a connection that closed first) is sent again at once, as the
//! same attempt, whatever the retry settings.
//! The decisions stay where they are documented: [`crate::retry`] for
//! retries, `layers::redirect` for redirects.

mod future;

pub(crate) use future::ResponseFuture;

use std::task::{Context, Poll};

use bytes::Bytes;

use super::StackRequest;
use super::redirect::{Hops, RedirectPolicy};
use crate::error::BoxError;
use crate::request::Overrides;
use crate::retry::{Policy, RetryPolicy};

/// Applies [`Attempts`] to a service. All services it makes share one
/// retry budget, which requests with a retry policy of their own draw on
/// too.
#[derive(Clone, Debug)]
pub(crate) struct AttemptsLayer {
    retry: Policy,
    redirect: RedirectPolicy,
}

impl AttemptsLayer {
    pub(crate) fn new(retry: RetryPolicy, redirect: RedirectPolicy) -> Self {
        AttemptsLayer {
            retry: Policy::new(retry),
            redirect,
        }
    }
}

impl<S> tower::Layer<S> for AttemptsLayer {
    type Service = Attempts<S>;

    fn layer(&self, inner: S) -> Attempts<S> {
        Attempts {
            inner,
            retry: self.retry.clone(),
            redirect: self.redirect,
        }
    }
}

/// Retries each request by its retry policy, and follows `301`, `302`,
/// `303`, `307` and `308` responses that carry a `Location` by its
/// redirect policy.
#[derive(Clone, Debug)]
pub(crate) struct Attempts<S> {
    inner: S,
    retry: Policy,
    redirect: RedirectPolicy,
}

impl<S> tower::Service<StackRequest> for Attempts<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError> + Clone,
{
    type Response = http::Response<Bytes>;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: StackRequest) -> ResponseFuture<S> {
        // Kept even with retries and redirects off: a request the server
        // did not process is sent again (see `retry::Next::Redispatch`).
        let hops = Hops::keep(&req);
        let mut retry = match Overrides::of(&req).and_then(|own| own.retry.as_ref()) {
            Some(own) => self.retry.for_request(own),
            None => self.retry.clone(),
        };
        retry.attempt_starts();
        // The clone is made ready again before each later attempt. Made
        // before the call, so that the first attempt's future is built in
        // its place in ours rather than moved there.
        let service = self.inner.clone();
        let first = self.inner.call(req);
        ResponseFuture::new(first, service, hops, retry, self.redirect)
    }
}
