//! The tower stack every request goes through, and the one function that
//! orders it.

mod attempts;
mod collect;
mod custom;
mod decompress;
mod gate;
mod payload;
mod redirect;
mod timeout;

pub(crate) use custom::{AttemptLayer, AttemptService};
pub(crate) use gate::GateConfig;
pub(crate) use payload::{Payload, StackRequest};
pub(crate) use redirect::{FinalUrl, RedirectPolicy};

use std::time::Duration;

use bytes::Bytes;
use tower::util::Either;

use crate::connect::HttpsClient;
use crate::error::BoxError;
use crate::response::ResponseLimits;
use crate::retry::RetryPolicy;
use attempts::{Attempts, AttemptsLayer};
use collect::CollectBody;
use custom::{Below, Custom};
use decompress::Decompress;
use gate::{Gate, GateLayer};
use timeout::{Timeout, TimeoutLayer};

/// The whole stack over the pooled client, outermost first. Named rather
/// than boxed, so a request costs no dynamic dispatch or allocation for the
/// layers themselves.
pub(crate) type Stack = StackOver<HttpsClient>;

/// The whole stack over `C`, the innermost service (see [`stack_over`]):
/// the layers over the body layer, or over the caller's own layers over
/// that.
pub(crate) type StackOver<C> = Either<Layered<CollectBody<Decompress<C>>>, Layered<Custom>>;

/// The layers over each attempt's service `A`.
type Layered<A> = Attempts<Gate<Timeout<A>>>;

/// What the stack needs from the client's configuration.
pub(crate) struct StackConfig {
    pub(crate) redirect: RedirectPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) gate: GateConfig,
    pub(crate) timeout: Duration,
    pub(crate) limits: ResponseLimits,
    pub(crate) decompress: bool,
    /// The caller's own, the first outermost.
    pub(crate) layers: Vec<AttemptLayer>,
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
/// 4. **the caller's layers**, if any (`BatchClientBuilder::layer`): inside
///    the limits and the timeout, so that they see every attempt and
///    their time counts in its timeout; over the body layer, so that a
///    test double needs no network and they see whole, decoded bodies;
/// 5. **body collection** with the size limit, inside all of the above so
///    that permits are held and the timeout runs until the last body byte
///    (a streaming request's body, left unread for the caller, takes its
///    permits, its deadline and the limit with it);
/// 6. **decompression**, under the body collection, so the size limit
///    counts decoded bytes;
/// 7. the pooled hyper client (`client`: any innermost service, so the
///    crate's benchmarks can measure the stack over one that answers at
///    once).
///
/// The per-host limit comes before the global one on purpose: with the
/// global limit first, requests for one saturated host would sit on
/// global permits while they wait, and starve every other host.
///
/// The caller's layers choose between two stacks, once for the client,
/// rather than between two services under the timeout for each attempt:
/// so a client without layers of its own runs the same code as if the
/// option did not exist, but for one branch per request at the top
/// ([`Either`]) and no allocation or dynamic call.
pub(crate) fn stack_over<C>(cfg: &StackConfig, client: C) -> StackOver<C>
where
    CollectBody<Decompress<C>>: tower::Service<
            StackRequest,
            Response = http::Response<Bytes>,
            Error = BoxError,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    let body = CollectBody::new(decompress::decompress(client, cfg.decompress), cfg.limits);
    match cfg.layers.as_slice() {
        [] => Either::Left(layered(cfg, body)),
        layers => {
            let below = AttemptService::new(Below::new(body));
            Either::Right(layered(cfg, custom::custom(layers, below)))
        }
    }
}

/// The layers over each attempt's service, outermost first (see
/// [`stack_over`]).
fn layered<A>(cfg: &StackConfig, attempt: A) -> Layered<A> {
    tower::ServiceBuilder::new()
        .layer(AttemptsLayer::new(cfg.retry, cfg.redirect))
        .layer(GateLayer::new(cfg.gate))
        .layer(TimeoutLayer::new(cfg.timeout))
        .service(attempt)
}
