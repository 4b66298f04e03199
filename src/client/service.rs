//! [`BatchClient`] as a tower [`Service`](tower::Service): one input
//! through the whole stack, for code written against tower (a
//! `ServiceBuilder` composition, a crate that takes any HTTP service).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::BatchClient;
use crate::error::Error;
use crate::request::IntoRequest;
use crate::response::Response;

/// Implements the client's `Service` for `$client` (the client or a
/// reference to it): the two differ only in their docs.
macro_rules! fetch_service {
    ($(#[$doc:meta])* $client:ty) => {
        $(#[$doc])*
        impl<R: IntoRequest> tower::Service<R> for $client {
            type Response = Response;
            type Error = Error;
            type Future = Pending;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, req: R) -> Pending {
                Pending::start(self, req)
            }
        }
    };
}

fetch_service! {
    /// One fetch through a [`BatchClient`] used as a tower
    /// [`Service`](tower::Service): the same limits, timeout, retries and
    /// redirects as [`fetch`](BatchClient::fetch), over any input `fetch`
    /// takes (a URL, an `http::Request<B>`, a [`Request`](crate::Request)),
    /// so that a bad input is an [`Err`] of that call, never a panic.
    ///
    /// `poll_ready` is always ready: the client's limits queue each request
    /// inside (a request waiting for a permit holds none of the caller's
    /// resources), so a `Buffer` or `ConcurrencyLimit` in front is not
    /// needed.
    ///
    /// ```
    /// # async fn run() {
    /// use batch_fetch::{BatchClient, Response};
    /// use tower::{ServiceBuilder, ServiceExt};
    ///
    /// let client = BatchClient::new();
    /// let status = ServiceBuilder::new()
    ///     .map_response(|res: Response| res.status())
    ///     .service(client);
    /// let result = status.oneshot("http://127.0.0.1:1/").await;
    /// assert!(result.is_err()); // nothing listens on port 1
    /// # }
    /// ```
    BatchClient
}

fetch_service! {
    /// The same as for [`BatchClient`], by reference, as reqwest has it:
    /// no clone of the client per service.
    &BatchClient
}

/// The future of a fetch through [`BatchClient`]'s
/// [`Service`](tower::Service) implementation: resolves to the response,
/// or the error of this input.
///
/// It owns all it needs (it borrows nothing from the client), and is
/// `Send`, so it can be spawned. Boxed inside: the request's path is an
/// `async fn` whose type cannot be named, and one allocation is small
/// beside a request's own.
#[must_use = "futures do nothing unless polled"]
pub struct Pending {
    inner: Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>,
}

impl Pending {
    fn start(client: &BatchClient, req: impl IntoRequest) -> Self {
        Pending {
            inner: Box::pin(client.exec(client.prepare(req), None).future),
        }
    }
}

impl Future for Pending {
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}
