//! `batch-fetch`: fetch the URLs of a file or of stdin, many at once and
//! politely, and say what happened: one JSON line per input on stdout, a
//! progress bar and a summary on stderr.
//!
//! The workspace's `cli` package: `cargo run --release -p batch-fetch-cli
//! -- urls.txt`, or `cargo install --path cli`.

#![forbid(unsafe_code)]

mod args;
mod command_line;
mod files;
mod input;
mod output;
mod redact;
mod replace_file;
mod report;
mod signals;
mod summary;
mod writer;

use std::io::IsTerminal;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use batch_fetch::{Error, Response};
use clap::Parser;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncBufRead, BufReader};

use args::Args;
use input::Origins;
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
    eprintln!("batch-fetch: {}", redact::userinfo(reason));
    ExitCode::from(2)
}

type Results = Pin<Box<dyn Stream<Item = (usize, Result<Response, Error>)> + Send>>;

/// Runs the batch; `Err` is a usage error (exit status 2).
async fn run(args: Args) -> Result<ExitCode, String> {
    if args.deadline.is_some_and(|d| d.is_zero()) {
        return Err("--deadline must be longer than zero".into());
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
    let lines = input::spawn_reader(reader, origins.clone());
    // Each input taken waits for room between the batch and the output
    // (see `writer`): the batch's own concurrency, and as many again.
    let intake = Intake::new(args.concurrency.saturating_mul(2).max(16));
    // Counted as the batch takes them, so the progress bar follows the
    // inputs started, not the reader's read-ahead; and whether it took
    // them all, so a run stopped early can say so.
    let taken = read.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let all_taken = Arc::new(AtomicBool::new(false));
    let inputs = futures_util::stream::unfold(lines, {
        let (started, all_taken, intake) = (started.clone(), all_taken.clone(), intake.clone());
        move |mut lines| {
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
                        Some((input, lines))
                    }
                    None => {
                        all_taken.store(true, Ordering::Relaxed);
                        None
                    }
                }
            }
        }
    });
    let inputs = batch_fetch::from_stream(Box::pin(inputs));

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
    let mut results: Results = if args.ordered {
        Box::pin(batch.fetch_stream_ordered(inputs))
    } else {
        Box::pin(batch.fetch_stream(inputs))
    };

    let progress = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| summary::ProgressLine::start(batch.clone(), TICK, read, input_size));

    let settings = writer::Settings {
        output_dir: args.output_dir.clone(),
        with_body: args.body,
        fail_fast: args.fail_fast,
        report: report.as_ref().map(|(_, _, report)| report.clone()),
    };
    let writer = Writer::start(settings, out, intake, stopping.clone());
    let mut stopped_early = false;
    loop {
        // Never waits on the writer: this loop drives the requests under way.
        let (index, result) = tokio::select! {
            biased;
            () = writer.stopped() => {
                stopped_early = true;
                break;
            }
            next = results.next() => match next {
                Some(next) => next,
                None => break,
            },
        };
        let failure = match &result {
            Ok(res) => res.status().as_u16() >= 400,
            Err(_) => true,
        };
        let origin = origins.take(index);
        let sent = writer.send(Finished {
            index,
            origin,
            result,
        });
        if !sent {
            stopped_early = true;
            break;
        }
        if failure && args.fail_fast {
            stopped_early = true;
            break;
        }
    }
    // Dropping the stream cancels what is still in flight.
    drop(results);
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
            eprintln!(
                "batch-fetch: cannot write the report {}: {e}",
                path.display()
            );
            failed += 1;
        }
    }
    if !args.quiet {
        eprint!("{}", summary::table(&stats, failed));
        if stopped_early && args.fail_fast {
            eprintln!("stopped at the first failed input (--fail-fast)");
        }
        if let Some(cut_short) = &cut_short {
            eprintln!("{cut_short}");
        }
        if stopping.hurried() {
            let n = written.unwritten;
            eprintln!(
                "stopped again: {n} line{} left unwritten",
                plural(n as usize)
            );
        }
    }
    Ok(if let Some(stop) = stopped_by {
        ExitCode::from(stop.exit_status())
    } else if (failed > 0 || unsent) && !args.allow_failures {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
