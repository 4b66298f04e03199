//! Rate limits (GCRA, by governor), for the whole client or per origin.
//!
//! A limit of `n` per `period` lets one request through every
//! `period / n`, with no burst: there are never more than `n` in any
//! window of `period`, which is what a server that counts requests per
//! window enforces.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A rate limit for the whole client.
#[derive(Debug)]
pub(super) struct Rate {
    limiter: RateLimiter<NotKeyed, InMemoryState, MonotonicClock>,
}

impl Rate {
    /// One request per `spacing`.
    pub(super) fn new(spacing: Duration) -> Self {
        Rate {
            limiter: RateLimiter::direct_with_clock(quota(spacing), MonotonicClock),
        }
    }

    /// Takes a slot now, or says how long until one is free.
    pub(super) fn take(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|later| later.wait_time_from(MonotonicClock.now()))
    }
}

/// The origins' rate states are kept in a map; this many checks apart,
/// the map forgets origins whose state is back to fresh.
const SWEEP_EVERY: usize = 4096;

/// A rate limit per origin.
#[derive(Debug)]
pub(super) struct HostRate {
    limiter: RateLimiter<String, HashMapStateStore<String>, MonotonicClock>,
    checks: AtomicUsize,
}

impl HostRate {
    /// One request per `spacing` to each origin.
    pub(super) fn new(spacing: Duration) -> Self {
        HostRate {
            limiter: RateLimiter::hashmap_with_clock(quota(spacing), MonotonicClock),
            checks: AtomicUsize::new(0),
        }
    }

    /// Takes a slot for `origin` now, or says how long until one is free.
    pub(super) fn take(&self, origin: &String) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(origin)
            .map_err(|later| later.wait_time_from(MonotonicClock.now()))
    }
}

fn quota(spacing: Duration) -> Quota {
    // The builder checked that the spacing is not zero.
    Quota::with_period(spacing).expect("rate limit spacing is above zero")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_spacing_without_burst() {
        let rate = Rate::new(Duration::from_secs(10));
        assert!(rate.take().is_ok());
        let wait = rate.take().unwrap_err();
        assert!(wait > Duration::from_secs(9), "{wait:?}");
    }

    #[test]
    fn origins_are_limited_apart() {
        let rate = HostRate::new(Duration::from_secs(10));
        let (a, b) = (String::from("http://a:80"), String::from("http://b:80"));
        assert!(rate.take(&a).is_ok());
        assert!(rate.take(&b).is_ok());
        assert!(rate.take(&a).is_err());
    }

    #[test]
    fn fresh_origins_are_forgotten() {
        let rate = HostRate::new(Duration::from_nanos(1));
        for i in 0..2 * SWEEP_EVERY {
            let _ = rate.take(&format!("http://h{i}:80"));
        }
        assert!(rate.limiter.len() < SWEEP_EVERY, "{}", rate.limiter.len());
    }
}
