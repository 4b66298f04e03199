//! Being told to stop: Ctrl-C (SIGINT), SIGTERM and SIGHUP.
//!
//! The first cancels the batch: what is under way gets its line, and the
//! summary and the report are written as at any end. The second asks for
//! haste: no more lines are written, what is buffered is flushed, and if
//! the run still has not ended after [`GRACE`] (stdout may be stuck), the
//! process ends anyway, flushing what it can.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use batch_fetch::Batch;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// How long the second signal waits for the run to end on its own.
const GRACE: Duration = Duration::from_secs(2);

/// A signal that stops the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, a service manager, a container stopping.
    Terminate,
    /// SIGHUP: the terminal went away.
    HangUp,
}

impl Stop {
    /// Why the run stopped, as the summary and the report say it.
    pub(crate) fn why(self) -> &'static str {
        match self {
            Stop::Interrupt => "interrupted (Ctrl-C)",
            Stop::Terminate => "terminated (SIGTERM)",
            Stop::HangUp => "hung up (SIGHUP)",
        }
    }

    /// The exit status a shell expects of a program the signal stopped:
    /// 128 and its number.
    pub(crate) fn exit_status(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
            Stop::HangUp => 129,
        }
    }
}

/// What the signals have said so far.
#[derive(Default)]
pub(crate) struct Stopping {
    first: OnceLock<Stop>,
    hurry: AtomicBool,
}

impl Stopping {
    /// The first signal, if one came.
    pub(crate) fn stopped_by(&self) -> Option<Stop> {
        self.first.get().copied()
    }

    /// Whether a second signal asked to end at once.
    pub(crate) fn hurried(&self) -> bool {
        self.hurry.load(Ordering::Relaxed)
    }
}

/// Listens for the signals on a task of its own: the first cancels
/// `batch`; the second sets [`Stopping::hurried`] and, if the process has
/// not ended within [`GRACE`], calls `last_words` (to flush what it can)
/// and exits.
///
/// # Errors
///
/// When a handler cannot be installed.
pub(crate) fn listen(
    batch: Batch,
    last_words: impl Fn() + Send + Sync + 'static,
) -> std::io::Result<Arc<Stopping>> {
    let mut signals = Signals::install()?;
    let stopping = Arc::new(Stopping::default());
    let state = stopping.clone();
    tokio::spawn(async move {
        let first = signals.next().await;
        let _ = state.first.set(first);
        batch.cancel();
        let again = match first {
            Stop::Interrupt => "Ctrl-C again",
            Stop::Terminate | Stop::HangUp => "a second signal",
        };
        crate::stderr::line(format_args!(
            "batch-fetch: {}, finishing up ({again} to quit at once)",
            first.why()
        ));
        signals.next().await;
        state.hurry.store(true, Ordering::Relaxed);
        let code = first.exit_status();
        // A thread, not a task: the runtime may be what is stuck.
        std::thread::spawn(move || {
            std::thread::sleep(GRACE);
            last_words();
            std::process::exit(code.into());
        });
    });
    Ok(stopping)
}

/// The three signals' streams.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hang_up: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hang_up: signal(SignalKind::hangup())?,
        })
    }

    /// The next of them to come.
    async fn next(&mut self) -> Stop {
        tokio::select! {
            Some(()) = self.interrupt.recv() => Stop::Interrupt,
            Some(()) = self.terminate.recv() => Stop::Terminate,
            Some(()) = self.hang_up.recv() => Stop::HangUp,
            // The streams end only with the runtime.
            else => std::future::pending().await,
        }
    }
}
