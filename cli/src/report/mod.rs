//! `--report`: what the run did, as one self-contained HTML page.
//!
//! A [`Report`] watches the batch (it is its [`Observer`]) for when each
//! attempt was sent and retried, and takes each input's result from the
//! output loop. It keeps, whatever the length of the run, only bounded
//! state: the marks of the inputs in flight, a uniform sample of rows for
//! the waterfall, fixed-size histogram and timeline counts, the slowest
//! inputs and the first failures.

mod histogram;
mod html;
mod sample;
mod timeline;
mod trail;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use batch_fetch::{BatchStats, Event, Observer, Timings};

use crate::input::Origin;
use crate::outcome::Outcome;
use crate::output::kind_name;
use crate::redact;
use histogram::{Class, Histogram};
use sample::Reservoir;
use timeline::Timeline;
use trail::{Cause, LastAttempt, Mark, Segment};

/// Slowest inputs listed.
const SLOWEST: usize = 20;
/// Failed inputs listed with their reason.
const FIRST_FAILURES: usize = 20;

/// The run's report, filled while the batch runs.
#[derive(Clone)]
pub(crate) struct Report {
    epoch: Instant,
    /// The same moment on the wall clock, for the page.
    started: SystemTime,
    inner: Arc<Mutex<Collected>>,
}

/// What the page is drawn from.
struct Collected {
    /// The marks of inputs that have not had their result yet.
    in_flight: HashMap<usize, Vec<Mark>>,
    rows: Reservoir<Row>,
    latency: Histogram,
    timeline: Timeline,
    slowest: Vec<Listed>,
    failures: Vec<Listed>,
    inputs: u64,
    failed: u64,
    /// When the last input ended, in milliseconds into the run.
    end_ms: f64,
}

/// One input in the waterfall.
struct Row {
    index: usize,
    line: u64,
    url: String,
    outcome: String,
    attempts: u32,
    total_ms: f64,
    bytes: u64,
    retried: Vec<Cause>,
    /// Queued, connect, waiting and receiving, in milliseconds.
    breakdown: Option<[f64; 4]>,
    segments: Vec<Segment>,
}

/// One input in the tables of the slowest and of the failures.
struct Listed {
    index: usize,
    line: u64,
    url: String,
    outcome: String,
    class: Class,
    attempts: u32,
    total_ms: f64,
    reason: Option<String>,
}

impl Report {
    /// A report whose waterfall holds at most `rows` rows.
    pub(crate) fn new(rows: usize) -> Self {
        Report {
            epoch: Instant::now(),
            started: SystemTime::now(),
            inner: Arc::new(Mutex::new(Collected {
                in_flight: HashMap::new(),
                rows: Reservoir::new(rows),
                latency: Histogram::default(),
                timeline: Timeline::default(),
                slowest: Vec::with_capacity(SLOWEST + 1),
                failures: Vec::with_capacity(FIRST_FAILURES),
                inputs: 0,
                failed: 0,
                end_ms: 0.0,
            })),
        }
    }

    /// The observer to give the batch.
    pub(crate) fn observer(&self) -> impl Observer {
        let report = self.clone();
        move |event: &Event<'_>| report.on_event(event)
    }

    fn on_event(&self, event: &Event<'_>) {
        let at = self.now_ms();
        let (index, mark) = match *event {
            Event::Started { index, .. } => (index, Mark::Started { at }),
            Event::Retrying {
                index,
                delay,
                status,
                error,
                ..
            } => {
                let cause = match (status, error) {
                    (Some(status), _) => Cause::Status(status.as_u16()),
                    (None, Some(kind)) => Cause::Error(kind_name(kind)),
                    (None, None) => Cause::Error("other"),
                };
                let delay_ms = ms(delay);
                (
                    index,
                    Mark::Retrying {
                        at,
                        delay_ms,
                        cause,
                    },
                )
            }
            Event::Completed { index, .. } | Event::Failed { index, .. } => {
                (index, Mark::Ended { at })
            }
            _ => return,
        };
        let mut collected = self.lock();
        if let Mark::Retrying { .. } = mark {
            collected.timeline.at(at).retries += 1;
        }
        collected.in_flight.entry(index).or_default().push(mark);
    }

    /// Input `index` has its outcome; `position` is its place in the
    /// batch (whose events name it by that), none when it was not sent;
    /// `failure` says why the tool counts it as failed (an error, a status
    /// of 400 or more, a file it could not use), if it does.
    pub(crate) fn finish(
        &self,
        index: usize,
        position: Option<usize>,
        origin: &Origin,
        result: &Outcome,
        failure: Option<String>,
    ) {
        let now = self.now_ms();
        let mut guard = self.lock();
        let c = &mut *guard;
        let marks = position
            .and_then(|position| c.in_flight.remove(&position))
            .unwrap_or_default();
        let end = trail::ended(&marks).unwrap_or(now);
        // A status only where an answer was kept, as before downloads:
        // an error's status shows in its reason.
        let error = result.error();
        let status = result.status().filter(|_| error.is_none());
        let (timings, attempts) = (result.timings(), result.attempts());
        let bytes = result.bytes().unwrap_or(0);
        let total_ms = timings.map_or(0.0, |t| ms(t.total()));
        let begin = (end - total_ms).max(0.0);
        let (class, outcome) = match (result, error, status) {
            (Outcome::Kept { .. }, ..) => (Class::Ok, "kept".to_owned()),
            (_, Some(err), _) => (Class::Error, kind_name(err.kind()).to_owned()),
            (_, None, Some(status)) => (Class::of(Some(status)), status_text(status)),
            (_, None, None) => (Class::Error, "file".to_owned()),
        };
        let failed = failure.is_some();
        let url = match (&origin.url, result.final_url()) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => redact::userinfo(&url.to_string()).into_owned(),
            (None, None) => format!("(line {})", origin.line),
        };

        c.inputs += 1;
        c.failed += u64::from(failed);
        c.end_ms = c.end_ms.max(end);
        // An input never sent (a bad line) has no latency to count.
        if timings.is_some() {
            c.latency.add(total_ms, class);
        }
        c.timeline.at(begin).began += 1;
        let bin = c.timeline.at(end);
        if failed {
            bin.failed += 1;
        } else {
            bin.ok += 1;
        }

        let listed = || Listed {
            index,
            line: origin.line,
            url: url.clone(),
            outcome: outcome.clone(),
            class,
            attempts,
            total_ms,
            reason: failure.clone(),
        };
        if c.slowest.len() < SLOWEST || c.slowest.last().is_some_and(|s| s.total_ms < total_ms) {
            let at = c.slowest.partition_point(|s| s.total_ms >= total_ms);
            c.slowest.insert(at, listed());
            c.slowest.truncate(SLOWEST);
        }
        if failed && c.failures.len() < FIRST_FAILURES {
            c.failures.push(listed());
        }
        c.rows.offer(|| {
            let last = timings.map_or_else(LastAttempt::default, |t| LastAttempt {
                connect: ms(t.connect()),
                waiting: ms(t.ttfb()),
            });
            let error = !matches!(class, Class::Ok | Class::Client | Class::Server);
            Row {
                index,
                line: origin.line,
                url: url.clone(),
                outcome: outcome.clone(),
                attempts,
                total_ms,
                bytes,
                retried: marks
                    .iter()
                    .filter_map(|m| match m {
                        Mark::Retrying { cause, .. } => Some(*cause),
                        _ => None,
                    })
                    .collect(),
                breakdown: timings.map(breakdown),
                segments: trail::segments(&marks, begin, end, last, error),
            }
        });
    }

    /// The page, from what was collected, the batch's own summary, the
    /// command line that ran it and, when the run ended before every
    /// input was fetched, why (`cut_short`). Once: the waterfall's rows
    /// are taken.
    pub(crate) fn render(
        &self,
        stats: &BatchStats,
        command: &str,
        cut_short: Option<&str>,
    ) -> String {
        let started = httpdate::fmt_http_date(self.started);
        let mut collected = self.lock();
        html::page(&mut collected, stats, &started, command, cut_short)
    }

    fn now_ms(&self) -> f64 {
        ms(self.epoch.elapsed())
    }

    fn lock(&self) -> MutexGuard<'_, Collected> {
        // Counts only: a panic elsewhere leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `404 Not Found`, as the status shows itself.
fn status_text(status: u16) -> String {
    http::StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

fn breakdown(t: &Timings) -> [f64; 4] {
    [ms(t.queued()), ms(t.connect()), ms(t.ttfb()), ms(t.body())]
}

/// A duration in milliseconds, the unit the whole report counts in.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
