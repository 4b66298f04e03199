//! A concurrency limit per origin (scheme, host and port), which tower
//! lacks.
//!
//! Unlike tower's limits, this one cannot take its permit in `poll_ready`:
//! the host is known only from the request. So `call` waits for the host's
//! permit first and only then asks the inner service (the global limit) to
//! be ready. The order matters: a request queued behind a busy host holds
//! no global permit, so a batch that is mostly one slow host still uses
//! its full concurrency for the others.

mod future;
mod hosts;

pub(crate) use future::ResponseFuture;

use std::sync::Arc;
use std::task::{Context, Poll};

use hosts::Hosts;

use crate::admission::Admission;

/// Applies [`PerHostLimit`] to a service.
#[derive(Clone, Debug)]
pub(crate) struct PerHostLimitLayer {
    hosts: Option<Arc<Hosts>>,
}

impl PerHostLimitLayer {
    /// `None` for no per-host limit.
    pub(crate) fn new(max_per_host: Option<usize>) -> Self {
        PerHostLimitLayer {
            hosts: max_per_host.map(|max| Arc::new(Hosts::new(max))),
        }
    }
}

impl<S> tower::Layer<S> for PerHostLimitLayer {
    type Service = PerHostLimit<S>;

    fn layer(&self, inner: S) -> PerHostLimit<S> {
        PerHostLimit {
            inner,
            hosts: self.hosts.clone(),
        }
    }
}

/// Lets at most a fixed number of requests per origin through at once.
#[derive(Clone, Debug)]
pub(crate) struct PerHostLimit<S> {
    inner: S,
    hosts: Option<Arc<Hosts>>,
}

impl<S, B> tower::Service<http::Request<B>> for PerHostLimit<S>
where
    S: tower::Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        match self.hosts {
            // Without a per-host limit this layer is transparent.
            None => self.inner.poll_ready(cx),
            // Readiness of the inner service is awaited in the future, once
            // the host's permit is held.
            Some(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(hosts) = &self.hosts else {
            return ResponseFuture::direct(self.inner.call(req));
        };
        let semaphore = hosts.semaphore(req.uri());
        let admission = req.extensions().get::<Admission>().cloned();
        let inner = self.inner.clone();
        ResponseFuture::limited(async move {
            let _permit = match semaphore.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    let _parked = admission.as_ref().map(Admission::park);
                    // The semaphore is never closed, so this cannot fail.
                    semaphore.acquire_owned().await.ok()
                }
            };
            tower::ServiceExt::oneshot(inner, req).await
        })
    }
}
