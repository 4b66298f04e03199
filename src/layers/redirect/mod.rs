//! Following redirects.
//!
//! tower-http's `FollowRedirect` was the first choice, but it rebuilds each
//! hop's request without the original's extensions (which carry the batch's
//! admission handle and the caller's own extensions) and can only stop, not
//! fail, on a loop or too many hops. This layer does the same job with
//! those two differences, and with the rules of [`policy`].

mod future;
mod policy;

pub(crate) use future::ResponseFuture;
pub(crate) use policy::{RedirectError, RedirectPolicy};

use std::task::{Context, Poll};

use bytes::Bytes;
use http::Uri;

use crate::error::BoxError;
use crate::layers::StackRequest;

/// The final URL of a response, after any redirects.
#[derive(Clone, Debug)]
pub(crate) struct FinalUrl(pub(crate) Uri);

/// Applies [`FollowRedirect`] to a service.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FollowRedirectLayer {
    policy: RedirectPolicy,
}

impl FollowRedirectLayer {
    pub(crate) fn new(policy: RedirectPolicy) -> Self {
        FollowRedirectLayer { policy }
    }
}

impl<S> tower::Layer<S> for FollowRedirectLayer {
    type Service = FollowRedirect<S>;

    fn layer(&self, inner: S) -> FollowRedirect<S> {
        FollowRedirect {
            inner,
            policy: self.policy,
        }
    }
}

/// Follows `301`, `302`, `303`, `307` and `308` responses that carry a
/// `Location`, by the rules of its [`RedirectPolicy`].
#[derive(Clone, Debug)]
pub(crate) struct FollowRedirect<S> {
    inner: S,
    policy: RedirectPolicy,
}

impl<S> tower::Service<StackRequest> for FollowRedirect<S>
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
        if !self.policy.enabled() {
            return ResponseFuture::direct(self.inner.call(req));
        }
        // The next hop needs a ready service of its own; this one is spent
        // on the first request.
        let next = self.inner.clone();
        let next = std::mem::replace(&mut self.inner, next);
        ResponseFuture::following(next, req, self.policy)
    }
}
