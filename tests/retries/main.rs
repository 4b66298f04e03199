//! Retries and resilience: backoff, Retry-After, idempotency, timeouts,
//! servers that misbehave (the fault suite and property tests), HTTP/2
//! GOAWAY and refused streams, stale keep-alive connections.

#[path = "../support/mod.rs"]
mod support;

mod backoff;
mod backoff_permit;
mod connect_faults;
mod faults;
mod framing;
mod h2_faults;
mod h2_goaway;
mod h2_load;
mod h2_refused_stream;
mod idempotency;
mod misbehaving;
mod overrides;
mod properties;
mod retries;
mod retry_after;
mod stale_keepalive;
mod timeouts;
