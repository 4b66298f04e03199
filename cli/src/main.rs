//! `batch-fetch`: fetch the URLs of a file or of stdin, many at once and
//! politely, and say what happened: one JSON line per input on stdout, a
//! progress bar and a summary on stderr.
//!
//! The workspace's `cli` package: `cargo run --release -p batch-fetch-cli
//! -- urls.txt`, or `cargo install --path cli`.

#![forbid(unsafe_code)]

mod args;
mod command_line;
mod downloads;
mod files;
mod input;
mod outcome;
mod output;
mod redact;
mod reorder;
mod replace_file;
mod report;
mod resume;
mod signals;
mod stderr;
mod summary;
mod writer;

use std::io::IsTerminal;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncBufRead, BufReader};
use tokio::sync::mpsc;

use args::Args;
use input::Origins;
use outcome::Outcome;
use reorder::Reorder;
use replace_file::Replacement;
use report::Report;
use writer::{Finished, Intake, Writer};

/// How often the progress bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    // clap exits with status 2 and its own message on a usage error.
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return usage_error(&format!("cannot start the runtime: {e}")),
    };
    let outcome = runtime.block_on(run(args));
    // Everything is written by now. Not waiting for the runtime's threads:
    // one may be blocked reading a stdin that has more to say (a run cut
    // short by --fail-fast, --deadline or Ctrl-C).
    runtime.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(reason) => usage_error(&reason),
    }
}

/// Status 2, with one line on stderr.
fn usage_error(reason: &str) -> ExitCode {
    stderr::line(format_args!("batch-fetch: {}", redact::userinfo(reason)));
    ExitCode::from(2)
}

/// The batch's results, by batch position.
type Results = Pin<Box<dyn Stream<Item = (usize, Outcome)> + Send>>;

/// Runs the batch; `Err` is a usage error (exit status 2).
async fn run(args: Args) -> Result<ExitCode, String> {
    if args.deadline.is_some_and(|d| d.is_zero()) {
        return Err("--deadline must be longer than zero".into());
    }
    if let Some(n) = args.shard_key {
        let (reader, _) = open(&args).await?;
        input::print_shard_keys(reader, n)
            .await
            .map_err(|e| format!("cannot print the shard keys: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let client = args.client()?;
    let (reader, input_size) = open(&args).await?;
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot make the output directory {}: {e}", dir.display()))?;
    }

    // Started before the first request, so a path that cannot be written
    // is a usage error, not the loss of a finished run; the old report
    // stays in place until the new one is whole.
    let report = match &args.report {
        Some(path) => {
            let file = Replacement::start(path)
                .map_err(|e| format!("cannot write the report {}: {e}", path.display()))?;
            Some((file, path, Report::new(args.report_rows as usize)))
        }
        None => None,
    };

    let origins = Origins::default();
    let read = Arc::new(AtomicU64::new(0));
    let finished = match &args.resume {
        Some(path) => {
            let finished = resume::read(path).map_err(|e| {
                format!(
                    "cannot read the earlier run's lines {}: {e}",
                    path.display()
                )
            })?;
            stderr::line(format_args!(
                "batch-fetch: {} input(s) finished in {}: skipped",
                finished.len(),
                path.display()
            ));
            Some(Arc::new(finished))
        }
        None => None,
    };
    let lines = input::spawn_reader(reader, origins.clone(), args.shard, finished);
    // Each input taken waits for room between the batch and the output
    // (see `writer`): the batch's own concurrency, and as many again.
    let intake = Intake::new(args.concurrency.saturating_mul(2).max(16));
    // Counted as the batch takes them, so the progress bar follows the
    // inputs started, not the reader's read-ahead; and whether it took
    // them all, so a run stopped early can say so.
    let taken = read.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let all_taken = Arc::new(AtomicBool::new(false));
    // By input index, which the reader gives in order from 0.
    let inputs = futures_util::stream::unfold((lines, 0usize), {
        let (started, all_taken, intake) = (started.clone(), all_taken.clone(), intake.clone());
        move |(mut lines, index)| {
            let (taken, started, all_taken, intake) = (
                taken.clone(),
                started.clone(),
                all_taken.clone(),
                intake.clone(),
            );
            async move {
                intake.admit().await;
                match lines.recv().await {
                    Some((input, bytes)) => {
                        taken.fetch_add(bytes, Ordering::Relaxed);
                        started.fetch_add(1, Ordering::Relaxed);
                        Some(((index, input), (lines, index + 1)))
                    }
                    None => {
                        all_taken.store(true, Ordering::Relaxed);
                        None
                    }
                }
            }
        }
    });

    let mut batch = match args.deadline {
        Some(deadline) => client.batch().deadline(deadline),
        None => client.batch().no_deadline(),
    };
    if let Some((_, _, report)) = &report {
        batch = batch.observer(report.observer());
    }
    let began = Instant::now();
    let out = writer::Stdout::new();
    let stopping = signals::listen(batch.clone(), {
        let out = out.clone();
        let unfinished = report
            .as_ref()
            .map(|(file, ..)| file.temporary().to_owned());
        move || {
            out.flush_if_idle();
            // The old report stays; the half-written new one goes.
            if let Some(path) = &unfinished {
                let _ = std::fs::remove_file(path);
            }
        }
    })
    .map_err(|e| format!("cannot handle signals: {e}"))?;
    // Inputs that are not sent (see `downloads`) have their outcome here.
    let (not_sent, mut unsent_outcomes) = mpsc::unbounded_channel();
    let mut results: Results = match &args.output_dir {
        Some(dir) => {
            let targets = downloads::Targets {
                dir: dir.clone(),
                keep_complete: args.continue_run,
                origins: origins.clone(),
                not_sent,
            };
            let items = downloads::targets(inputs, targets);
            let downloads = batch.download_stream(batch_fetch::from_stream(Box::pin(items)));
            Box::pin(downloads.map(|(at, result)| (at, Outcome::Downloaded(result))))
        }
        None => {
            drop(not_sent);
            let origins = origins.clone();
            let inputs = inputs.map(move |(index, input)| {
                origins.to_batch(index);
                input
            });
            let inputs = batch_fetch::from_stream(Box::pin(inputs));
            let fetched = |(at, result)| (at, Outcome::Fetched(result));
            if args.ordered {
                Box::pin(batch.fetch_stream_ordered(inputs).map(fetched))
            } else {
                Box::pin(batch.fetch_stream(inputs).map(fetched))
            }
        }
    };

    let progress = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| summary::ProgressLine::start(batch.clone(), TICK, read, input_size));

    let settings = writer::Settings {
        checksum: args.checksum,
        with_body: args.body,
        fail_fast: args.fail_fast,
        report: report.as_ref().map(|(_, _, report)| report.clone()),
    };
    let writer = Writer::start(settings, out, intake, stopping.clone());
    let mut handing = HandOver {
        writer: &writer,
        order: args.ordered.then(Reorder::new),
        fail_fast: args.fail_fast,
    };
    let mut stopped_early = false;
    loop {
        // Never waits on the writer: this loop drives the requests under way.
        let (index, position, outcome) = tokio::select! {
            biased;
            () = writer.stopped() => {
                stopped_early = true;
                break;
            }
            Some((index, outcome)) = unsent_outcomes.recv() => (index, None, outcome),
            next = results.next() => match next {
                Some((at, outcome)) => (origins.at_position(at), Some(at), outcome),
                None => break,
            },
        };
        let origin = origins.take(index);
        if !handing.give(Finished {
            index,
            position,
            origin,
            outcome,
        }) {
            stopped_early = true;
            break;
        }
    }
    // Dropping the stream cancels what is still in flight.
    drop(results);
    if !stopped_early {
        // Sent before the batch's inputs ended, so before its results did.
        while let Ok((index, outcome)) = unsent_outcomes.try_recv() {
            let origin = origins.take(index);
            let finished = Finished {
                index,
                position: None,
                origin,
                outcome,
            };
            if !handing.give(finished) {
                stopped_early = true;
                break;
            }
        }
    }
    if !stopped_early && let Some(order) = handing.order.take() {
        for finished in order.rest() {
            if !handing.pass(finished) {
                break;
            }
        }
    }
    let written = writer.finish().await;
    let stopped_early = stopped_early || written.stopped_early;
    let (mut failed, cancelled) = (written.failed, written.cancelled);
    if let Some(progress) = progress {
        progress.finish();
    }
    let stats = batch.stats();
    let stopped_by = stopping.stopped_by();
    // Why inputs were left unsent, when they were.
    let cut_short = if stopped_early || all_taken.load(Ordering::Relaxed) && cancelled == 0 {
        None
    } else {
        let why = if let Some(stop) = stopped_by {
            stop.why().to_string()
        } else if let Some(deadline) = args.deadline.filter(|d| began.elapsed() >= *d) {
            format!("stopped at the --deadline of {deadline:?}")
        } else {
            "stopped".to_string()
        };
        let started = started.load(Ordering::Relaxed);
        let rest = if all_taken.load(Ordering::Relaxed) {
            "every input had been started".to_string()
        } else {
            format!(
                "nothing after the first {started} input{} was sent",
                plural(started)
            )
        };
        let were = if cancelled == 1 { "was" } else { "were" };
        Some(format!(
            "{why}: {cancelled} request{} under way {were} cancelled; {rest}",
            plural(cancelled as usize)
        ))
    };
    // Inputs left unsent did not succeed either.
    let unsent = cut_short.is_some() && !all_taken.load(Ordering::Relaxed);
    if let Some((file, path, report)) = report {
        let page = report.render(&stats, &command_line::shown(), cut_short.as_deref());
        if let Err(e) = file.commit(page.as_bytes()) {
            stderr::line(format_args!(
                "batch-fetch: cannot write the report {}: {e}",
                path.display()
            ));
            failed += 1;
        }
    }
    if !args.quiet {
        // One write: beside other processes' summaries, each stays whole.
        let mut ending = summary::table(&stats, failed, written.not_sent, written.kept);
        if stopped_early && args.fail_fast {
            ending.push_str("stopped at the first failed input (--fail-fast)\n");
        }
        if let Some(cut_short) = &cut_short {
            ending.push_str(&format!("{cut_short}\n"));
        }
        if stopping.hurried() {
            let n = written.unwritten;
            ending.push_str(&format!(
                "stopped again: {n} line{} left unwritten\n",
                plural(n as usize)
            ));
        }
        stderr::block(&ending);
    }
    Ok(if let Some(stop) = stopped_by {
        ExitCode::from(stop.exit_status())
    } else if (failed > 0 || unsent) && !args.allow_failures {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The outcomes on their way to the writer: in input order with
/// `--ordered`, and stopping at the first failure with `--fail-fast`.
struct HandOver<'a> {
    writer: &'a Writer,
    order: Option<Reorder<Finished>>,
    fail_fast: bool,
}

impl HandOver<'_> {
    /// Takes one outcome; false when the run stops here.
    fn give(&mut self, finished: Finished) -> bool {
        let Some(order) = &mut self.order else {
            return self.pass(finished);
        };
        order.hold(finished.index, finished);
        while let Some(due) = self.order.as_mut().and_then(Reorder::next_due) {
            if !self.pass(due) {
                return false;
            }
        }
        true
    }

    /// Hands one outcome to the writer; false when the run stops here.
    fn pass(&self, finished: Finished) -> bool {
        let failure = finished.outcome.failed();
        self.writer.send(finished) && !(failure && self.fail_fast)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The input, and its size when it is a plain file (none for stdin or a
/// pipe).
type Opened = (Box<dyn AsyncBufRead + Unpin + Send>, Option<u64>);

/// The input file, or stdin.
async fn open(args: &Args) -> Result<Opened, String> {
    match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let size = match file.metadata().await {
                Ok(meta) if meta.is_file() => Some(meta.len()),
                _ => None,
            };
            Ok((Box::new(BufReader::with_capacity(64 << 10, file)), size))
        }
        _ => Ok((Box::new(BufReader::new(tokio::io::stdin())), None)),
    }
}
