//! Client builders and retry policies shared by the library tests.
//!
//! Every builder here starts from [`defaults`], which ignores the
//! machine's proxy settings (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, ...):
//! a test's requests go straight to its loopback servers wherever it runs.
//! Tests build their clients from these, never from
//! `BatchClient::builder()` or `BatchClient::new()` directly, except those
//! about proxies themselves (`tests/proxy`, `tests/proxy_env.rs`).
use std::time::Duration;

use batch_fetch::{BatchClient, BatchClientBuilder, RetryPolicy};

use super::TestPki;

/// The library's defaults, except that proxies from the environment are
/// ignored (`no_proxy()`; a later `.proxy(..)` still sets one).
pub fn defaults() -> BatchClientBuilder {
    BatchClient::builder().no_proxy()
}

/// [`defaults`], built: `BatchClient::new()` without the environment's
/// proxies.
pub fn default_client() -> BatchClient {
    defaults().build().unwrap()
}

/// One attempt per request (`RetryPolicy::none()`) and a 10 s timeout: a
/// failure shows as itself, a hang as a timeout.
pub fn builder() -> BatchClientBuilder {
    defaults()
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
}

/// [`builder`], built.
pub fn client() -> BatchClient {
    builder().build().unwrap()
}

/// [`builder`] that also trusts the CA of `pki`.
pub fn trusting(pki: &TestPki) -> BatchClientBuilder {
    builder().add_root_certificate(pki.certificate())
}

/// Fast, deterministic backoff so that the tests do not wait:
/// `max_retries` retries, 5 ms doubling up to 50 ms, no jitter.
pub fn quick(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(max_retries)
        .base_delay(Duration::from_millis(5))
        .max_delay(Duration::from_millis(50))
        .jitter(false)
}

/// A client with `policy` and the library's defaults otherwise.
pub fn client_with(policy: RetryPolicy) -> BatchClient {
    defaults().retry(policy).build().unwrap()
}

/// The default retry policy (which retries refused and unprocessed
/// HTTP/2 streams) with short backoff: 5 ms, at most 50 ms.
pub fn h2_retries() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(5))
        .max_delay(Duration::from_millis(50))
}

/// HTTP/2 from the first byte (h2c), [`h2_retries`] and a 10 s timeout:
/// for the `H2Server`s that refuse streams or go away.
pub fn h2c_builder() -> BatchClientBuilder {
    defaults()
        .http2_prior_knowledge()
        .retry(h2_retries())
        .timeout(Duration::from_secs(10))
}
