//! A summary of a finished (or running) batch.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::StatusCode;

use super::progress::{Bytes, per_second};
use crate::error::{Error, ErrorKind};
use crate::response::Response;

/// Latencies are kept in microseconds, from 1 µs to an hour, to two
/// significant digits: a fixed 30 KiB or so however many results.
const MAX_MICROS: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 2;

/// Counts, bytes, throughput and latency percentiles of a batch.
///
/// [`Batch::stats()`](crate::Batch::stats) keeps one for every result of a
/// batch; or build your own with [`new()`](Self::new) and
/// [`record()`](Self::record), for example over a
/// [`fetch_stream`](crate::BatchClient::fetch_stream). Its memory does not
/// grow with the number of results: percentiles come from a histogram
/// with 1 % precision.
///
/// Its `Display` is a short report:
///
/// ```text
/// 1000 results in 2.41 s (415.0/s, 1.2 MB/s): responses 995, errors 5
///   status: 200 ×990, 404 ×5
///   errors: timeout ×5
///   retries: 12, bytes: 2.9 MB
///   latency: p50 210 ms, p90 245 ms, p99 1.02 s, max 2.30 s
/// ```
#[derive(Clone)]
pub struct BatchStats {
    started: Instant,
    last: Option<Instant>,
    responses: u64,
    errors: u64,
    statuses: BTreeMap<StatusCode, u64>,
    kinds: BTreeMap<ErrorKind, u64>,
    retries: u64,
    bytes: u64,
    latency: Histogram<u64>,
}

impl BatchStats {
    /// Empty stats whose clock (for [`elapsed()`](Self::elapsed) and the
    /// throughput) starts now.
    pub fn new() -> Self {
        BatchStats {
            started: Instant::now(),
            last: None,
            responses: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            kinds: BTreeMap::new(),
            retries: 0,
            bytes: 0,
            latency: Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
                .expect("the bounds are valid constants"),
        }
    }

    /// Counts one result.
    pub fn record(&mut self, result: &Result<Response, Error>) {
        self.last = Some(Instant::now());
        let (attempts, total) = match result {
            Ok(res) => {
                self.responses += 1;
                *self.statuses.entry(res.status()).or_default() += 1;
                self.bytes += res.transferred();
                (res.attempts(), Some(res.timings().total()))
            }
            Err(err) => {
                self.errors += 1;
                *self.kinds.entry(err.kind()).or_default() += 1;
                (err.attempts(), err.timings().map(|t| t.total()))
            }
        };
        self.retries += u64::from(attempts.saturating_sub(1));
        if let Some(total) = total {
            let micros = u64::try_from(total.as_micros()).unwrap_or(u64::MAX);
            self.latency.saturating_record(micros.clamp(1, MAX_MICROS));
        }
    }

    /// Results recorded: responses and errors.
    pub fn count(&self) -> u64 {
        self.responses + self.errors
    }

    /// Results that were a response (of any status).
    pub fn responses(&self) -> u64 {
        self.responses
    }

    /// Results that were an error.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// How many responses had each status, lowest status first.
    pub fn by_status(&self) -> impl Iterator<Item = (StatusCode, u64)> + '_ {
        self.statuses.iter().map(|(s, n)| (*s, *n))
    }

    /// How many errors were of each kind.
    pub fn by_kind(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        self.kinds.iter().map(|(k, n)| (*k, *n))
    }

    /// How many responses had this status.
    pub fn status_count(&self, status: StatusCode) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// How many errors were of this kind.
    pub fn kind_count(&self, kind: ErrorKind) -> u64 {
        self.kinds.get(&kind).copied().unwrap_or(0)
    }

    /// Retries made for the recorded results.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// Body bytes of the responses (after decompression), a download's
    /// file's included. A streamed body
    /// ([`fetch_stream_bodies`](crate::BatchClient::fetch_stream_bodies))
    /// is read by the caller after its input is recorded, and is not
    /// counted.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Time from the start of the clock to the last result recorded.
    pub fn elapsed(&self) -> Duration {
        self.last
            .map_or(Duration::ZERO, |last| last.duration_since(self.started))
    }

    /// Results per second over [`elapsed()`](Self::elapsed).
    pub fn throughput(&self) -> f64 {
        per_second(self.count(), self.elapsed())
    }

    /// Body bytes per second over [`elapsed()`](Self::elapsed).
    pub fn bytes_per_second(&self) -> f64 {
        per_second(self.bytes, self.elapsed())
    }

    /// The latency (each result's [`Timings::total()`](crate::Timings::total))
    /// at quantile `q` in `0.0..=1.0`; zero when nothing was recorded.
    pub fn latency(&self, q: f64) -> Duration {
        if self.latency.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.latency.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    /// The median latency.
    pub fn p50(&self) -> Duration {
        self.latency(0.50)
    }

    /// The 90th percentile latency.
    pub fn p90(&self) -> Duration {
        self.latency(0.90)
    }

    /// The 99th percentile latency.
    pub fn p99(&self) -> Duration {
        self.latency(0.99)
    }

    /// The slowest result.
    pub fn max(&self) -> Duration {
        if self.latency.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.latency.max())
    }
}

impl Default for BatchStats {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for BatchStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStats")
            .field("responses", &self.responses)
            .field("errors", &self.errors)
            .field("statuses", &self.statuses)
            .field("kinds", &self.kinds)
            .field("retries", &self.retries)
            .field("bytes", &self.bytes)
            .field("elapsed", &self.elapsed())
            .field("p50", &self.p50())
            .field("p99", &self.p99())
            .field("max", &self.max())
            .finish()
    }
}

impl fmt::Display for BatchStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} results in {:.2} s ({:.1}/s, {}/s): responses {}, errors {}",
            self.count(),
            self.elapsed().as_secs_f64(),
            self.throughput(),
            Bytes(self.bytes_per_second() as u64),
            self.responses,
            self.errors
        )?;
        if !self.statuses.is_empty() {
            let list: Vec<String> = self
                .by_status()
                .map(|(s, n)| format!("{} ×{n}", s.as_u16()))
                .collect();
            writeln!(f, "  status: {}", list.join(", "))?;
        }
        if !self.kinds.is_empty() {
            let list: Vec<String> = self
                .by_kind()
                .map(|(k, n)| format!("{} ×{n}", k.describe()))
                .collect();
            writeln!(f, "  errors: {}", list.join(", "))?;
        }
        writeln!(
            f,
            "  retries: {}, bytes: {}",
            self.retries,
            Bytes(self.bytes)
        )?;
        write!(
            f,
            "  latency: p50 {}, p90 {}, p99 {}, max {}",
            Short(self.p50()),
            Short(self.p90()),
            Short(self.p99()),
            Short(self.max())
        )
    }
}

/// A duration in ms below a second, else in s.
struct Short(Duration);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1e3;
        if ms < 1000.0 {
            write!(f, "{ms:.0} ms")
        } else {
            write!(f, "{:.2} s", ms / 1e3)
        }
    }
}
