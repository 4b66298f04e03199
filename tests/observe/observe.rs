//! Watching a batch: the `Observer`'s events (one start per attempt, one
//! retry per repeated attempt, exactly one completion or failure per input,
//! in that order), the live `Progress` snapshot polled from another task,
//! and the `BatchStats` summary (the batch's own, and one built by hand
//! over a stream).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::clients::{builder, quick};
use crate::support::{TestServer, bounded, closed_port, eventually, within};
use batch_fetch::{BatchClient, BatchStats, ErrorKind, Event, Progress};
use futures_util::StreamExt;
use http::StatusCode;

/// An owned copy of an [`Event`], for checking after the batch.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Started {
        index: usize,
        url: String,
        attempt: u32,
    },
    Retrying {
        index: usize,
        attempt: u32,
        delay: Duration,
        status: Option<StatusCode>,
        error: Option<ErrorKind>,
    },
    Completed {
        index: usize,
        status: StatusCode,
    },
    Failed {
        index: usize,
        kind: ErrorKind,
        error_index: Option<usize>,
    },
}

impl Seen {
    fn index(&self) -> usize {
        match self {
            Seen::Started { index, .. }
            | Seen::Retrying { index, .. }
            | Seen::Completed { index, .. }
            | Seen::Failed { index, .. } => *index,
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(self, Seen::Completed { .. } | Seen::Failed { .. })
    }
}

/// A batch of `client` whose observer records every event into the returned log.
fn recorded(client: &BatchClient) -> (batch_fetch::Batch, Arc<Mutex<Vec<Seen>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let batch = client.batch().observer(move |event: &Event<'_>| {
        let seen = match event {
            Event::Started {
                index,
                url,
                attempt,
            } => Seen::Started {
                index: *index,
                url: url.to_string(),
                attempt: *attempt,
            },
            Event::Retrying {
                index,
                attempt,
                delay,
                status,
                error,
                ..
            } => Seen::Retrying {
                index: *index,
                attempt: *attempt,
                delay: *delay,
                status: *status,
                error: *error,
            },
            Event::Completed { index, response } => Seen::Completed {
                index: *index,
                status: response.status(),
            },
            Event::Failed { index, error } => Seen::Failed {
                index: *index,
                kind: error.kind(),
                error_index: error.index(),
            },
            _ => return,
        };
        sink.lock().unwrap().push(seen);
    });
    (batch, log)
}

/// The attempt numbers of the `Started` events of input `index`, in order.
fn started_attempts(log: &[Seen], index: usize) -> Vec<u32> {
    log.iter()
        .filter_map(|e| match e {
            Seen::Started {
                index: i, attempt, ..
            } if *i == index => Some(*attempt),
            _ => None,
        })
        .collect()
}

fn retries_of(log: &[Seen], index: usize) -> Vec<Seen> {
    log.iter()
        .filter(|e| matches!(e, Seen::Retrying { index: i, .. } if *i == index))
        .cloned()
        .collect()
}

/// Exactly one terminal event per input, and every other event of the
/// input before it.
fn check_one_terminal_each(log: &[Seen], inputs: usize) {
    for index in 0..inputs {
        let terminals: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, e)| e.index() == index && e.is_terminal())
            .map(|(pos, _)| pos)
            .collect();
        assert_eq!(
            terminals.len(),
            1,
            "input {index}: one Completed/Failed: {log:#?}"
        );
        let last = log
            .iter()
            .rposition(|e| e.index() == index)
            .expect("some event");
        assert_eq!(
            last, terminals[0],
            "input {index}: nothing after its end: {log:#?}"
        );
    }
    assert!(log.iter().all(|e| e.index() < inputs), "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_sees_starts_retries_and_one_end_per_input() {
    let server = TestServer::start().await;
    let refused = format!("http://127.0.0.1:{}/refused", closed_port());
    let urls = vec![
        server.url("/id/0"),
        server.url("/status/404"),
        server.url("/flaky/observe/1"),
        refused.clone(),
        server.url("/id/4"),
    ];
    let client = builder().retry(quick(2)).build().unwrap();
    let (batch, log) = recorded(&client);

    let results = bounded("observed batch", batch.fetch_all_settled(&urls)).await;

    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap().status(), 200);
    assert_eq!(results[1].as_ref().unwrap().status(), 404);
    assert_eq!(results[2].as_ref().unwrap().attempts(), 2);
    let err = results[3].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.attempts(), 3, "two retries allowed: {err}");

    let log = log.lock().unwrap().clone();
    check_one_terminal_each(&log, urls.len());
    let terminal = |index: usize| log.iter().find(|e| e.index() == index && e.is_terminal());
    for (index, status) in [(0, 200), (1, 404), (2, 200), (4, 200)] {
        assert_eq!(
            terminal(index),
            Some(&Seen::Completed {
                index,
                status: StatusCode::from_u16(status).unwrap()
            }),
            "{log:#?}"
        );
    }
    assert_eq!(
        terminal(3),
        Some(&Seen::Failed {
            index: 3,
            kind: ErrorKind::Connect,
            error_index: Some(3)
        }),
        "{log:#?}"
    );

    // One Started per attempt, numbered from 1, for the input's own URL.
    for (index, attempts) in [
        (0, vec![1]),
        (1, vec![1]),
        (2, vec![1, 2]),
        (3, vec![1, 2, 3]),
    ] {
        assert_eq!(started_attempts(&log, index), attempts, "input {index}");
    }
    assert_eq!(started_attempts(&log, 4), vec![1]);
    for e in &log {
        if let Seen::Started { index, url, .. } = e {
            assert_eq!(url, &urls[*index], "{e:?}");
        }
    }

    // The 404 is an answer, not retried; the 503 and the refused connection are.
    assert!(retries_of(&log, 0).is_empty() && retries_of(&log, 1).is_empty());
    assert!(retries_of(&log, 4).is_empty());
    let flaky = retries_of(&log, 2);
    assert_eq!(flaky.len(), 1, "{flaky:?}");
    let Seen::Retrying {
        attempt,
        delay,
        status,
        error,
        ..
    } = &flaky[0]
    else {
        unreachable!()
    };
    assert_eq!(
        (*attempt, *status, *error),
        (1, Some(StatusCode::SERVICE_UNAVAILABLE), None)
    );
    assert_eq!(*delay, Duration::from_millis(5), "quick(): 5 ms, no jitter");
    let refused_retries = retries_of(&log, 3);
    let summary: Vec<(u32, Option<StatusCode>, Option<ErrorKind>)> = refused_retries
        .iter()
        .map(|e| match e {
            Seen::Retrying {
                attempt,
                status,
                error,
                ..
            } => (*attempt, *status, *error),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, None, Some(ErrorKind::Connect)),
            (2, None, Some(ErrorKind::Connect))
        ]
    );

    // Per input: Started(1) < Retrying(1) < Started(2) < ... < end.
    for index in 0..urls.len() {
        let mine: Vec<&Seen> = log.iter().filter(|e| e.index() == index).collect();
        assert!(
            matches!(mine[0], Seen::Started { attempt: 1, .. }),
            "input {index} begins with its first start: {mine:?}"
        );
        let mut last_started = 0;
        for e in &mine {
            match e {
                Seen::Started { attempt, .. } => {
                    assert_eq!(*attempt, last_started + 1, "{mine:?}");
                    last_started = *attempt;
                }
                Seen::Retrying { attempt, .. } => {
                    assert_eq!(*attempt, last_started, "retrying the attempt just made");
                }
                _ => {}
            }
        }
    }
    assert_eq!(server.hits_prefix("/flaky/observe/"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_polled_from_another_task() {
    let server = TestServer::start().await;
    let client = builder().concurrency(4).build().unwrap();
    let batch = client.batch();
    let urls: Vec<String> = (0..12).map(|_| server.url("/delay/300")).collect();

    assert_eq!(batch.progress().finished(), 0, "nothing before the start");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let batch = batch.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen: Vec<Progress> = Vec::new();
            // Bounded: at most 2000 × 5 ms = 10 s of watching.
            for _ in 0..2000 {
                seen.push(batch.progress());
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };

    let results = bounded("slow batch", batch.fetch_all(&urls)).await.unwrap();
    stop.store(true, Ordering::SeqCst);
    let seen = bounded("watcher", watcher).await.unwrap();

    assert!(seen.len() > 2, "the watcher ran during the batch");
    let peak = seen.iter().map(Progress::in_flight).max().unwrap();
    assert!(peak <= 4, "in flight never above the concurrency: {peak}");
    assert!(peak > 0, "requests were seen in flight: {seen:?}");
    for pair in seen.windows(2) {
        assert!(
            pair[1].done() >= pair[0].done() && pair[1].elapsed() >= pair[0].elapsed(),
            "done and elapsed never go back: {pair:?}"
        );
    }

    let end = batch.progress();
    let body_bytes: u64 = results.iter().map(|r| r.body().len() as u64).sum();
    assert_eq!(body_bytes, 12 * "delayed 300".len() as u64);
    assert_eq!(end.done(), 12, "{end}");
    assert_eq!(end.failed(), 0, "{end}");
    assert_eq!(end.finished(), 12, "{end}");
    assert_eq!(end.in_flight(), 0, "{end}");
    assert_eq!(end.queued(), 0, "{end}");
    assert_eq!(end.retries(), 0, "{end}");
    assert_eq!(end.bytes(), body_bytes, "{end}");
    assert!(
        end.elapsed() >= Duration::from_millis(890),
        "three waves of 300 ms: {end}"
    );
    assert!(end.rate() > 0.0);
    let line = end.to_string();
    assert!(!line.contains('\n'), "one line: {line:?}");
    assert!(line.contains("12 done"), "{line}");
    assert!(line.contains("0 failed"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_of_a_settled_batch_and_of_a_stream() {
    let server = TestServer::start().await;
    let refused = format!("http://127.0.0.1:{}/", closed_port());
    let urls = |flaky_key: &str| {
        vec![
            server.url("/id/0"),
            server.url("/id/1"),
            server.url("/id/2"),
            server.url("/delay/250"),
            server.url("/status/404"),
            server.url("/status/404"),
            server.url(&format!("/flaky/{flaky_key}/1")),
            refused.clone(),
        ]
    };
    let client = builder().retry(quick(2)).build().unwrap();
    let batch = client.batch();

    let results = bounded("batch", batch.fetch_all_settled(urls("stats-a"))).await;
    let stats = batch.stats();

    assert_eq!(results.len(), 8);
    assert_eq!(stats.count(), 8, "{stats}");
    assert_eq!(stats.responses(), 7, "{stats}");
    assert_eq!(stats.errors(), 1, "{stats}");
    assert_eq!(stats.status_count(StatusCode::OK), 5, "{stats}");
    assert_eq!(stats.status_count(StatusCode::NOT_FOUND), 2, "{stats}");
    assert_eq!(stats.status_count(StatusCode::SERVICE_UNAVAILABLE), 0);
    assert_eq!(stats.kind_count(ErrorKind::Connect), 1, "{stats}");
    assert_eq!(stats.kind_count(ErrorKind::Timeout), 0);
    assert_eq!(stats.retries(), 3, "1 for the 503, 2 for the refused");
    let statuses: Vec<(u16, u64)> = stats.by_status().map(|(s, n)| (s.as_u16(), n)).collect();
    assert_eq!(statuses, vec![(200, 5), (404, 2)]);
    let kinds: Vec<(ErrorKind, u64)> = stats.by_kind().collect();
    assert_eq!(kinds, vec![(ErrorKind::Connect, 1)]);
    let bytes: u64 = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.body().len() as u64)
        .sum();
    assert_eq!(stats.bytes(), bytes);
    assert!(stats.p50() <= stats.p90(), "{stats}");
    assert!(stats.p90() <= stats.p99(), "{stats}");
    assert!(stats.p99() <= stats.max(), "{stats}");
    assert!(
        stats.max() >= Duration::from_millis(245),
        "the slowest took 250 ms: {stats}"
    );
    assert!(stats.elapsed() >= Duration::from_millis(245), "{stats}");
    assert!(stats.throughput() > 0.0);
    let text = stats.to_string();
    assert!(text.starts_with("8 results in "), "{text}");
    assert!(text.contains("responses 7, errors 1"), "{text}");
    assert!(text.contains("status: 200 ×5, 404 ×2"), "{text}");
    assert!(text.contains("errors: connect error ×1"), "{text}");
    assert!(text.contains("retries: 3"), "{text}");
    assert!(text.contains("latency: p50 "), "{text}");

    // The same by hand, over a stream.
    let mut own = BatchStats::new();
    let mut stream = client.fetch_stream(urls("stats-b"));
    let mut seen = 0;
    within(Duration::from_secs(20), "stream", async {
        while let Some((_, result)) = stream.next().await {
            own.record(&result);
            seen += 1;
        }
    })
    .await;
    assert_eq!(seen, 8);
    assert_eq!(own.count(), stats.count(), "{own}");
    assert_eq!(own.responses(), stats.responses());
    assert_eq!(own.errors(), stats.errors());
    assert_eq!(own.retries(), stats.retries());
    assert_eq!(own.bytes(), stats.bytes());
    let own_statuses: BTreeMap<u16, u64> = own.by_status().map(|(s, n)| (s.as_u16(), n)).collect();
    assert_eq!(own_statuses, statuses.into_iter().collect());
    assert_eq!(own.kind_count(ErrorKind::Connect), 1);
    assert!(own.max() >= Duration::from_millis(245), "{own}");
    assert!(own.p50() <= own.p99() && own.p99() <= own.max(), "{own}");
}

#[tokio::test]
async fn empty_stats_are_zero() {
    let stats = BatchStats::new();
    assert_eq!(stats.count(), 0);
    assert_eq!(stats.max(), Duration::ZERO);
    assert_eq!(stats.p50(), Duration::ZERO);
    assert_eq!(stats.elapsed(), Duration::ZERO);
    assert_eq!(stats.throughput(), 0.0);
    let client = builder().build().unwrap();
    let batch = client.batch();
    assert_eq!(
        batch.stats().count(),
        0,
        "a batch not run yet has no results"
    );
    let p = batch.progress();
    assert_eq!((p.finished(), p.in_flight(), p.queued()), (0, 0, 0));
}

// A batch deadline ends the requests under way and those never started:
// the observer is told of each as a Cancelled failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_sees_cancelled_failures_at_the_deadline() {
    let server = TestServer::start().await;
    let client = builder().concurrency(2).build().unwrap();
    let (batch, log) = recorded(&client);
    let batch = batch.deadline(Duration::from_millis(1000));
    let urls = vec![
        server.url("/id/0"),
        server.url("/delay/5000"),
        server.url("/delay/5000"),
        server.url("/delay/5000"),
    ];

    let results = within(
        Duration::from_secs(5),
        "deadline",
        batch.fetch_all_settled(&urls),
    )
    .await;

    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().text().unwrap(), "0");
    for (i, r) in results.iter().enumerate().skip(1) {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
        assert_eq!(e.index(), Some(i));
    }
    let log = log.lock().unwrap().clone();
    check_one_terminal_each(&log, 4);
    assert!(
        log.contains(&Seen::Completed {
            index: 0,
            status: StatusCode::OK
        }),
        "{log:#?}"
    );
    for index in 1..4 {
        assert!(
            log.contains(&Seen::Failed {
                index,
                kind: ErrorKind::Cancelled,
                error_index: Some(index)
            }),
            "input {index}: {log:#?}"
        );
    }
    // Inputs 1 and 2 were sent (two at a time); input 3 never was.
    assert_eq!(started_attempts(&log, 1), vec![1]);
    assert_eq!(started_attempts(&log, 2), vec![1]);
    assert!(started_attempts(&log, 3).is_empty(), "{log:#?}");
    let end = batch.progress();
    assert_eq!(
        (end.done(), end.failed(), end.in_flight()),
        (1, 3, 0),
        "{end}"
    );
    let stats = batch.stats();
    assert_eq!(stats.kind_count(ErrorKind::Cancelled), 3, "{stats}");
}

// Inputs waiting for a busy host's permit count as queued, not in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_per_host_permit_is_queued() {
    let server = TestServer::start().await;
    let client = builder().per_host_concurrency(1).build().unwrap();
    let batch = client.batch();
    let urls: Vec<String> = (0..3)
        .map(|i| server.url(&format!("/id/{i}?delay=400")))
        .collect();

    let running = {
        let batch = batch.clone();
        tokio::spawn(async move { batch.fetch_all_settled(urls).await })
    };
    let mut snapshots = Vec::new();
    let held = eventually(Duration::from_secs(3), || {
        let p = batch.progress();
        snapshots.push(p);
        p.in_flight() == 1 && p.queued() >= 1
    })
    .await;
    assert!(held, "one in flight, the others queued: {snapshots:?}");

    let results = bounded("per-host batch", running).await.unwrap();
    assert!(results.iter().all(Result::is_ok));
    assert!(
        snapshots.iter().all(|p| p.in_flight() <= 1),
        "one at a time: {snapshots:?}"
    );
    assert_eq!(server.peak_in_flight(), 1);
    let end = batch.progress();
    assert_eq!(
        (end.done(), end.in_flight(), end.queued()),
        (3, 0, 0),
        "{end}"
    );
}
