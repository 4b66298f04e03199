//! The tower stack every request goes through, and the one function that
//! orders it.

mod collect;
mod per_host;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::retry::Retry;
use tower::timeout::Timeout;

use crate::connect::HttpsClient;
use crate::retry::{Policy, RetryPolicy};
use collect::CollectBody;
use per_host::{PerHostLimit, PerHostLimitLayer};

/// The whole stack, outermost first. Named rather than boxed, so a request
/// costs no dynamic dispatch or allocation for the layers themselves.
pub(crate) type Stack = Retry<Policy, PerHostLimit<ConcurrencyLimit<Timeout<CollectBody>>>>;

/// What the stack needs from the client's configuration.
pub(crate) struct StackConfig {
    pub(crate) retry: RetryPolicy,
    pub(crate) concurrency: usize,
    pub(crate) per_host_concurrency: Option<usize>,
    pub(crate) timeout: Duration,
    pub(crate) max_body_size: usize,
}

/// Builds the stack, outermost first:
///
/// 1. **retry**, outside every limit, so a request waiting out its backoff
///    holds no permit, and each attempt acquires its permits afresh;
/// 2. **per-host limit**, before the global one, so a request queued behind
///    a busy host does not hold one of the global permits while it waits;
/// 3. **global concurrency limit**, one semaphore shared by all clones of
///    the client;
/// 4. **per-attempt timeout**, inside the limits so that time spent queued
///    for a permit does not count against it;
/// 5. **body collection** with the size limit, inside all of the above so
///    that permits are held and the timeout runs until the last body byte;
/// 6. the pooled hyper client.
///
/// This departs from a "global → per-host" order on purpose: with the
/// global limit outside, requests for one saturated host would sit on
/// global permits while they wait, and starve every other host.
pub(crate) fn stack(cfg: &StackConfig, client: HttpsClient) -> Stack {
    let global = Arc::new(Semaphore::new(cfg.concurrency));
    tower::ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(Policy::new(cfg.retry)))
        .layer(PerHostLimitLayer::new(cfg.per_host_concurrency))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            global,
        ))
        .layer(tower::timeout::TimeoutLayer::new(cfg.timeout))
        .service(CollectBody::new(client, cfg.max_body_size))
}
