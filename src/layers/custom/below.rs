//! The bottom end of the caller's layers: their `http::Request<Bytes>`
//! turned back into the stack's request, for the body layer.

use std::task::{Context, Poll};

use bytes::Bytes;

use super::Carried;
use crate::layers::{Payload, StackRequest};

/// Sends the caller's requests on `S`, with the input's record taken back
/// from the extensions, where [`Custom`](super::Custom) put it.
#[derive(Clone, Debug)]
pub(crate) struct Below<S> {
    inner: S,
}

impl<S> Below<S> {
    pub(crate) fn new(inner: S) -> Self {
        Below { inner }
    }
}

impl<S> tower::Service<http::Request<Bytes>> for Below<S>
where
    S: tower::Service<StackRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Bytes>) -> S::Future {
        let (mut head, bytes) = req.into_parts();
        let record = head.extensions.remove::<Carried>().map(|Carried(r)| r);
        self.inner
            .call(http::Request::from_parts(head, Payload { bytes, record }))
    }
}
