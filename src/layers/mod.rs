//! The tower stack every request goes through, and the one function that
//! orders it.

mod collect;
mod decompress;
mod per_host;
mod redirect;

pub(crate) use redirect::RedirectError;
pub(crate) use redirect::{FinalUrl, RedirectPolicy};

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::retry::Retry;
use tower::timeout::Timeout;

use crate::connect::HttpsClient;
use crate::retry::{Policy, RetryPolicy};
use collect::CollectBody;
use decompress::Decompress;
use per_host::{PerHostLimit, PerHostLimitLayer};
use redirect::{FollowRedirect, FollowRedirectLayer};

/// The whole stack, outermost first. Named rather than boxed, so a request
/// costs no dynamic dispatch or allocation for the layers themselves.
pub(crate) type Stack =
    FollowRedirect<Retry<Policy, PerHostLimit<ConcurrencyLimit<Timeout<CollectBody<Decompress>>>>>>;

/// What the stack needs from the client's configuration.
pub(crate) struct StackConfig {
    pub(crate) redirect: RedirectPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) concurrency: usize,
    pub(crate) per_host_concurrency: Option<usize>,
    pub(crate) timeout: Duration,
    pub(crate) max_body_size: usize,
    pub(crate) max_response_headers: usize,
    pub(crate) max_response_header_size: usize,
    pub(crate) decompress: bool,
    pub(crate) proxy: Option<Arc<hyper_util::client::proxy::matcher::Matcher>>,
}

/// Builds the stack, outermost first:
///
/// 1. **redirects**, outermost, so each hop is a request of its own: it is
///    retried on its own, and waits for the permits of its own host;
/// 2. **retry**, outside every limit, so a request waiting out its backoff
///    holds no permit, and each attempt acquires its permits afresh;
/// 3. **per-host limit**, before the global one, so a request queued behind
///    a busy host does not hold one of the global permits while it waits;
/// 4. **global concurrency limit**, one semaphore shared by all clones of
///    the client;
/// 5. **per-attempt timeout**, inside the limits so that time spent queued
///    for a permit does not count against it;
/// 6. **body collection** with the size limit, inside all of the above so
///    that permits are held and the timeout runs until the last body byte;
/// 7. **decompression**, under the body collection, so the size limit
///    counts decoded bytes;
/// 8. the pooled hyper client.
///
/// This departs from a "global → per-host" order on purpose: with the
/// global limit outside, requests for one saturated host would sit on
/// global permits while they wait, and starve every other host.
pub(crate) fn stack(cfg: &StackConfig, client: HttpsClient) -> Stack {
    let global = Arc::new(Semaphore::new(cfg.concurrency));
    tower::ServiceBuilder::new()
        .layer(FollowRedirectLayer::new(cfg.redirect))
        .layer(tower::retry::RetryLayer::new(Policy::new(cfg.retry)))
        .layer(PerHostLimitLayer::new(cfg.per_host_concurrency))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            global,
        ))
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
