//! Cancellation mid-download: `Batch::cancel()` from another task, a batch
//! deadline, and dropping the `download_all` future or the
//! `download_stream`. Every input of a settled batch gets its result
//! (`Cancelled` for the unfinished), and no `.part` file is left, at once:
//! when the results are in, or when the drop returns.
//!
//! The slow files drip (8 KiB every 20 ms, about 2.6 s per file), so the
//! stop always lands mid-body: each test first waits until the server
//! has written part of them and their `.part` files exist.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use batch_fetch::{BatchClient, Download, Error, ErrorKind};
use futures_util::StreamExt;

use super::{assert_no_part, done, part_of};
use crate::support::clients::builder;
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;
use crate::support::{bounded, eventually};

const FAST: u64 = 10_000;
const SLOW: u64 = 1 << 20;
/// How long the slow downloads get to be under way.
const START_WAIT: Duration = Duration::from_secs(5);

/// `/fast.bin`, then three slow files, into `dir`; with concurrency 2,
/// the fast file and `slow1` start, `slow2` follows the fast file, and
/// `slow3` waits for a free slot that comes too late.
fn inputs(server: &FileServer, dir: &Scratch) -> Vec<(String, PathBuf)> {
    let mut items = vec![(
        server.add("/fast.bin", FileSpec::new(FAST)),
        dir.join("fast.bin"),
    )];
    for i in 1..=3 {
        let spec = FileSpec::new(SLOW).drip(8 * 1024, Duration::from_millis(20));
        let url = server.add(&format!("/slow{i}.bin"), spec);
        items.push((url, dir.join(format!("slow{i}.bin"))));
    }
    items
}

fn concurrency_2() -> BatchClient {
    builder().concurrency(2).build().unwrap()
}

/// Whether `slow1` and `slow2` are mid-body: bytes written by the server,
/// `.part` files on disk.
fn under_way(server: &FileServer, items: &[(String, PathBuf)]) -> bool {
    (1..=2).all(|i| {
        server.body_bytes(&format!("/slow{i}.bin")) >= 64 * 1024 && part_of(&items[i].1).exists()
    })
}

/// Checks the results of a batch stopped (by `why`) while `slow1` and
/// `slow2` were under way: the fast file is whole, the others are
/// `Cancelled` with no file, `slow3` was never asked for, and no `.part`
/// is left (when the results are in, the temporary files are gone).
fn check_stopped(
    server: &FileServer,
    dir: &Scratch,
    items: &[(String, PathBuf)],
    results: Vec<Result<Download, Error>>,
    why: &str,
) {
    assert_eq!(results.len(), items.len());
    let mut results = results.into_iter();
    let fast = done(results.next().unwrap());
    assert_file(fast.path(), "/fast.bin", 0, FAST);
    for (i, result) in (1..).zip(results) {
        let err = super::failed(result);
        assert_eq!(err.kind(), ErrorKind::Cancelled, "input {i}: {err}");
        assert_eq!(err.index(), Some(i), "{err}");
        assert!(
            err.to_string().contains(why),
            "input {i}: not a {why} error: {err}"
        );
        assert!(!items[i].1.exists(), "input {i}: a target was written");
    }
    for i in 1..=2 {
        let sent = server.body_bytes(&format!("/slow{i}.bin"));
        assert!(
            sent > 0 && sent < SLOW,
            "slow{i}: {sent} bytes sent: not stopped mid-body"
        );
    }
    assert!(
        server.requests("/slow3.bin").is_empty(),
        "slow3 was started"
    );
    assert_no_part(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_another_task_mid_download_settles_all_and_leaves_no_part() {
    let server = Arc::new(FileServer::start().await);
    let dir = Scratch::new("dl-cancel");
    let items = inputs(&server, &dir);
    let batch = concurrency_2().batch();

    let (canceller, watched, seen) = (batch.clone(), server.clone(), items.clone());
    let cancel = tokio::spawn(async move {
        let started = eventually(START_WAIT, || under_way(&watched, &seen)).await;
        canceller.cancel();
        started
    });
    let results = bounded("batch", batch.download_all_settled(items.clone())).await;

    assert!(
        cancel.await.unwrap(),
        "the slow downloads never got under way"
    );
    check_stopped(&server, &dir, &items, results, "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_mid_download_settles_all_and_leaves_no_part() {
    let server = Arc::new(FileServer::start().await);
    let dir = Scratch::new("dl-deadline");
    let items = inputs(&server, &dir);
    // Well after the slow downloads start, well before they end (2.6 s).
    let batch = concurrency_2()
        .batch()
        .deadline(Duration::from_millis(1500));

    // Watches that the stop comes mid-body.
    let seen_under_way = Arc::new(AtomicBool::new(false));
    let (flag, watched, seen) = (seen_under_way.clone(), server.clone(), items.clone());
    let watch = tokio::spawn(async move {
        let started = eventually(START_WAIT, || under_way(&watched, &seen)).await;
        flag.store(started, Ordering::SeqCst);
    });
    let results = bounded("batch", batch.download_all_settled(items.clone())).await;
    watch.abort();

    assert!(
        seen_under_way.load(Ordering::SeqCst),
        "the deadline came before the slow downloads were under way"
    );
    check_stopped(&server, &dir, &items, results, "deadline");
}

/// Asserts that the drop just done left no `.part`: a dropped download
/// removes its partial file in the drop itself (after a write under way
/// ends), so there is nothing to wait for.
#[track_caller]
fn no_part_after_drop(dir: &Scratch) {
    let parts = dir.part_files();
    assert!(
        parts.is_empty(),
        "temporary files left by the drop: {parts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_download_all_mid_download_leaves_no_part() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-drop-all");
    let items = inputs(&server, &dir);
    let client = concurrency_2();

    tokio::select! {
        result = client.download_all(items.clone()) => {
            panic!("finished before the drop: {:?}", result.map(|d| d.len()))
        }
        started = eventually(START_WAIT, || under_way(&server, &items)) => {
            assert!(started, "the slow downloads never got under way");
        }
    }
    // The download_all future is dropped here.
    no_part_after_drop(&dir);

    assert_file(&items[0].1, "/fast.bin", 0, FAST);
    for (_, target) in &items[1..] {
        assert!(!target.exists(), "{}: written", target.display());
    }
    assert!(
        eventually(Duration::from_secs(2), || server.open_connections() <= 1).await,
        "the dropped transfers' connections stay open: {}",
        server.open_connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_download_stream_mid_download_leaves_no_part() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-drop-stream");
    let items = inputs(&server, &dir);
    let client = concurrency_2();

    {
        let mut stream = std::pin::pin!(client.download_stream(items.clone()));
        let (index, first) = bounded("first item", stream.next()).await.expect("an item");
        assert_eq!(index, 0, "the fast file finishes first");
        assert_file(done(first).path(), "/fast.bin", 0, FAST);
        // The stream drives the batch: poll it while waiting.
        tokio::select! {
            item = stream.next() => {
                panic!("another item before the drop: {:?}", item.map(|(i, _)| i))
            }
            started = eventually(START_WAIT, || under_way(&server, &items)) => {
                assert!(started, "the slow downloads never got under way");
            }
        }
    }
    // The stream is dropped here.
    no_part_after_drop(&dir);
    for (_, target) in &items[1..] {
        assert!(!target.exists(), "{}: written", target.display());
    }
}
