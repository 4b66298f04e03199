//! Batch deadlines and cancellation: a deadline (per batch or client-wide)
//! or a cancel (`Batch::cancel`, a parent `CancellationToken`) stops a
//! batch at once. Requests under way are dropped (the server sees them go),
//! inputs not yet started are never sent, and every entry point says so:
//! `fetch_all_settled` gives each unfinished input a `Cancelled` error,
//! `fetch_all` returns one, the streams yield one per request under way and
//! end. Results completed before the stop stay `Ok`.

use std::pin::pin;
use std::time::{Duration, Instant};

use crate::support::clients::builder;
use crate::support::{TestServer, bounded, eventually, expect_err, within};
use batch_fetch::{BatchClient, CancellationToken, Error, ErrorKind, Response, from_stream};
use futures_util::StreamExt;

/// The deadline of most tests here: long enough that the fast requests
/// finish first even on a loaded machine.
const DEADLINE: Duration = Duration::from_millis(1000);
/// When the cancelling tests cancel: after the fast requests are done.
const CANCEL_AFTER: Duration = Duration::from_millis(1000);
/// The clock slack allowed on lower bounds.
const SLACK: Duration = Duration::from_millis(5);
/// Upper bound for a stopped batch to return: below the 10 s of a hanging
/// request, far above any scheduling delay.
const PROMPT: Duration = Duration::from_secs(6);

fn client(concurrency: usize) -> BatchClient {
    builder().concurrency(concurrency).build().unwrap()
}

/// A request answered at once, with body `i`.
fn fast(server: &TestServer, i: usize) -> String {
    server.url(&format!("/id/{i}"))
}

/// The path of a request that hangs for 10 s (distinct per input, so its
/// hits can be counted).
fn hang_path(i: usize) -> String {
    format!("/delay/10000?i={i}")
}

fn hang(server: &TestServer, i: usize) -> String {
    server.url(&hang_path(i))
}

/// Checks that `result` is the `Cancelled` error of input `index`, for `url`,
/// and that it names `why` ("deadline" or "cancelled"); returns it.
#[track_caller]
fn cancelled<'r>(
    result: &'r Result<Response, Error>,
    index: usize,
    url: &str,
    why: &str,
) -> &'r Error {
    let err = match result {
        Ok(res) => panic!("input {index}: expected Cancelled, got {}", res.status()),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::Cancelled, "input {index}: {err}");
    assert_eq!(err.index(), Some(index), "{err}");
    assert_eq!(
        err.url().map(ToString::to_string).as_deref(),
        Some(url),
        "{err}"
    );
    assert!(err.to_string().contains(why), "not a {why} error: {err}");
    err
}

#[track_caller]
fn ok_body(result: &Result<Response, Error>, body: &str) {
    match result {
        Ok(res) => {
            assert_eq!(res.status(), 200);
            assert_eq!(res.text().unwrap(), body);
        }
        Err(err) => panic!("expected Ok({body:?}), got {err}"),
    }
}

// Concurrency 2: inputs 0 and 1 complete, 2 and 3 hang until the deadline
// drops them, 4.. never start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_settles_every_input_and_sends_no_more() {
    let server = TestServer::start().await;
    let urls = vec![
        fast(&server, 0),
        fast(&server, 1),
        hang(&server, 2),
        hang(&server, 3),
        fast(&server, 4),
        hang(&server, 5),
        fast(&server, 6),
    ];
    let batch = client(2).batch().deadline(DEADLINE);

    let t0 = Instant::now();
    let results = within(PROMPT, "batch", batch.fetch_all_settled(&urls)).await;
    let elapsed = t0.elapsed();

    assert!(elapsed >= DEADLINE - SLACK, "returned after {elapsed:?}");
    assert_eq!(results.len(), urls.len());
    ok_body(&results[0], "0");
    ok_body(&results[1], "1");
    // Dropped while under way: they ran, so they have timings.
    for i in [2, 3] {
        let err = cancelled(&results[i], i, &urls[i], "deadline");
        let timings = err.timings().expect("a started input has timings");
        assert!(timings.total() >= Duration::from_millis(1), "{timings:?}");
        assert_eq!(server.hits(&hang_path(i)), 1);
    }
    // Never started: no timings, never sent.
    for i in [4, 5, 6] {
        let err = cancelled(&results[i], i, &urls[i], "deadline");
        assert!(err.timings().is_none(), "input {i}: {:?}", err.timings());
    }
    assert!(!batch.is_cancelled(), "a deadline is not a cancel()");
    let progress = batch.progress();
    assert_eq!(
        (progress.done(), progress.failed(), progress.in_flight()),
        (2, 5, 0),
        "{progress}"
    );
    // Even a while later: nothing of the stopped batch reaches the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.hits("/id/4") + server.hits("/id/6"), 0);
    assert_eq!(server.hits(&hang_path(5)), 0);
    assert_eq!(server.total_hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sees_dropped_requests_go_away() {
    let server = TestServer::start().await;
    let urls: Vec<String> = (0..3).map(|i| hang(&server, i)).collect();

    let results = within(
        PROMPT,
        "batch",
        client(3)
            .batch()
            .deadline(DEADLINE)
            .fetch_all_settled(&urls),
    )
    .await;
    for (i, result) in results.iter().enumerate() {
        cancelled(result, i, &urls[i], "deadline");
    }

    assert!(
        eventually(Duration::from_secs(2), || server.cancelled() == 3
            && server.in_flight() == 0
            && server.open_connections() == 0)
        .await,
        "cancelled {}, in flight {}, open connections {}",
        server.cancelled(),
        server.in_flight(),
        server.open_connections()
    );
    assert_eq!(server.completed(), 0);
    assert_eq!(server.total_hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_under_deadline_returns_cancelled() {
    let server = TestServer::start().await;
    let urls = vec![fast(&server, 0), hang(&server, 1), hang(&server, 2)];

    let t0 = Instant::now();
    let result = within(
        PROMPT,
        "batch",
        client(4).batch().deadline(DEADLINE).fetch_all(&urls),
    )
    .await;
    assert!(t0.elapsed() >= DEADLINE - SLACK, "{:?}", t0.elapsed());
    let err = expect_err(result, "fetch_all past its deadline");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let index = err.index().expect("the error names its input");
    assert!(
        index == 1 || index == 2,
        "a hanging input, not {index}: {err}"
    );
    assert_eq!(err.url().unwrap().to_string(), urls[index]);
}

// Concurrency 4: 0-3 start, 1 and 3 complete and make room for 4 and 5,
// 6 never starts. The stream yields 1 and 3, then 0, 2, 4, 5 cancelled, ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_yields_completed_then_cancelled_then_ends() {
    let server = TestServer::start().await;
    let urls = vec![
        hang(&server, 0),
        fast(&server, 1),
        hang(&server, 2),
        fast(&server, 3),
        hang(&server, 4),
        hang(&server, 5),
        hang(&server, 6),
    ];
    let batch = client(4).batch().deadline(DEADLINE);

    let t0 = Instant::now();
    let seen = within(PROMPT, "stream", async {
        let mut stream = pin!(batch.fetch_stream(urls.clone()));
        let mut seen = Vec::new();
        // Bounded: one more poll than there are inputs, to see the end.
        for _ in 0..=urls.len() {
            match stream.next().await {
                Some((index, result)) => seen.push((index, result, t0.elapsed())),
                None => return seen,
            }
        }
        panic!("the stream yielded more items than there are inputs");
    })
    .await;

    let order: Vec<(usize, bool)> = seen.iter().map(|(i, r, _)| (*i, r.is_ok())).collect();
    let (oks, errs) = order.split_at(2);
    let mut oks = oks.to_vec();
    oks.sort_unstable();
    assert_eq!(
        oks,
        [(1, true), (3, true)],
        "completed ones first: {order:?}"
    );
    assert_eq!(
        errs,
        [(0, false), (2, false), (4, false), (5, false)],
        "then the dropped ones, in input order, and nothing for 6: {order:?}"
    );
    for (index, result, at) in &seen {
        if result.is_ok() {
            ok_body(result, &index.to_string());
        } else {
            cancelled(result, *index, &urls[*index], "deadline");
            assert!(*at >= DEADLINE - SLACK, "input {index} at {at:?}");
        }
    }
    assert_eq!(server.hits(&hang_path(6)), 0);
}

// A response that came before the deadline is a result, even when the
// consumer polls only after the deadline: the stop keeps what is done
// (before, input 1 was reported `Cancelled`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_in_before_the_stop_is_kept_when_polled_late() {
    let server = TestServer::start().await;
    // Input 1 is sent while input 0 is awaited (its connect is driven by
    // the consumer's polls), and answered after input 0 but before the
    // deadline.
    let urls = vec![
        server.url("/id/0?delay=200"),
        server.url("/bytes/200000?delay=300"),
        hang(&server, 2),
    ];
    let deadline = Duration::from_millis(500);
    let batch = client(3).batch().deadline(deadline);

    let seen = within(PROMPT, "stream", async {
        let mut stream = pin!(batch.fetch_stream(urls.clone()));
        let mut seen = vec![stream.next().await.expect("input 0")];
        assert_eq!(
            server.hits("/bytes/200000?delay=300"),
            1,
            "input 1 was sent"
        );
        // Not polled while input 1's response arrives and the deadline
        // passes.
        tokio::time::sleep(deadline * 2).await;
        for _ in 0..urls.len() {
            match stream.next().await {
                Some(item) => seen.push(item),
                None => return seen,
            }
        }
        panic!("the stream yielded more items than there are inputs");
    })
    .await;

    let order: Vec<(usize, bool)> = seen.iter().map(|(i, r)| (*i, r.is_ok())).collect();
    assert_eq!(order, [(0, true), (1, true), (2, false)], "{order:?}");
    ok_body(&seen[0].1, "0");
    assert_eq!(seen[1].1.as_ref().unwrap().body().len(), 200_000);
    cancelled(&seen[2].1, 2, &urls[2], "deadline");
    assert_eq!(batch.stats().count(), 3);
}

// Concurrency 4: 0-3 start, 0 and 2 complete, 4 starts and completes; 1 and
// 3 hang. In input order, 2 and 4 wait behind the cancelled 1 and 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_stream_yields_in_index_order_then_ends() {
    let server = TestServer::start().await;
    let urls = vec![
        fast(&server, 0),
        hang(&server, 1),
        fast(&server, 2),
        hang(&server, 3),
        fast(&server, 4),
    ];
    let batch = client(4).batch().deadline(DEADLINE);

    let t0 = Instant::now();
    let seen = within(PROMPT, "ordered stream", async {
        let mut stream = pin!(batch.fetch_stream_ordered(urls.clone()));
        let mut seen = Vec::new();
        for _ in 0..=urls.len() {
            match stream.next().await {
                Some((index, result)) => seen.push((index, result, t0.elapsed())),
                None => return seen,
            }
        }
        panic!("the stream yielded more items than there are inputs");
    })
    .await;

    let indices: Vec<usize> = seen.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4]);
    for (index, result, at) in &seen {
        match index {
            1 | 3 => {
                cancelled(result, *index, &urls[*index], "deadline");
            }
            _ => ok_body(result, &index.to_string()),
        }
        if *index >= 1 {
            // Behind input 1, which only the deadline settles.
            assert!(*at >= DEADLINE - SLACK, "input {index} at {at:?}");
        }
    }
}

// Input 0 completes, 1 and 2 hang (concurrency 2), 3 waits its turn when
// another task cancels the batch. The batch stays cancelled after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_another_task_stops_the_batch_for_good() {
    let server = TestServer::start().await;
    let urls = vec![
        fast(&server, 0),
        hang(&server, 1),
        hang(&server, 2),
        hang(&server, 3),
    ];
    let batch = client(2).batch();
    assert!(!batch.is_cancelled());

    let canceller = batch.clone();
    let cancel_task = tokio::spawn(async move {
        tokio::time::sleep(CANCEL_AFTER).await;
        canceller.cancel();
    });
    let t0 = Instant::now();
    let results = within(PROMPT, "batch", batch.fetch_all_settled(&urls)).await;
    assert!(t0.elapsed() >= CANCEL_AFTER - SLACK, "{:?}", t0.elapsed());
    cancel_task.await.unwrap();

    assert!(batch.is_cancelled());
    assert_eq!(results.len(), 4);
    ok_body(&results[0], "0");
    for i in [1, 2] {
        let err = cancelled(&results[i], i, &urls[i], "cancelled");
        assert!(err.timings().is_some());
    }
    let err = cancelled(&results[3], 3, &urls[3], "cancelled");
    assert!(err.timings().is_none());
    assert_eq!(server.hits(&hang_path(3)), 0);
    let hits = server.total_hits();
    assert_eq!(hits, 3);

    // A second fetch on the cancelled batch: all Cancelled, nothing sent.
    let again = within(PROMPT, "second batch", batch.fetch_all_settled(&urls)).await;
    assert_eq!(again.len(), urls.len());
    for (i, result) in again.iter().enumerate() {
        let err = cancelled(result, i, &urls[i], "cancelled");
        assert!(err.timings().is_none(), "input {i} was never started");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.total_hits(),
        hits,
        "the cancelled batch sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_parent_token_stops_the_batch() {
    let server = TestServer::start().await;
    let urls = vec![fast(&server, 0), hang(&server, 1), hang(&server, 2)];
    let shutdown = CancellationToken::new();
    // Concurrency 1: 0 completes, 1 hangs, 2 waits its turn.
    let batch = client(1).batch().cancel_on(&shutdown);

    let trigger = shutdown.clone();
    let cancel_task = tokio::spawn(async move {
        tokio::time::sleep(CANCEL_AFTER).await;
        trigger.cancel();
    });
    let t0 = Instant::now();
    let results = within(PROMPT, "batch", batch.fetch_all_settled(&urls)).await;
    assert!(t0.elapsed() >= CANCEL_AFTER - SLACK);
    cancel_task.await.unwrap();

    assert!(
        batch.is_cancelled(),
        "the parent's cancel reaches the batch"
    );
    assert_eq!(results.len(), 3);
    ok_body(&results[0], "0");
    let err = cancelled(&results[1], 1, &urls[1], "cancelled");
    assert!(err.timings().is_some());
    let err = cancelled(&results[2], 2, &urls[2], "cancelled");
    assert!(err.timings().is_none());
    assert_eq!(server.hits(&hang_path(2)), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_batch_leaves_the_parent_token_alone() {
    let server = TestServer::start().await;
    let urls = vec![fast(&server, 0), fast(&server, 1)];
    let parent = CancellationToken::new();
    let client = client(2);

    let child = client.batch().cancel_on(&parent);
    child.cancel();
    assert!(child.is_cancelled());
    assert!(!parent.is_cancelled(), "the child cancelled its parent");
    let results = within(PROMPT, "cancelled batch", child.fetch_all_settled(&urls)).await;
    for (i, result) in results.iter().enumerate() {
        cancelled(result, i, &urls[i], "cancelled");
    }
    assert_eq!(server.total_hits(), 0);

    // Another batch under the same parent runs normally.
    let sibling = client.batch().cancel_on(&parent);
    assert!(!sibling.is_cancelled());
    let results = bounded("sibling batch", sibling.fetch_all_settled(&urls)).await;
    ok_body(&results[0], "0");
    ok_body(&results[1], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_batch_deadline_applies_and_no_deadline_lifts_it() {
    let server = TestServer::start().await;
    let client = builder()
        .concurrency(4)
        .batch_deadline(DEADLINE)
        .build()
        .unwrap();

    // The plain client method runs under the client's deadline.
    let urls = vec![fast(&server, 0), hang(&server, 1)];
    let t0 = Instant::now();
    let results = within(PROMPT, "client batch", client.fetch_all_settled(&urls)).await;
    assert!(t0.elapsed() >= DEADLINE - SLACK, "{:?}", t0.elapsed());
    ok_body(&results[0], "0");
    cancelled(&results[1], 1, &urls[1], "deadline");

    // Without it, a batch longer than the deadline completes.
    let slow: Vec<String> = (0..2)
        .map(|i| server.url(&format!("/id/{i}?delay=1500")))
        .collect();
    let t0 = Instant::now();
    let results = bounded(
        "batch without deadline",
        client.batch().no_deadline().fetch_all_settled(&slow),
    )
    .await;
    assert!(t0.elapsed() >= Duration::from_millis(1500) - SLACK);
    ok_body(&results[0], "0");
    ok_body(&results[1], "1");
}

#[tokio::test]
async fn zero_batch_deadline_is_a_config_error() {
    let err = expect_err(
        builder().batch_deadline(Duration::ZERO).build(),
        "batch_deadline(0)",
    );
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_that_never_fires_changes_nothing() {
    let server = TestServer::start().await;
    let urls: Vec<String> = (0..20)
        .map(|i| server.url(&format!("/id/{i}?delay=10")))
        .collect();
    let batch = client(4).batch().deadline(Duration::from_secs(10));

    let results = bounded("batch", batch.fetch_all_settled(&urls)).await;
    assert_eq!(results.len(), 20);
    for (i, result) in results.iter().enumerate() {
        ok_body(result, &i.to_string());
    }
    assert!(!batch.is_cancelled());
    assert_eq!(server.total_hits(), 20);
    assert_eq!(server.cancelled(), 0);
}

// A channel whose sender stays open: the batch does not wait for more
// inputs past its deadline. Concurrency 1: 0 completes, 1 hangs, 2 and 3
// wait in the channel; all four get a result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_stream_input_does_not_hold_the_deadline() {
    let server = TestServer::start().await;
    let urls = vec![
        fast(&server, 0),
        hang(&server, 1),
        fast(&server, 2),
        fast(&server, 3),
    ];
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(16);
    for url in &urls {
        tx.send(url.clone()).await.unwrap();
    }
    let inputs =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|url| (url, rx)) },
        );

    let t0 = Instant::now();
    let results = within(
        PROMPT,
        "stream input",
        client(1)
            .batch()
            .deadline(DEADLINE)
            .fetch_all_settled(from_stream(inputs)),
    )
    .await;
    assert!(t0.elapsed() >= DEADLINE - SLACK, "{:?}", t0.elapsed());

    assert_eq!(results.len(), urls.len(), "one result per item received");
    ok_body(&results[0], "0");
    let err = cancelled(&results[1], 1, &urls[1], "deadline");
    assert!(err.timings().is_some());
    for i in [2, 3] {
        let err = cancelled(&results[i], i, &urls[i], "deadline");
        assert!(err.timings().is_none());
        assert_eq!(server.hits(&format!("/id/{i}")), 0);
    }
    // The sender lived until here.
    drop(tx);
}
