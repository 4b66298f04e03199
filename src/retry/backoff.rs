//! The wait between two attempts.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::util::rng::{HasherRng, Rng};

use crate::admission::Parked;

/// The wait before retry number `retry` (from 1): exponential from `base`,
/// capped at `max`, and drawn uniformly below that when `jitter` is on.
pub(crate) fn delay(retry: u32, base: Duration, max: Duration, jitter: bool) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    let ceiling = base.saturating_mul(factor).min(max);
    if jitter {
        // A fresh generator per retry: one cloned from a shared seed would
        // give every request of a batch the same "random" wait.
        ceiling.mul_f64(HasherRng::new().next_f64())
    } else {
        ceiling
    }
}

pin_project! {
    /// Sleeps before a retry. While it sleeps, the request is parked: the
    /// batch it belongs to does not count it against its concurrency, so
    /// other inputs can start in its place.
    pub(crate) struct Backoff {
        #[pin]
        sleep: Sleep,
        parked: Option<Parked>,
    }
}

impl Backoff {
    pub(crate) fn new(wait: Duration, parked: Option<Parked>) -> Self {
        Backoff {
            sleep: tokio::time::sleep(wait),
            parked,
        }
    }
}

impl Future for Backoff {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        ready!(this.sleep.poll(cx));
        // Back in the running set before the next attempt asks for a permit.
        this.parked.take();
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_base_up_to_max() {
        let waits: Vec<_> = (1..=6)
            .map(|n| delay(n, 100 * MS, 1000 * MS, false))
            .collect();
        assert_eq!(
            waits,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
    }

    #[test]
    fn jitter_stays_below_the_ceiling_and_varies() {
        let waits: Vec<_> = (0..64)
            .map(|_| delay(3, 100 * MS, 10_000 * MS, true))
            .collect();
        assert!(waits.iter().all(|w| *w <= 400 * MS));
        assert!(
            waits.iter().any(|w| *w != waits[0]),
            "jitter gave one value 64 times"
        );
    }

    #[test]
    fn huge_retry_numbers_saturate() {
        assert_eq!(delay(u32::MAX, Duration::MAX, 5 * MS, false), 5 * MS);
    }
}
