//! Retrying transient failures: the public [`RetryPolicy`] and the private
//! decisions, backoff and classification behind it, which the attempt loop
//! (`layers::attempts`) asks after each attempt. What is retried and why
//! is documented on [`RetryPolicy`], where users see it.

mod backoff;
mod classify;
mod policy;
mod statuses;

pub(crate) use backoff::Backoff;
pub(crate) use policy::{Next, Policy, Sent};

use std::time::Duration;

use http::StatusCode;

use statuses::StatusSet;

/// How a client retries failed attempts: how often, how long it waits in
/// between, and for which methods.
///
/// ```
/// use std::time::Duration;
/// use batch_fetch::{BatchClient, RetryPolicy};
///
/// let client = BatchClient::builder()
///     .retry(
///         RetryPolicy::default()
///             .max_retries(5)
///             .base_delay(Duration::from_millis(50))
///             .max_delay(Duration::from_secs(2)),
///     )
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
///
///
/// # What is retried
///
/// An attempt is repeated when it failed in a way that another attempt may
/// fix:
///
/// * no connection could be made (refused, unreachable, connect timeout);
/// * the attempt timed out;
/// * the connection was closed before any of the response arrived, or (in
///   HTTP/2) the server reset the stream before its response head;
/// * the server answered one of the [retried
///   statuses](RetryPolicy::retry_statuses): by default `429 Too Many
///   Requests`, `502 Bad Gateway`, `503 Service Unavailable` and
///   `504 Gateway Timeout`.
///
/// # What is not a retry
///
/// Servers recycle connections all the time (nginx after 1,000 requests,
/// load balancers and CDNs on their own schedules, graceful restarts). A
/// request the server provably did not process is sent again at once on
/// another connection, whatever its method and whatever this policy says:
/// no backoff, nothing drawn from the budget, and not counted in
/// [`attempts()`](crate::Response::attempts). That is:
///
/// * an HTTP/2 stream the server refused (`REFUSED_STREAM`, RFC 9113
///   §8.7), or cut off by its `GOAWAY`: the streams above the GOAWAY's
///   last stream id, which the server says it never processed (§6.8);
/// * a request that could not go out because its connection closed first.
///
/// So is, once per attempt and for the methods below only, a request whose
/// HTTP/1.1 keep-alive connection, one that had answered earlier requests,
/// closed before any of the response came: the server most likely closed
/// it just as the request went out (idle past its keep-alive timeout, or
/// after each answer without saying so, as tinyproxy does). It goes out
/// again on a connection made for it, since the other kept ones may be
/// closing the same way.
///
/// One attempt is sent again like this at most 10 times, after which the
/// failure is the attempt's like any other, so a server that refuses
/// everything still ends in an error. Refusals by an HTTP/2 connection that
/// answered other streams (a server recycling its connections after a few
/// requests turns away, on each one, the streams a busy client sent beyond
/// that) do not count against those 10, only against a bound of 100. Each
/// time is reported as an [`Event::Redispatched`](crate::Event::Redispatched).
///
/// Other statuses are answers, not failures: a `404` or a `500` is returned
/// at once (unless [`retry_statuses`](RetryPolicy::retry_statuses) names it). Garbage from the server, a truncated body or a body over the size
/// limit are not retried either: the next attempt would most likely meet
/// the same server doing the same thing.
///
/// # Which requests are never retried
///
/// Only idempotent methods (`GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE`,
/// `TRACE`) are retried after the request may have reached the server. A
/// `POST` or `PATCH` that timed out or met a `503` may already have taken
/// effect, and sending it again could charge a card twice; opt in with
/// [`retry_non_idempotent`](RetryPolicy::retry_non_idempotent) when your server makes them safe.
/// A failure to connect is retried whatever the method, since nothing was
/// sent; so is a request the server refused without processing it (see
/// above) once sending it again at once did not help.
///
/// # Backoff
///
/// The wait before retry `n` (from 1) is drawn uniformly from
/// `0..=min(max_delay, base_delay * 2^(n-1))` ("full jitter"), which spreads
/// the retries of a batch that failed together instead of sending them back
/// in one wave. A `Retry-After` header on a retried response (delta-seconds
/// or an HTTP-date) replaces the computed wait, capped by `max_delay`; a
/// date already past is ignored (the computed wait applies), so a server
/// whose clock runs behind does not get every retry at once.
///
/// A request waiting out its backoff holds no concurrency permit: the rest
/// of the batch goes on using the capacity.
///
/// # Why a budget and not only a maximum
///
/// `max_retries` bounds one request, but not the batch: if a host dies, every
/// request to it would be sent `1 + max_retries` times, quadrupling the load
/// on a server that is already failing. The client therefore also keeps a
/// retry budget shared by all its requests (tower's
/// [`TpsBudget`](tower::retry::budget::TpsBudget)): retries may add at most
/// 20 % to the requests of the last 10 seconds, plus a reserve of 10 retries
/// per second so that a small batch can always retry. When the budget is
/// spent, the failure is returned as it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) retry_non_idempotent: bool,
    pub(crate) jitter: bool,
    pub(crate) budget_percent: f32,
    pub(crate) statuses: StatusSet,
}

impl RetryPolicy {
    /// Never retry: every request gets exactly one attempt.
    pub const fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::DEFAULT
        }
    }

    const DEFAULT: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(10),
        retry_non_idempotent: false,
        jitter: true,
        budget_percent: 0.2,
        statuses: StatusSet::of(&[429, 502, 503, 504]),
    };

    /// Sets how many times a request may be retried after its first attempt.
    ///
    /// Default is 3 (so at most 4 attempts).
    #[must_use]
    pub const fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the backoff before the first retry; each later one doubles it.
    ///
    /// Default is 100 ms.
    #[must_use]
    pub const fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the longest wait before a retry, which also caps `Retry-After`.
    ///
    /// Default is 10 s. Must not be less than `base_delay` (checked by
    /// [`build()`](crate::BatchClientBuilder::build)).
    #[must_use]
    pub const fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Allows retrying `POST`, `PATCH` and other non-idempotent methods.
    ///
    /// Default is `false`: see [`RetryPolicy`] for why.
    #[must_use]
    pub const fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Turns the random jitter on or off. Without it the waits are exactly
    /// `base_delay`, twice that, four times, and so on.
    ///
    /// Default is `true` (full jitter).
    #[must_use]
    pub const fn jitter(mut self, yes: bool) -> Self {
        self.jitter = yes;
        self
    }

    /// Sets the share of recent requests that retries may add, from 0.0 to
    /// 1000.0 (0.2 = 20 %). A reserve of 10 retries per second stays
    /// available whatever the share.
    ///
    /// Default is 0.2.
    #[must_use]
    pub const fn budget_percent(mut self, share: f32) -> Self {
        self.budget_percent = share;
        self
    }

    /// Sets which response statuses are retried (for the methods that may
    /// be, with `Retry-After` honoured on any of them), replacing the
    /// default set: `429`, `502`, `503` and `504`. An empty set retries no
    /// status; failures without a response are retried as before.
    ///
    /// ```
    /// use batch_fetch::RetryPolicy;
    /// use http::StatusCode;
    ///
    /// // An API that answers 500 when a backend is briefly away.
    /// let policy = RetryPolicy::default().retry_statuses([
    ///     StatusCode::TOO_MANY_REQUESTS,
    ///     StatusCode::INTERNAL_SERVER_ERROR,
    ///     StatusCode::SERVICE_UNAVAILABLE,
    /// ]);
    /// assert!(policy.retries_status(StatusCode::INTERNAL_SERVER_ERROR));
    /// assert!(!policy.retries_status(StatusCode::BAD_GATEWAY));
    /// ```
    #[must_use]
    pub fn retry_statuses(mut self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        self.statuses = StatusSet::default();
        for status in statuses {
            self.statuses.insert(status);
        }
        self
    }

    /// Whether a response with `status` is retried (see
    /// [`retry_statuses`](Self::retry_statuses)).
    pub fn retries_status(&self, status: StatusCode) -> bool {
        self.statuses.contains(status)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.max_delay < self.base_delay {
            return Err(format!(
                "retry max_delay ({:?}) is less than base_delay ({:?})",
                self.max_delay, self.base_delay
            ));
        }
        if !(0.0..=1000.0).contains(&self.budget_percent) {
            return Err(format!(
                "retry budget_percent must be within 0.0..=1000.0, got {}",
                self.budget_percent
            ));
        }
        Ok(())
    }
}

impl Default for RetryPolicy {
    /// 3 retries, backoff from 100 ms doubling up to 10 s with full jitter,
    /// idempotent methods only, a 20 % retry budget.
    fn default() -> Self {
        Self::DEFAULT
    }
}
