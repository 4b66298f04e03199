//! Rate limits (GCRA, by governor), for the whole client or per origin.
//!
//! A limit of `n` per `period` lets one request through every
//! `period / n`. Up to 50 a second there is no burst: never more than `n`
//! in any window of `period`, which is what a server that counts requests
//! per window enforces. Faster, a request woken late may be followed at
//! once by the next, making up to 20 ms of lateness (see
//! `LATENESS_TOLERANCE`), so the long-run rate is the one asked for and a
//! window holds at most `n × (1 + 20 ms / period)`.
//!
//! Each limit also has a *line*: a one-permit semaphore (tokio's are
//! fair, first come first served) that requests which found no slot wait
//! in. Only the head of the line sleeps until the next slot; without it,
//! every waiting request would wake for every slot, and a thousand of
//! them under a limit of a thousand a second burn a core and lose slots.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::hosts::Hosts;

/// A rate limit for the whole client.
#[derive(Debug)]
pub(super) struct Rate {
    limiter: RateLimiter<NotKeyed, InMemoryState, MonotonicClock>,
    line: Arc<Semaphore>,
}

/// No slot now: how long until the next one, and the line to wait in.
#[derive(Debug)]
pub(super) struct Full {
    pub(super) wait: Duration,
    pub(super) line: Arc<Semaphore>,
}

impl Rate {
    /// One request per `spacing`.
    pub(super) fn new(spacing: Duration) -> Self {
        Rate {
            limiter: RateLimiter::direct_with_clock(quota(spacing), MonotonicClock),
            line: Arc::new(Semaphore::new(1)),
        }
    }

    /// Takes a slot now, or says how long until one is free.
    pub(super) fn take(&self) -> Result<(), Full> {
        self.limiter.check().map_err(|later| Full {
            wait: later.wait_time_from(MonotonicClock.now()),
            line: self.line.clone(),
        })
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
    lines: Hosts,
}

impl HostRate {
    /// One request per `spacing` to each origin.
    pub(super) fn new(spacing: Duration) -> Self {
        HostRate {
            limiter: RateLimiter::hashmap_with_clock(quota(spacing), MonotonicClock),
            checks: AtomicUsize::new(0),
            lines: Hosts::new(1),
        }
    }

    /// Takes a slot for `origin` now, or says how long until one is free.
    pub(super) fn take(&self, origin: &String) -> Result<(), Full> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(origin).map_err(|later| Full {
            wait: later.wait_time_from(MonotonicClock.now()),
            line: self.lines.semaphore(origin),
        })
    }
}

/// How late a request may be woken without losing its slot. Waits end on
/// the timer's 1 ms ticks, so each slot is taken a little late; without
/// a tolerance that lateness adds up (a limit of 200 a second gave 160).
/// A tolerance below the spacing cannot be expressed (governor counts it
/// in slots), so it only applies to spacings below it.
const LATENESS_TOLERANCE: Duration = Duration::from_millis(20);

fn quota(spacing: Duration) -> Quota {
    // The builder checked that the spacing is not zero.
    let quota = Quota::with_period(spacing).expect("rate limit spacing is above zero");
    let burst = 1 + (LATENESS_TOLERANCE.as_nanos() - 1) / spacing.as_nanos();
    match NonZeroU32::new(u32::try_from(burst).unwrap_or(u32::MAX)) {
        Some(burst) => quota.allow_burst(burst),
        None => quota,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_spacing_without_burst() {
        let rate = Rate::new(Duration::from_secs(10));
        assert!(rate.take().is_ok());
        let full = rate.take().unwrap_err();
        assert!(full.wait > Duration::from_secs(9), "{:?}", full.wait);
    }

    #[test]
    fn fast_limits_tolerate_20_ms_of_lateness() {
        let slots = |spacing| {
            let rate = Rate::new(spacing);
            (0..100).take_while(|_| rate.take().is_ok()).count()
        };
        assert_eq!(slots(Duration::from_millis(20)), 1);
        assert_eq!(slots(Duration::from_millis(10)), 2);
        assert_eq!(slots(Duration::from_millis(5)), 4);
    }

    #[test]
    fn origins_are_limited_apart() {
        let rate = HostRate::new(Duration::from_secs(10));
        let (a, b) = (String::from("http://a:80"), String::from("http://b:80"));
        assert!(rate.take(&a).is_ok());
        assert!(rate.take(&b).is_ok());
        let full = rate.take(&a).unwrap_err();
        assert!(Arc::ptr_eq(&full.line, &rate.take(&a).unwrap_err().line));
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
