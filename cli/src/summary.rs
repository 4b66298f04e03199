//! What stderr shows: a progress line while the batch runs (on a
//! terminal), and a summary table at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use batch_fetch::{Batch, BatchStats};
use indicatif::{ProgressBar, ProgressStyle};

/// A line redrawn from the batch's progress until finished. The input is
/// streamed, so the number of inputs is not known ahead: for a file, the
/// bar and its ETA follow the bytes of it the batch has taken (which run
/// ahead of the finished inputs by those in flight); for stdin, a spinner.
pub(crate) struct ProgressLine {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl ProgressLine {
    pub(crate) fn start(
        batch: Batch,
        every: Duration,
        read: Arc<AtomicU64>,
        input_size: Option<u64>,
    ) -> Self {
        let (bar, template) = match input_size {
            Some(size) => (
                ProgressBar::new(size.max(1)),
                "{bar:30} {percent:>3}% ETA {eta} | {msg}",
            ),
            None => (ProgressBar::new_spinner(), "{spinner} {msg}"),
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(every);
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let p = batch.progress();
                shown.set_position(read.load(Ordering::Relaxed));
                shown.set_message(p.to_string());
            }
        });
        ProgressLine { bar, ticker }
    }

    pub(crate) fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// The summary: the inputs that succeeded and failed by the tool's
/// measure (`failed` counts errors, statuses of 400 and more, and files
/// that could not be used), those of them not sent (`not_sent`: files
/// kept from an earlier run, `kept` of them, and files refused, which the
/// batch's counts leave out), then the batch's own summary (counts by
/// status and error kind, retries, bytes, throughput, latency
/// percentiles).
pub(crate) fn table(stats: &BatchStats, failed: u64, not_sent: u64, kept: u64) -> String {
    let inputs = stats.count() + not_sent;
    let kept = if kept > 0 {
        format!("   kept {kept}")
    } else {
        String::new()
    };
    format!(
        "inputs    {inputs}   ok {}   failed {failed}{kept}\n{stats}\n",
        inputs.saturating_sub(failed),
    )
}
