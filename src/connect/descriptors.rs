//! Running out of file descriptors is back-pressure, not failure.
//!
//! A batch at concurrency 10,000 in a process allowed 1,024 open files
//! opens connections until `socket()` fails with `EMFILE`, and a client
//! that reports that failure loses every request past the thousandth.
//! Here a connect that fails for want of a descriptor waits instead: in a
//! fair line, for one of this client's connections to close (or a short
//! while, as descriptors are also freed elsewhere in the process), then
//! tries again. Meanwhile the requests are served by the connections
//! already open, which the pool hands over as they come free, so the
//! effective concurrency shrinks to what the process can hold.
//!
//! Only when no connect has succeeded and no connection has closed for a
//! whole connect timeout does a connect fail, with an error that names the
//! open-file limit; the ones waiting behind it then fail at once.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use tokio::sync::{Notify, Semaphore};

use crate::error::{BoxError, chain};

/// How long a waiting connect sleeps before trying again when none of
/// this client's connections closes meanwhile.
const RECHECK: Duration = Duration::from_millis(50);

/// Shared by all the connects of one client.
#[derive(Debug)]
pub(crate) struct Descriptors {
    /// One waiting connect tries at a time, first come first served: the
    /// others would only fail again.
    line: Arc<Semaphore>,
    freed: Notify,
    /// When a connect last succeeded or a connection last closed, in
    /// nanoseconds since `epoch`.
    progress: AtomicU64,
    epoch: Instant,
    /// How long without progress before giving up: the connect timeout.
    patience: Duration,
    /// Closes one of the client's idle connections; false when none is.
    evict: OnceLock<Evict>,
}

/// How a connect in want of a descriptor frees one.
struct Evict(Box<dyn Fn() -> bool + Send + Sync>);

impl std::fmt::Debug for Evict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Evict")
    }
}

impl Descriptors {
    pub(crate) fn new(patience: Duration) -> Self {
        Descriptors {
            line: Arc::new(Semaphore::new(1)),
            freed: Notify::new(),
            progress: AtomicU64::new(0),
            epoch: Instant::now(),
            patience,
            evict: OnceLock::new(),
        }
    }

    /// A connect in want of a descriptor first calls `evict`, which closes
    /// one of the client's idle connections (false when there is none), and
    /// tries again at once if it did: an idle connection to another
    /// origin is worth less than the connection a request waits for.
    pub(crate) fn evict_with(&self, evict: impl Fn() -> bool + Send + Sync + 'static) {
        let _ = self.evict.set(Evict(Box::new(evict)));
    }

    fn evicted(&self) -> bool {
        self.evict.get().is_some_and(|evict| (evict.0)())
    }

    /// One of this client's connections closed: its descriptor is free.
    pub(crate) fn freed(&self) {
        self.mark_progress();
        self.freed.notify_one();
    }

    fn mark_progress(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.progress.fetch_max(nanos, Ordering::Relaxed);
    }

    fn stalled_for(&self) -> Duration {
        let last = Duration::from_nanos(self.progress.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Runs `connect`, and again each time it fails for want of a file
    /// descriptor, as long as connections keep coming and going.
    pub(crate) async fn connect<T, F, Fut>(&self, mut connect: F) -> Result<T, BoxError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
    {
        match connect().await {
            Err(err) if out_of_descriptors(&*err) => {}
            other => return other,
        }
        // A descriptor of an idle connection, if there is one.
        while self.evicted() {
            match connect().await {
                Err(err) if out_of_descriptors(&*err) => {}
                other => return other,
            }
        }
        let started = Instant::now();
        let _turn = self.line.acquire().await;
        loop {
            match connect().await {
                Err(err) if out_of_descriptors(&*err) => {
                    if self.evicted() {
                        continue;
                    }
                    // Progress before this connect began does not count:
                    // it has waited its own patience out too.
                    if self.stalled_for().min(started.elapsed()) >= self.patience {
                        return Err(Box::new(OutOfDescriptors {
                            waited: self.patience,
                            source: err,
                        }));
                    }
                    let freed = pin!(self.freed.notified());
                    let recheck = pin!(tokio::time::sleep(RECHECK));
                    if let Either::Left(((), _)) = select(freed, recheck).await {
                        // Another connection may close before we connect:
                        // leave no wake-up unused.
                    }
                }
                other => {
                    if other.is_ok() {
                        self.mark_progress();
                    }
                    return other;
                }
            }
        }
    }
}

/// Whether `err` (or what caused it) is the process or the system running
/// out of file descriptors.
pub(crate) fn out_of_descriptors(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    // EMFILE and ENFILE on Linux and the BSDs; WSAEMFILE on Windows.
    const CODES: [i32; 3] = [24, 23, 10024];
    chain(Some(err as &(dyn std::error::Error + 'static))).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| CODES.contains(&code))
    })
}

/// A connect that found no file descriptor for a whole connect timeout.
#[derive(Debug, thiserror::Error)]
#[error(
    "out of file descriptors: the process's open-file limit was reached and no connection \
     closed to free one for {waited:?}"
)]
pub(crate) struct OutOfDescriptors {
    waited: Duration,
    #[source]
    source: BoxError,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> BoxError {
        Box::new(std::io::Error::from_raw_os_error(24))
    }

    #[test]
    fn names_the_descriptor_errors_only() {
        assert!(out_of_descriptors(&*emfile()));
        let refused: BoxError =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!out_of_descriptors(&*refused));
    }

    #[tokio::test]
    async fn waits_while_connections_come_and_go() {
        let descriptors = Descriptors::new(Duration::from_secs(5));
        let mut failures = 3;
        let result = descriptors
            .connect(|| {
                let outcome = if failures > 0 { Err(emfile()) } else { Ok(7) };
                failures -= 1;
                descriptors.freed();
                async move { outcome }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
    }

    #[tokio::test]
    async fn gives_up_after_the_patience_without_progress() {
        let descriptors = Descriptors::new(Duration::from_millis(120));
        let started = Instant::now();
        let err = descriptors
            .connect(|| async { Err::<(), _>(emfile()) })
            .await
            .unwrap_err();
        assert!(err.is::<OutOfDescriptors>(), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(120));
        assert!(err.to_string().contains("open-file limit"), "{err}");
    }
}
