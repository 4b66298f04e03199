//! The response future of [`FollowRedirect`](super::FollowRedirect).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri, Version};
use pin_project_lite::pin_project;
use tower::util::Oneshot;

use super::FinalUrl;
use super::policy::{self, RedirectPolicy};
use crate::error::BoxError;
use crate::layers::{Payload, StackRequest};

pin_project! {
    /// The inner future as it is (redirects off), or one that follows.
    pub(crate) struct ResponseFuture<S>
    where
        S: tower::Service<StackRequest>,
    {
        #[pin]
        kind: Kind<S>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S>
    where
        S: tower::Service<StackRequest>,
    {
        Direct { #[pin] future: S::Future },
        Following {
            #[pin]
            hop: Hop<S>,
            // Spent on each hop; a clone stays for the next.
            service: S,
            next: NextRequest,
            policy: RedirectPolicy,
        },
    }
}

pin_project! {
    #[project = HopProj]
    enum Hop<S>
    where
        S: tower::Service<StackRequest>,
    {
        First { #[pin] future: S::Future },
        Later { #[pin] future: Oneshot<S, StackRequest> },
    }
}

/// What the next hop's request is made of.
struct NextRequest {
    method: Method,
    version: Version,
    headers: HeaderMap,
    extensions: http::Extensions,
    body: Payload,
    /// Every request made so far, the last being the current one, once
    /// there was a redirect; empty (no allocation) until then, when the
    /// only request is the original.
    chain: Vec<(Method, Uri)>,
    original: Uri,
}

impl<S> ResponseFuture<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError> + Clone,
{
    pub(crate) fn direct(future: S::Future) -> Self {
        ResponseFuture {
            kind: Kind::Direct { future },
        }
    }

    pub(crate) fn following(mut service: S, req: StackRequest, policy: RedirectPolicy) -> Self {
        let next = NextRequest {
            method: req.method().clone(),
            version: req.version(),
            headers: req.headers().clone(),
            extensions: req.extensions().clone(),
            body: req.body().clone(),
            chain: Vec::new(),
            original: req.uri().clone(),
        };
        // Taken before the call: tower's Retry keeps per-request state in
        // the service it is called on, and each hop is a request of its own.
        let pristine = service.clone();
        let future = service.call(req);
        ResponseFuture {
            kind: Kind::Following {
                hop: Hop::First { future },
                service: pristine,
                next,
                policy,
            },
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError> + Clone,
{
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut hop, service, next, policy) = match self.project().kind.project() {
            KindProj::Direct { future } => return future.poll(cx),
            KindProj::Following {
                hop,
                service,
                next,
                policy,
            } => (hop, service, next, policy),
        };
        loop {
            let mut res = match hop.as_mut().project() {
                HopProj::First { future } => ready!(future.poll(cx))?,
                HopProj::Later { future } => ready!(future.poll(cx))?,
            };
            let current = next.chain.last().map_or(&next.original, |(_, uri)| uri);
            let Some(location) = policy::location(&res, current) else {
                // Without a redirect, the input's URL answered: the client
                // knows it already.
                if !next.chain.is_empty() {
                    res.extensions_mut().insert(FinalUrl(current.clone()));
                }
                return Poll::Ready(Ok(res));
            };
            if next.chain.is_empty() {
                next.chain
                    .push((next.method.clone(), next.original.clone()));
            }
            let (method, keep_body) = policy::next_method(res.status(), &next.method);
            policy.check(&next.chain, &method, &location)?;

            if !keep_body {
                next.body.bytes = Bytes::new();
                policy::drop_payload_headers(&mut next.headers);
            }
            next.method = method;
            let mut headers = next.headers.clone();
            if !policy::same_origin(&next.original, &location) {
                policy::drop_credentials(&mut headers);
            }
            // Let the pool set Host for the new authority.
            headers.remove(http::header::HOST);

            let mut req = http::Request::new(next.body.clone());
            *req.method_mut() = next.method.clone();
            *req.uri_mut() = location.clone();
            *req.version_mut() = next.version;
            *req.headers_mut() = headers;
            *req.extensions_mut() = next.extensions.clone();
            // A Location may carry credentials of its own. (It went through
            // the url crate, so its authority parses without them.) The
            // headers carried over were marked sensitive with the input.
            let _ = crate::request::move_credentials(&mut req);
            let location = req.uri().clone();
            next.chain.push((next.method.clone(), location));
            hop.set(Hop::Later {
                future: Oneshot::new(service.clone(), req),
            });
        }
    }
}
