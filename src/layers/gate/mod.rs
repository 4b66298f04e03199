//! The gate every attempt passes before it is sent: per-origin and global
//! concurrency permits, then per-origin and global rate-limit slots.
//!
//! One layer rather than four, because the waits depend on each other:
//!
//! - A request queued behind a busy origin must not hold a global permit
//!   while it waits, or a batch that is mostly one slow host starves the
//!   others. So the origin's permit comes first.
//! - A request waiting for a rate slot must hold no permit at all. So the
//!   slot is checked once the permits are held (the request is sent at
//!   once, and the rate holds at the moment of sending), and when there is
//!   no slot yet the permits are given back for the wait.
//! - The origin's slot is taken before the global one: when the global
//!   limit then says "not yet", the origin loses one slot, which only
//!   slows that origin; the other order would waste slots every host
//!   shares.
//!
//! While a request waits for its origin's permit or for a rate slot it is
//! *parked*: its batch starts other inputs in its place. Waiting for a
//! global permit is not parking: that only happens when the client is
//! full, and starting more inputs would not help.

mod future;
mod hosts;
mod rate;

use future::Admitted;
pub(crate) use future::ResponseFuture;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::BoxError;
use crate::layers::StackRequest;
use crate::observe::RequestRecord;
use hosts::Hosts;
use rate::{Full, HostRate, Rate};

/// The gate's settings; `None` for no limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GateConfig {
    pub(crate) concurrency: usize,
    pub(crate) per_host_concurrency: Option<usize>,
    /// Time between two requests of the whole client.
    pub(crate) rate_spacing: Option<Duration>,
    /// Time between two requests to one origin.
    pub(crate) host_rate_spacing: Option<Duration>,
}

/// Applies [`Gate`] to a service. All services it makes share its limits.
#[derive(Clone, Debug)]
pub(crate) struct GateLayer {
    limits: Arc<Limits>,
}

impl GateLayer {
    pub(crate) fn new(cfg: GateConfig) -> Self {
        GateLayer {
            limits: Arc::new(Limits {
                global: Arc::new(Semaphore::new(cfg.concurrency)),
                hosts: cfg.per_host_concurrency.map(Hosts::new),
                rate: cfg.rate_spacing.map(Rate::new),
                host_rate: cfg.host_rate_spacing.map(HostRate::new),
            }),
        }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            limits: self.limits.clone(),
        }
    }
}

/// Holds each attempt until the limits let it through.
#[derive(Clone, Debug)]
pub(crate) struct Gate<S> {
    inner: S,
    limits: Arc<Limits>,
}

#[derive(Debug)]
struct Limits {
    global: Arc<Semaphore>,
    hosts: Option<Hosts>,
    rate: Option<Rate>,
    host_rate: Option<HostRate>,
}

/// The permits an attempt holds until it ends.
struct Permits {
    _global: Option<OwnedSemaphorePermit>,
    _host: Option<OwnedSemaphorePermit>,
}

impl Limits {
    /// Waits until the attempt may go: permits held, rate slots taken.
    async fn admit(&self, origin: Option<&String>, record: Option<&RequestRecord>) -> Permits {
        // Our place in the line of a rate limit that had no slot for us.
        let mut place: Option<(Arc<Semaphore>, OwnedSemaphorePermit)> = None;
        loop {
            let host = match (&self.hosts, origin) {
                (Some(hosts), Some(origin)) => {
                    let semaphore = hosts.semaphore(origin);
                    Some(match semaphore.clone().try_acquire_owned() {
                        Ok(permit) => permit,
                        Err(_) => {
                            let _parked = record.and_then(RequestRecord::park);
                            acquire(semaphore).await
                        }
                    })
                }
                _ => None,
            };
            let global = acquire(self.global.clone()).await;
            let full = match self.take_slots(origin) {
                // Leaving the line (dropping `place`) lets the next one try.
                Ok(()) => {
                    return Permits {
                        _global: Some(global),
                        _host: host,
                    };
                }
                Err(full) => full,
            };
            drop((host, global));
            let _parked = record.and_then(RequestRecord::park);
            match &place {
                // At the head of this limit's line: sleep until its slot.
                Some((line, _)) if Arc::ptr_eq(line, &full.line) => {
                    tokio::time::sleep(full.wait).await;
                }
                // Wait in line behind the others (leaving any other line
                // first), then try again at once.
                _ => {
                    drop(place.take());
                    let turn = acquire(full.line.clone()).await;
                    place = Some((full.line, turn));
                }
            }
        }
    }

    fn take_slots(&self, origin: Option<&String>) -> Result<(), Full> {
        if let (Some(host_rate), Some(origin)) = (&self.host_rate, origin) {
            host_rate.take(origin)?;
        }
        if let Some(rate) = &self.rate {
            rate.take()?;
        }
        Ok(())
    }
}

async fn acquire(semaphore: Arc<Semaphore>) -> OwnedSemaphorePermit {
    semaphore
        .acquire_owned()
        .await
        .expect("the gate never closes its semaphores")
}

impl<S> tower::Service<StackRequest> for Gate<S>
where
    S: tower::Service<StackRequest, Response = http::Response<Bytes>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Bytes>;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The limits depend on the request, so they are awaited in the
        // future; the inner service's readiness too, once they are held.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: StackRequest) -> ResponseFuture<S> {
        let limits = &self.limits;
        // With only the global limit, and a permit free, nothing waits:
        // no boxed future (the common case; about 1 k instructions a
        // request less).
        let only_global =
            limits.hosts.is_none() && limits.rate.is_none() && limits.host_rate.is_none();
        if only_global && let Ok(permit) = limits.global.clone().try_acquire_owned() {
            let attempt = req
                .body()
                .record
                .as_ref()
                .map(|t| t.sending(req.uri(), Instant::now()));
            let permits = Permits {
                _global: Some(permit),
                _host: None,
            };
            return ResponseFuture::Admitted {
                attempt: Admitted::new(self.inner.clone(), req, permits, attempt),
            };
        }
        let limits = limits.clone();
        let inner = self.inner.clone();
        ResponseFuture::Waiting {
            future: Box::pin(async move {
                let arrived = Instant::now();
                let record = req.body().record.clone();
                let origin = (limits.hosts.is_some() || limits.host_rate.is_some())
                    .then(|| crate::origin::key(req.uri()));
                let permits = limits.admit(origin.as_ref(), record.as_ref()).await;
                // In flight from here until the attempt ends, however it
                // ends.
                let attempt = record.as_ref().map(|t| t.sending(req.uri(), arrived));
                Admitted::new(inner, req, permits, attempt).await
            }),
        }
    }
}
