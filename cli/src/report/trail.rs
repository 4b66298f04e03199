//! One input's story for the waterfall: the marks the batch's events left
//! while it ran, laid out as segments of a time line once it ended.
//!
//! The events say when each attempt was sent and when one failed and was
//! retried (and after what wait); the result's [`Timings`] split the last
//! attempt into connect, waiting and receiving. Earlier attempts are drawn
//! whole: the library keeps the breakdown of the last one only.
//!
//! [`Timings`]: batch_fetch::Timings

/// Something the batch told of an input, at `at` milliseconds into the
/// run.
#[derive(Clone, Debug)]
pub(crate) enum Mark {
    /// An attempt was sent (the input got its slots and permits).
    Started { at: f64 },
    /// The attempt under way failed (for `cause`), and the next one waits
    /// `delay_ms`.
    Retrying {
        at: f64,
        delay_ms: f64,
        cause: Cause,
    },
    /// The input has its result.
    Ended { at: f64 },
}

/// Why an attempt was retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A retried status (429, 503, ...).
    Status(u16),
    /// An error, by its kind's name.
    Error(&'static str),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Status(code) => write!(f, "{code}"),
            Cause::Error(kind) => f.write_str(kind),
        }
    }
}

/// What a stretch of an input's time line was spent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for rate-limit slots and concurrency permits.
    Queued,
    /// A new connection: DNS, TCP, TLS.
    Connect,
    /// From a ready connection to the response head.
    Waiting,
    /// The body.
    Receiving,
    /// An attempt that failed and was retried.
    Retried,
    /// A redirect hop, answered by a redirect.
    Hop,
    /// The wait before a retry.
    Backoff,
    /// The last attempt of an input that failed.
    Failed,
}

impl Phase {
    /// Every phase, in the legend's order.
    pub(crate) const ALL: [Phase; 8] = [
        Phase::Queued,
        Phase::Connect,
        Phase::Waiting,
        Phase::Receiving,
        Phase::Hop,
        Phase::Retried,
        Phase::Backoff,
        Phase::Failed,
    ];

    /// Its CSS class (and legend key).
    pub(crate) fn class(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Connect => "connect",
            Phase::Waiting => "waiting",
            Phase::Receiving => "receiving",
            Phase::Retried => "retried",
            Phase::Hop => "hop",
            Phase::Backoff => "backoff",
            Phase::Failed => "failed",
        }
    }

    /// What the legend says of it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Phase::Queued => "queued (limits)",
            Phase::Connect => "connect",
            Phase::Waiting => "waiting (to first byte)",
            Phase::Receiving => "receiving",
            Phase::Retried => "attempt retried",
            Phase::Hop => "redirect hop",
            Phase::Backoff => "backoff",
            Phase::Failed => "failed attempt",
        }
    }
}

/// A stretch of time, in milliseconds into the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Segment {
    pub(crate) phase: Phase,
    pub(crate) from: f64,
    pub(crate) to: f64,
}

/// The last attempt's breakdown, in milliseconds (from the result's
/// timings).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LastAttempt {
    pub(crate) connect: f64,
    pub(crate) waiting: f64,
}

/// Lays out an input that ran from `begin` to `end`: queued until its
/// first attempt, then each attempt, backoff and hop as the marks tell,
/// then the last attempt split by `last` (connect, waiting, and receiving
/// to the end; or, when `failed`, connect and then the failure).
/// Segments never leave `begin..end`, and empty ones are left out.
pub(crate) fn segments(
    marks: &[Mark],
    begin: f64,
    end: f64,
    last: LastAttempt,
    failed: bool,
) -> Vec<Segment> {
    let mut out = Vec::with_capacity(marks.len() + 4);
    let mut push = |phase, from: f64, to: f64| {
        let (from, to) = (from.clamp(begin, end), to.clamp(begin, end));
        if to > from {
            out.push(Segment { phase, from, to });
        }
    };
    // Where the next wait for the limits began, and the attempt under way.
    let mut queued_since = begin;
    let mut attempt: Option<f64> = None;
    for mark in marks {
        match *mark {
            Mark::Started { at } => {
                match attempt {
                    // Sent again with no retry between: the last one was
                    // a redirect.
                    Some(sent) => push(Phase::Hop, sent, at),
                    None => push(Phase::Queued, queued_since, at),
                }
                attempt = Some(at);
            }
            Mark::Retrying { at, delay_ms, .. } => {
                if let Some(sent) = attempt.take() {
                    push(Phase::Retried, sent, at);
                }
                push(Phase::Backoff, at, at + delay_ms);
                queued_since = at + delay_ms;
            }
            Mark::Ended { .. } => {}
        }
    }
    match attempt {
        Some(sent) => {
            let connected = sent + last.connect;
            push(Phase::Connect, sent, connected);
            if failed {
                push(Phase::Failed, connected, end);
            } else {
                let head = connected + last.waiting;
                push(Phase::Waiting, connected, head);
                push(Phase::Receiving, head, end);
            }
        }
        // Never sent (a bad input, or cancelled while it waited): queued
        // to the end.
        None => push(Phase::Queued, queued_since, end),
    }
    out
}

/// When the marks say the input ended, if they do.
pub(crate) fn ended(marks: &[Mark]) -> Option<f64> {
    marks.iter().rev().find_map(|mark| match mark {
        Mark::Ended { at } => Some(*at),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phases(segments: &[Segment]) -> Vec<(Phase, f64, f64)> {
        segments.iter().map(|s| (s.phase, s.from, s.to)).collect()
    }

    #[test]
    fn one_attempt_is_queued_connect_waiting_receiving() {
        let marks = [Mark::Started { at: 2.0 }, Mark::Ended { at: 20.0 }];
        let last = LastAttempt {
            connect: 3.0,
            waiting: 10.0,
        };
        assert_eq!(
            phases(&segments(&marks, 0.0, 20.0, last, false)),
            [
                (Phase::Queued, 0.0, 2.0),
                (Phase::Connect, 2.0, 5.0),
                (Phase::Waiting, 5.0, 15.0),
                (Phase::Receiving, 15.0, 20.0),
            ]
        );
    }

    #[test]
    fn retries_show_each_attempt_backoff_and_wait() {
        let marks = [
            Mark::Started { at: 1.0 },
            Mark::Retrying {
                at: 5.0,
                delay_ms: 10.0,
                cause: Cause::Status(503),
            },
            Mark::Started { at: 17.0 },
            Mark::Ended { at: 30.0 },
        ];
        let last = LastAttempt {
            connect: 0.0,
            waiting: 8.0,
        };
        assert_eq!(
            phases(&segments(&marks, 0.0, 30.0, last, false)),
            [
                (Phase::Queued, 0.0, 1.0),
                (Phase::Retried, 1.0, 5.0),
                (Phase::Backoff, 5.0, 15.0),
                (Phase::Queued, 15.0, 17.0),
                (Phase::Waiting, 17.0, 25.0),
                (Phase::Receiving, 25.0, 30.0),
            ]
        );
    }

    #[test]
    fn a_start_without_a_retry_between_is_a_redirect_hop() {
        let marks = [Mark::Started { at: 0.0 }, Mark::Started { at: 4.0 }];
        let got = phases(&segments(&marks, 0.0, 9.0, LastAttempt::default(), false));
        assert_eq!(got, [(Phase::Hop, 0.0, 4.0), (Phase::Receiving, 4.0, 9.0)]);
    }

    #[test]
    fn a_failed_last_attempt_is_connect_then_failed() {
        let marks = [Mark::Started { at: 0.0 }];
        let last = LastAttempt {
            connect: 2.0,
            waiting: 0.0,
        };
        assert_eq!(
            phases(&segments(&marks, 0.0, 50.0, last, true)),
            [(Phase::Connect, 0.0, 2.0), (Phase::Failed, 2.0, 50.0)]
        );
    }

    #[test]
    fn never_sent_is_queued_to_the_end_and_nothing_leaves_the_span() {
        assert_eq!(
            phases(&segments(&[], 3.0, 7.0, LastAttempt::default(), true)),
            [(Phase::Queued, 3.0, 7.0)]
        );
        // A breakdown longer than the span (clocks read at other points)
        // is cut at its end; a backoff cut short by cancellation too.
        let marks = [
            Mark::Started { at: 0.0 },
            Mark::Retrying {
                at: 1.0,
                delay_ms: 100.0,
                cause: Cause::Error("timeout"),
            },
        ];
        let got = phases(&segments(&marks, 0.0, 10.0, LastAttempt::default(), true));
        assert_eq!(
            got,
            [(Phase::Retried, 0.0, 1.0), (Phase::Backoff, 1.0, 10.0),]
        );
        let marks = [Mark::Started { at: 0.0 }];
        let last = LastAttempt {
            connect: 4.0,
            waiting: 40.0,
        };
        let got = phases(&segments(&marks, 0.0, 10.0, last, false));
        assert_eq!(
            got,
            [(Phase::Connect, 0.0, 4.0), (Phase::Waiting, 4.0, 10.0)]
        );
    }

    #[test]
    fn ended_reads_the_last_end_mark() {
        assert_eq!(ended(&[Mark::Started { at: 1.0 }]), None);
        assert_eq!(
            ended(&[Mark::Started { at: 1.0 }, Mark::Ended { at: 9.5 }]),
            Some(9.5)
        );
    }
}
