//! The private tower [`Policy`](tower::retry::Policy) behind [`RetryPolicy`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tower::retry::budget::{Budget, TpsBudget};

use super::RetryPolicy;
use super::backoff::{self, Backoff};
use super::classify::{Verdict, verdict};
use crate::error::{Attempted, BoxError};
use crate::layers::StackRequest;
use crate::observe::Trace;

/// Per-request retry state. The client's stack holds one, and each request
/// works on its own clone, so `attempts` counts that request's attempts
/// while `budget` is shared by all.
#[derive(Clone)]
pub(crate) struct Policy {
    settings: RetryPolicy,
    budget: Arc<TpsBudget>,
    attempts: u32,
}

impl Policy {
    pub(crate) fn new(settings: RetryPolicy) -> Self {
        Policy {
            settings,
            budget: Arc::new(TpsBudget::new(
                Duration::from_secs(10),
                10,
                settings.budget_percent,
            )),
            attempts: 0,
        }
    }

    /// Marks the final result with the number of attempts it took (a
    /// response's, in its input's trace).
    fn finish(&self, trace: Option<&Trace>, result: &mut Result<http::Response<Bytes>, BoxError>) {
        let attempts = self.attempts;
        match result {
            Ok(_) => {
                if let Some(trace) = trace {
                    trace.hop_attempts(attempts);
                }
            }
            Err(err) => {
                let source = std::mem::replace(err, Box::new(Placeholder));
                *err = Box::new(Attempted { attempts, source });
            }
        }
    }
}

/// Stands in for an error for the instant it is being wrapped.
#[derive(Debug, thiserror::Error)]
#[error("placeholder")]
struct Placeholder;

impl tower::retry::Policy<StackRequest, http::Response<Bytes>, BoxError> for Policy {
    type Future = Backoff;

    fn retry(
        &mut self,
        req: &mut StackRequest,
        result: &mut Result<http::Response<Bytes>, BoxError>,
    ) -> Option<Backoff> {
        let Verdict::Retry { retry_after } =
            verdict(req, result, self.settings.retry_non_idempotent)
        else {
            self.finish(req.body().trace.as_ref(), result);
            return None;
        };
        let retries_done = self.attempts.saturating_sub(1);
        if retries_done >= self.settings.max_retries || !self.budget.withdraw() {
            self.finish(req.body().trace.as_ref(), result);
            return None;
        }
        let settings = &self.settings;
        let wait = match retry_after {
            Some(asked) => asked.min(settings.max_delay),
            None => backoff::delay(
                retries_done + 1,
                settings.base_delay,
                settings.max_delay,
                settings.jitter,
            ),
        };
        let trace = req.body().trace.as_ref();
        if let Some(trace) = trace {
            let (status, error) = match result {
                Ok(res) => (Some(res.status()), None),
                Err(err) => (None, Some(crate::error::classify(&**err))),
            };
            trace.retrying(req.uri(), wait, status, error);
        }
        Some(Backoff::new(wait, trace.and_then(Trace::park)))
    }

    fn clone_request(&mut self, req: &StackRequest) -> Option<StackRequest> {
        if self.settings.max_retries == 0 {
            // No retry will need the copy; the attempt count stays the
            // default of one.
            return None;
        }
        if self.attempts == 0 {
            self.budget.deposit();
        }
        self.attempts += 1;
        let mut clone = http::Request::new(req.body().clone());
        *clone.method_mut() = req.method().clone();
        *clone.uri_mut() = req.uri().clone();
        *clone.version_mut() = req.version();
        *clone.headers_mut() = req.headers().clone();
        *clone.extensions_mut() = req.extensions().clone();
        Some(clone)
    }
}
