//! Writing the results, on a thread of its own: the lines on stdout, the
//! bodies under `--output-dir`, the report's rows.
//!
//! Writing blocks (a slow reader of stdout, a slow disk), and the task that
//! takes the batch's results is also the one that drives every request
//! under way: were it to block, bodies in flight would stall while their
//! timers run, and time out for nothing. So that task hands each result
//! over without waiting, and the writer's pace is felt at intake instead:
//! each input the batch takes needs a permit from [`Intake`], which the
//! writer gives back once that input's line is written. A slow reader
//! pauses the taking of new inputs, never the requests under way.

use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, Semaphore, mpsc};

use crate::files;
use crate::input::Origin;
use crate::outcome::Outcome;
use crate::output::{self, Record};
use crate::report::Report;
use crate::signals::Stopping;

/// One input's result, for the writer.
pub(crate) struct Finished {
    /// The input's index.
    pub(crate) index: usize,
    /// Its position in the batch; none when it was not sent.
    pub(crate) position: Option<usize>,
    pub(crate) origin: Origin,
    pub(crate) outcome: Outcome,
}

/// What is written besides the line.
pub(crate) struct Settings {
    /// Whether a kept file's line has its SHA-256 (`--checksum`; a
    /// download's comes with it).
    pub(crate) checksum: bool,
    /// Whether the body goes into the line (`--body`).
    pub(crate) with_body: bool,
    /// Whether to stop at the first failed input (`--fail-fast`).
    pub(crate) fail_fast: bool,
    /// The report that gets each input's row.
    pub(crate) report: Option<Report>,
}

/// What the writer did, for the summary.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Inputs failed by the tool's measure (an error, a status of 400 or
    /// more, a file it could not use), and outputs it could not write.
    pub(crate) failed: u64,
    /// Inputs not sent, which the batch's own counts leave out.
    pub(crate) not_sent: u64,
    /// Of those, files kept from an earlier run (`--continue`).
    pub(crate) kept: u64,
    /// Inputs whose request was cancelled (a signal, the deadline).
    pub(crate) cancelled: u64,
    /// Lines left unwritten because a second signal asked for haste.
    pub(crate) unwritten: u64,
    /// Whether writing stopped before the results did: the output is
    /// gone, or `--fail-fast` met a failure only the writer sees.
    pub(crate) stopped_early: bool,
}

/// The permits that bound the inputs taken but not yet written.
#[derive(Clone)]
pub(crate) struct Intake(Arc<Semaphore>);

impl Intake {
    /// Room for `ahead` inputs between the batch's intake and the output.
    pub(crate) fn new(ahead: usize) -> Self {
        Intake(Arc::new(Semaphore::new(
            ahead.clamp(1, Semaphore::MAX_PERMITS),
        )))
    }

    /// Waits for room for one more input.
    pub(crate) async fn admit(&self) {
        if let Ok(permit) = self.0.acquire().await {
            // Given back by `release`, from the writer's thread.
            permit.forget();
        }
    }

    /// Gives back the room of one input, now written.
    fn release(&self) {
        self.0.add_permits(1);
    }
}

/// Stdout, buffered, shared with the last words of a second signal.
#[derive(Clone)]
pub(crate) struct Stdout(Arc<Mutex<BufWriter<io::Stdout>>>);

impl Stdout {
    /// The process's stdout, behind a buffer.
    pub(crate) fn new() -> Self {
        Stdout(Arc::new(Mutex::new(BufWriter::with_capacity(
            64 << 10,
            io::stdout(),
        ))))
    }

    /// Flushes what is buffered, unless a line is being written (the
    /// reader may be stuck; waiting for it would not end).
    pub(crate) fn flush_if_idle(&self) {
        if let Ok(mut out) = self.0.try_lock() {
            let _ = out.flush();
        }
    }

    fn lock(&self) -> MutexGuard<'_, BufWriter<io::Stdout>> {
        // A panic mid-line leaves at worst a line cut, which is no reason
        // to stop writing the others.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer's thread, and the way to it.
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Finished>,
    done: tokio::task::JoinHandle<Written>,
    stopped: Arc<Notify>,
}

impl Writer {
    /// Starts writing to `out`; each result written gives its permit back
    /// to `intake`.
    pub(crate) fn start(
        settings: Settings,
        out: Stdout,
        intake: Intake,
        stopping: Arc<Stopping>,
    ) -> Self {
        // Unbounded, yet never longer than the intake's permits.
        let (queue, results) = mpsc::unbounded_channel();
        let stopped = Arc::new(Notify::new());
        let signal = stopped.clone();
        let done = tokio::task::spawn_blocking(move || {
            write_all(results, &settings, &out, &intake, &stopping, &signal)
        });
        Writer {
            queue,
            done,
            stopped,
        }
    }

    /// Hands a result over, without waiting; false when the writer is
    /// gone (it panicked, which [`Writer::finish`] reports).
    #[must_use]
    pub(crate) fn send(&self, finished: Finished) -> bool {
        self.queue.send(finished).is_ok()
    }

    /// Resolves when the writer stops writing before the results end
    /// (see [`Written::stopped_early`]).
    pub(crate) async fn stopped(&self) {
        self.stopped.notified().await;
    }

    /// Writes what is queued, flushes, and says what was written.
    pub(crate) async fn finish(self) -> Written {
        drop(self.queue);
        match self.done.await {
            Ok(written) => written,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// The writer's loop.
fn write_all(
    mut results: mpsc::UnboundedReceiver<Finished>,
    settings: &Settings,
    out: &Stdout,
    intake: &Intake,
    stopping: &Stopping,
    stopped: &Notify,
) -> Written {
    let mut written = Written::default();
    while let Some(finished) = results.blocking_recv() {
        if !written.stopped_early {
            write_one(finished, settings, out, stopping, &mut written);
            // Lines go out as soon as nothing more is waiting, so a
            // reader sees each result when it comes, not a buffer later.
            if !written.stopped_early
                && results.is_empty()
                && let Err(e) = out.lock().flush()
            {
                cannot_write(&e, &mut written);
            }
            if written.stopped_early {
                stopped.notify_one();
            }
        }
        intake.release();
    }
    if let Err(e) = out.lock().flush() {
        cannot_write(&e, &mut written);
    }
    written
}

/// Stdout cannot take more: the run stops, and says why unless the
/// reader simply left (a closed pipe, as with `| head`).
fn cannot_write(e: &io::Error, written: &mut Written) {
    if !written.stopped_early && e.kind() != io::ErrorKind::BrokenPipe {
        crate::stderr::line(format_args!("batch-fetch: cannot write the output: {e}"));
        written.failed += 1;
    }
    written.stopped_early = true;
}

/// One result: its row in the report, its line.
fn write_one(
    Finished {
        index,
        position,
        origin,
        mut outcome,
    }: Finished,
    settings: &Settings,
    out: &Stdout,
    stopping: &Stopping,
    written: &mut Written,
) {
    let hurried = stopping.hurried();
    let mut sha256 = None;
    if let (Outcome::Kept { path, .. }, true, false) = (&outcome, settings.checksum, hurried) {
        match files::sha256(path) {
            Ok(sha) => sha256 = Some(output::hex(&sha)),
            Err(e) => outcome = Outcome::FileFailed(format!("cannot read {}: {e}", path.display())),
        }
    }
    let failure = outcome.failed();
    written.failed += u64::from(failure);
    written.cancelled += u64::from(outcome.cancelled());
    written.not_sent += u64::from(position.is_none());
    written.kept += u64::from(matches!(outcome, Outcome::Kept { .. }));
    let mut record = Record::new(index, position, &origin, &outcome, settings.with_body);
    if sha256.is_some() {
        record.sha256 = sha256;
    }
    if let Some(report) = &settings.report {
        report.finish(
            index,
            position,
            &origin,
            &outcome,
            failure.then(|| record.failure()),
        );
    }
    if hurried {
        written.unwritten += 1;
        return;
    }
    let line = serde_json::to_vec(&record).map(|mut line| {
        line.push(b'\n');
        line
    });
    if let Err(e) = line
        .map_err(io::Error::from)
        .and_then(|line| out.lock().write_all(&line))
    {
        cannot_write(&e, written);
    }
    // The loop that hands results over stops at a failure it sees; this
    // one may find its own (a kept file it cannot read).
    if failure && settings.fail_fast {
        written.stopped_early = true;
    }
}
