//! The caller's own tower layers around each attempt
//! ([`BatchClientBuilder::layer`](crate::BatchClientBuilder::layer)): for
//! signing each attempt, refreshing a token, metrics, or a test double
//! that answers without the network.
//!
//! They sit under the per-attempt timeout and over body collection, so
//! they see each attempt (retries, redirect hops, requests sent again
//! because the server did not process them) as a plain
//! `http::Request<Bytes>`, and give back a complete, decoded
//! `http::Response<Bytes>`. The stack's own request type carries the
//! input's record beside the body (see `layers::Payload`), which a user
//! service could not pass on; so [`Custom`] moves the record into the
//! request's extensions on the way in, and [`Below`] takes it back on the
//! way to the body layer. A service that drops the extensions loses only
//! what the record would have learnt of that attempt (its timings and
//! peer).
//!
//! Boxed: the caller's services cannot be named in the stack's type. A
//! client without layers of its own has none of this in its requests' way
//! (the stack picks its plain branch, see `layers::stack_over`).

mod below;

pub(crate) use below::Below;

use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tower::util::{BoxCloneSyncService, BoxCloneSyncServiceLayer};

use crate::error::BoxError;
use crate::layers::StackRequest;
use crate::observe::RequestRecord;

/// One attempt, as a caller's layer wraps it (and must give it back).
pub(crate) type AttemptService =
    BoxCloneSyncService<http::Request<Bytes>, http::Response<Bytes>, BoxError>;

/// A caller's layer, boxed.
pub(crate) type AttemptLayer =
    BoxCloneSyncServiceLayer<AttemptService, http::Request<Bytes>, http::Response<Bytes>, BoxError>;

/// The input's record, in the extensions of a request that a caller's
/// layer sees. Private, so no caller can make or read one.
#[derive(Clone, Debug)]
struct Carried(RequestRecord);

/// The caller's layers over `below` (the body layer, boxed), the first in
/// `layers` outermost (as `tower::ServiceBuilder` orders them).
pub(crate) fn custom(layers: &[AttemptLayer], below: AttemptService) -> Custom {
    let service = layers
        .iter()
        .rev()
        .fold(below, |inner, layer| tower::Layer::layer(layer, inner));
    Custom { service }
}

/// The caller's layers, taking the stack's requests.
#[derive(Clone, Debug)]
pub(crate) struct Custom {
    service: AttemptService,
}

impl tower::Service<StackRequest> for Custom {
    type Response = http::Response<Bytes>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<http::Response<Bytes>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, req: StackRequest) -> Self::Future {
        let (mut head, payload) = req.into_parts();
        if let Some(record) = payload.record {
            head.extensions.insert(Carried(record));
        }
        self.service
            .call(http::Request::from_parts(head, payload.bytes))
    }
}
