//! The tower stack every request goes through, and the one function that
//! orders it.

mod attempts;
mod collect;
mod decompress;
mod gate;
mod payload;
mod redirect;
mod timeout;

pub(crate) use gate::GateConfig;
pub(crate) use payload::{Payload, StackRequest};
pub(crate) use redirect::{FinalUrl, RedirectPolicy};

use std::time::Duration;

use crate::connect::HttpsClient;
use crate::response::ResponseLimits;
use crate::retry::RetryPolicy;
use attempts::{Attempts, AttemptsLayer};
use collect::CollectBody;
use decompress::Decompress;
use gate::{Gate, GateLayer};
use timeout::{Timeout, TimeoutLayer};

/// The whole stack over the pooled client, outermost first. Named rather
/// than boxed, so a request costs no dynamic dispatch or allocation for the
/// layers themselves.
pub(crate) type Stack = StackOver<HttpsClient>;

/// The whole stack over `C`, the innermost service (see [`stack_over`]).
pub(crate) type StackOver<C> = Attempts<Gate<Timeout<CollectBody<Decompress<C>>>>>;

/// What the stack needs from the client's configuration.
pub(crate) struct StackConfig {
    pub(crate) redirect: RedirectPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) gate: GateConfig,
    pub(crate) timeout: Duration,
    pub(crate) limits: ResponseLimits,
    pub(crate) decompress: bool,
}

/// Builds the stack over the pooled client; [`stack_over`] orders it.
pub(crate) fn stack(cfg: &StackConfig, client: HttpsClient) -> Stack {
    stack_over(cfg, client)
}

/// Builds the stack over `client`, outermost first:
///
/// 1. **attempts**: redirects and retries in one loop (see `attempts` for
///    why one), outside every limit, so a request waiting out its backoff
///    holds no permit, each attempt acquires its permits afresh, and each
///    redirect hop is a request of its own, retried on its own and waiting
///    for the permits of its own host;
/// 2. **the gate**: per-host then global concurrency permits, then
///    per-host then global rate-limit slots (see `gate` for why in this
///    order, and why a request waiting for a slot holds no permit);
/// 3. **per-attempt timeout**, inside the limits so that time spent queued
///    for a permit or a slot does not count against it; an input's own
///    timeout replaces the client's for its attempts;
/// 4. **body collection** with the size limit, inside all of the above so
///    that permits are held and the timeout runs until the last body byte;
/// 5. **decompression**, under the body collection, so the size limit
///    counts decoded bytes;
/// 6. the pooled hyper client (`client`: any innermost service, so the
///    crate's benchmarks can measure the stack over one that answers at
///    once).
///
/// The per-host limit comes before the global one on purpose: with the
/// global limit first, requests for one saturated host would sit on
/// global permits while they wait, and starve every other host.
pub(crate) fn stack_over<C>(cfg: &StackConfig, client: C) -> StackOver<C> {
    tower::ServiceBuilder::new()
        .layer(AttemptsLayer::new(cfg.retry, cfg.redirect))
        .layer(GateLayer::new(cfg.gate))
        .layer(TimeoutLayer::new(cfg.timeout))
        .service(CollectBody::new(
            decompress::decompress(client, cfg.decompress),
            cfg.limits,
        ))
}
