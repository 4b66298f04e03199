//! The retry decisions of one request behind [`RetryPolicy`]: whether a
//! finished attempt is repeated, after how long, and what its final result
//! records.
//!
//! This is not a tower [`Policy`](tower::retry::Policy): tower's `Retry`
//! keeps a copy of each request for the next attempt, and a redirect loop
//! around it would keep another for the next hop. The attempt loop
//! (`layers::attempts`) keeps one copy for both jobs and asks this type
//! what to do after each attempt.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Uri};
use tower::retry::budget::{Budget, TpsBudget};

use super::RetryPolicy;
use super::backoff::{self, Backoff};
use super::classify::{Failure, Redispatch, Verdict, redispatch, verdict};
use crate::error::{self, BoxError, ErrorKind, Raised};
use crate::observe::RequestRecord;

/// How many times one attempt's request is sent again at once because
/// the server did not process it (see [`Next::Redispatch`]); past that,
/// the failure goes to the retry policy like any other, so a server that
/// refuses everything still ends in an error. Go's HTTP/2 client allows
/// 6 and curl 5, but with backoff from the second; here they are at once.
const MAX_REDISPATCHES: u32 = 10;

/// The same bound for requests turned away by HTTP/2 connections that
/// served other streams (`classify::Redispatch::Recycled`), which do not
/// count against [`MAX_REDISPATCHES`]. A server that recycles its
/// connections after a few requests refuses, on each connection, the
/// streams a busy client sent beyond that; a request may meet that many
/// times in a row while every connection moves the batch on. This only
/// keeps a pathological server from holding a request for ever.
const MAX_RECYCLED: u32 = 100;

/// Per-request retry state. The client's stack holds one, and each request
/// works on its own clone, so `attempts` counts the attempts of that
/// request's current hop while the settings and the budget are shared by
/// all (behind one `Arc`: the settings are too large to copy into every
/// request's future). A request with a policy of its own gets settings of
/// its own, and still the client's budget
/// ([`for_request`](Self::for_request)).
#[derive(Clone)]
pub(crate) struct Policy {
    shared: Arc<Shared>,
    attempts: u32,
    /// Times the current attempt's request was sent again at once, by
    /// why (see `classify::Redispatch`): not processed, turned away by a
    /// recycled connection, lost on a keep-alive connection closed as it
    /// went out.
    redispatched: u32,
    recycled: u32,
    stale: u32,
    /// The next send is the current attempt again, not a new one.
    redispatching: bool,
}

struct Shared {
    settings: RetryPolicy,
    /// The client's, whatever the settings: see [`Policy::for_request`].
    budget: Arc<TpsBudget>,
}

/// What follows an attempt.
pub(crate) enum Next {
    /// The result is final.
    Done,
    /// The server did not process the request: send it again at once, as
    /// the same attempt (no backoff, nothing drawn from the retry budget,
    /// not counted in `attempts()`); on a connection made for it when
    /// `new_connection` (the kept one it went out on was closing).
    Redispatch { new_connection: bool },
    /// Retry after the backoff.
    Retry(Backoff),
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("settings", &self.shared.settings)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What an attempt was sent as, for the decision after it.
pub(crate) struct Sent<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    /// Its input's record (`None` outside the client).
    pub(crate) record: Option<&'a RequestRecord>,
}

impl Policy {
    pub(crate) fn new(settings: RetryPolicy) -> Self {
        Policy {
            shared: Arc::new(Shared {
                settings,
                budget: Arc::new(TpsBudget::new(
                    Duration::from_secs(10),
                    10,
                    settings.budget_percent,
                )),
            }),
            attempts: 0,
            redispatched: 0,
            recycled: 0,
            stale: 0,
            redispatching: false,
        }
    }

    /// The state of a request whose input set a policy of its own
    /// ([`Request::retry`](crate::Request::retry)): its settings, and this
    /// policy's budget. The budget stays the client's because it guards the
    /// servers against the client as a whole: a budget per request would
    /// always have its reserve left, and let a batch of such inputs
    /// multiply the load on a failing server. So `settings.budget_percent`
    /// is not used.
    #[cold]
    pub(crate) fn for_request(&self, settings: &RetryPolicy) -> Self {
        Policy {
            shared: Arc::new(Shared {
                settings: *settings,
                budget: self.shared.budget.clone(),
            }),
            attempts: self.attempts,
            redispatched: self.redispatched,
            recycled: self.recycled,
            stale: self.stale,
            redispatching: self.redispatching,
        }
    }

    /// Whether any attempt may be repeated, so its request must be kept.
    pub(crate) fn may_retry(&self) -> bool {
        self.shared.settings.max_retries > 0
    }

    /// An attempt of the current hop is being sent. The first of each hop
    /// pays into the shared budget that retries draw on. A redispatch is
    /// the same attempt sent again.
    pub(crate) fn attempt_starts(&mut self) {
        if std::mem::take(&mut self.redispatching) {
            return;
        }
        self.redispatched = 0;
        self.recycled = 0;
        self.stale = 0;
        if self.attempts == 0 && self.may_retry() {
            self.shared.budget.deposit();
        }
        self.attempts += 1;
    }

    /// A redirect started a new hop: a request of its own, whose attempts
    /// are counted afresh.
    pub(crate) fn new_hop(&mut self) {
        self.attempts = 0;
    }

    /// After an attempt sent as `sent` ended with `result`: what follows.
    /// A final failure is raised with its kind, so it is classified once.
    pub(crate) fn after(
        &mut self,
        sent: Sent<'_>,
        result: &mut Result<http::Response<Bytes>, BoxError>,
    ) -> Next {
        let record = sent.record;
        let outcome = match &*result {
            Ok(res) => Ok(res),
            Err(err) => Err(Failure {
                error: &**err,
                kind: error::classify(&**err),
            }),
        };
        let kind = outcome.as_ref().err().map(|failure| failure.kind);
        if let Err(failure) = &outcome {
            let why = redispatch(sent.method, failure.error);
            let budget = match why {
                Some(Redispatch::Unprocessed) => Some((&mut self.redispatched, MAX_REDISPATCHES)),
                Some(Redispatch::Recycled) => Some((&mut self.recycled, MAX_RECYCLED)),
                Some(Redispatch::StaleConnection) => Some((&mut self.stale, 1)),
                None => None,
            };
            if let Some((count, _)) = budget.filter(|(count, limit)| **count < *limit) {
                *count += 1;
                self.redispatching = true;
                if let Some(record) = record {
                    record.redispatching(sent.uri, failure.kind);
                }
                return Next::Redispatch {
                    new_connection: why == Some(Redispatch::StaleConnection),
                };
            }
        }
        let retries_done = self.attempts.saturating_sub(1);
        let retry_after = match self
            .may_retry()
            .then(|| verdict(sent.method, outcome, &self.shared.settings))
        {
            Some(Verdict::Retry { retry_after })
                if retries_done < self.shared.settings.max_retries
                    && self.shared.budget.withdraw() =>
            {
                retry_after
            }
            _ => {
                self.finish(record, result, kind);
                return Next::Done;
            }
        };
        let settings = &self.shared.settings;
        let wait = match retry_after {
            Some(asked) => asked.min(settings.max_delay),
            None => backoff::delay(
                retries_done + 1,
                settings.base_delay,
                settings.max_delay,
                settings.jitter,
            ),
        };
        if let Some(record) = record {
            let status = result.as_ref().ok().map(http::Response::status);
            record.retrying(sent.uri, wait, status, kind);
        }
        Next::Retry(Backoff::new(wait, record.and_then(RequestRecord::park)))
    }

    /// Ends a hop: its attempt count goes to its input's record (where the
    /// response or the error reads it), and a failure is raised with the
    /// kind it was classified as.
    fn finish(
        &self,
        record: Option<&RequestRecord>,
        result: &mut Result<http::Response<Bytes>, BoxError>,
        kind: Option<ErrorKind>,
    ) {
        if let Some(record) = record {
            record.hop_attempts(self.attempts);
        }
        if let (Err(err), Some(kind)) = (result, kind)
            && !err.is::<Raised>()
        {
            let error = std::mem::replace(err, Box::new(Placeholder));
            *err = Raised::boxed(kind, error);
        }
    }
}

/// Stands in for an error for the instant it is being wrapped.
#[derive(Debug, thiserror::Error)]
#[error("placeholder")]
struct Placeholder;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_s_own_policy_keeps_the_client_s_budget() {
        let client = Policy::new(RetryPolicy::default().budget_percent(0.5));
        let own = client.for_request(&RetryPolicy::none().budget_percent(0.0));
        assert!(!own.may_retry(), "its own settings");
        assert!(client.may_retry());
        assert!(Arc::ptr_eq(&own.shared.budget, &client.shared.budget));
    }
}
