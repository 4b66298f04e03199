//! What stderr shows: a progress line while the batch runs (on a
//! terminal), and a summary table at the end.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use batch_fetch::{Batch, BatchStats};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::kind_name;

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
                shown.set_message(format!(
                    "{} done, {} failed, {} in flight, {} queued, {} retries, {:.0}/s",
                    p.done(),
                    p.failed(),
                    p.in_flight(),
                    p.queued(),
                    p.retries(),
                    p.rate(),
                ));
            }
        });
        ProgressLine { bar, ticker }
    }

    pub(crate) fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// The summary table: counts by status and error kind, retries, bytes,
/// throughput, latency percentiles. `failed` counts errors and statuses
/// of 400 and more.
pub(crate) fn table(stats: &BatchStats, failed: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "inputs    {}   ok {}   failed {}   retries {}",
        stats.count(),
        stats.count().saturating_sub(failed),
        failed,
        stats.retries(),
    );
    let statuses: Vec<String> = stats
        .by_status()
        .map(|(status, n)| format!("{}: {n}", status.as_u16()))
        .collect();
    if !statuses.is_empty() {
        let _ = writeln!(out, "status    {}", statuses.join("   "));
    }
    let kinds: Vec<String> = stats
        .by_kind()
        .map(|(kind, n)| format!("{}: {n}", kind_name(kind)))
        .collect();
    if !kinds.is_empty() {
        let _ = writeln!(out, "errors    {}", kinds.join("   "));
    }
    let _ = writeln!(
        out,
        "bytes     {}   {}/s   {:.1} req/s   {:.2} s",
        human_bytes(stats.bytes() as f64),
        human_bytes(stats.bytes_per_second()),
        stats.throughput(),
        stats.elapsed().as_secs_f64(),
    );
    if stats.count() > 0 {
        let _ = writeln!(
            out,
            "latency   p50 {}   p90 {}   p99 {}   max {}",
            human_duration(stats.p50()),
            human_duration(stats.p90()),
            human_duration(stats.p99()),
            human_duration(stats.max()),
        );
    }
    out
}

fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(human_duration(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(human_duration(Duration::from_millis(2500)), "2.50 s");
    }
}
