//! The tower stack every request goes through, and the one function that
//! orders it.

mod collect;
mod decompress;
mod detach;
mod gate;
mod payload;
mod redirect;

pub(crate) use gate::GateConfig;
pub(crate) use payload::{Payload, StackRequest};
pub(crate) use redirect::RedirectError;
pub(crate) use redirect::{FinalUrl, RedirectPolicy};

use std::sync::Arc;
use std::time::Duration;

use tower::retry::Retry;
use tower::timeout::Timeout;

use crate::connect::HttpsClient;
use crate::retry::{Policy, RetryPolicy};
use collect::CollectBody;
use decompress::Decompress;
use gate::{Gate, GateLayer};
use redirect::{FollowRedirect, FollowRedirectLayer};

/// The whole stack over the pooled client, outermost first. Named rather
/// than boxed, so a request costs no dynamic dispatch or allocation for the
/// layers themselves.
pub(crate) type Stack = StackOver<HttpsClient>;

/// The whole stack over `C`, the innermost service (see [`stack_over`]).
pub(crate) type StackOver<C> =
    FollowRedirect<Retry<Policy, Gate<Timeout<CollectBody<Decompress<C>>>>>>;

/// What the stack needs from the client's configuration.
pub(crate) struct StackConfig {
    pub(crate) redirect: RedirectPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) gate: GateConfig,
    pub(crate) timeout: Duration,
    pub(crate) max_body_size: usize,
    pub(crate) max_response_headers: usize,
    pub(crate) max_response_header_size: usize,
    pub(crate) decompress: bool,
    pub(crate) proxy: Option<Arc<hyper_util::client::proxy::matcher::Matcher>>,
}

/// Builds the stack over the pooled client; [`stack_over`] orders it.
pub(crate) fn stack(cfg: &StackConfig, client: HttpsClient) -> Stack {
    stack_over(cfg, client)
}

/// Builds the stack over `client`, outermost first:
///
/// 1. **redirects**, outermost, so each hop is a request of its own: it is
///    retried on its own, and waits for the permits of its own host;
/// 2. **retry**, outside every limit, so a request waiting out its backoff
///    holds no permit, and each attempt acquires its permits afresh;
/// 3. **the gate**: per-host then global concurrency permits, then
///    per-host then global rate-limit slots (see `gate` for why in this
///    order, and why a request waiting for a slot holds no permit);
/// 4. **per-attempt timeout**, inside the limits so that time spent queued
///    for a permit or a slot does not count against it;
/// 5. **body collection** with the size limit, inside all of the above so
///    that permits are held and the timeout runs until the last body byte;
/// 6. **decompression**, under the body collection, so the size limit
///    counts decoded bytes;
/// 7. the pooled hyper client (`client`: any innermost service, so the
///    crate's benchmarks can measure the stack over one that answers at
///    once).
///
/// The per-host limit comes before the global one on purpose: with the
/// global limit first, requests for one saturated host would sit on
/// global permits while they wait, and starve every other host.
pub(crate) fn stack_over<C>(cfg: &StackConfig, client: C) -> StackOver<C> {
    tower::ServiceBuilder::new()
        .layer(FollowRedirectLayer::new(cfg.redirect))
        .layer(tower::retry::RetryLayer::new(Policy::new(cfg.retry)))
        .layer(GateLayer::new(cfg.gate))
        .layer(tower::timeout::TimeoutLayer::new(cfg.timeout))
        .service(CollectBody::new(
            decompress::decompress(client, cfg.decompress),
            collect::Limits {
                max_body_size: cfg.max_body_size,
                max_headers: cfg.max_response_headers,
                max_header_bytes: cfg.max_response_header_size,
            },
            cfg.proxy.clone(),
        ))
}
