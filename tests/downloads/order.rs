//! One result per input, whatever each input does: `download_all_settled`
//! answers in input order, `download_stream` yields each index once,
//! `download_stream_ordered` each in input order, and
//! `download_all` fails fast with the first error and leaves no `.part`
//! of the downloads it stopped.

use std::path::PathBuf;
use std::time::Duration;

use batch_fetch::{Download, Error, ErrorKind, StatusCode};
use futures_util::StreamExt;

use super::{assert_no_part, client, done, failed};
use crate::support::bounded;
use crate::support::clients::builder;
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 100_000;

/// Good, invalid URL, 404, cut on every attempt, good: targets in `dir`.
fn mixed(server: &FileServer, dir: &Scratch) -> Vec<(String, PathBuf)> {
    let good0 = server.add("/good0.bin", FileSpec::new(SIZE));
    let cut = server.add(
        "/cut.bin",
        FileSpec::new(SIZE).cut_after(30_000, usize::MAX),
    );
    let good4 = server.add("/good4.bin", FileSpec::new(SIZE));
    vec![
        (good0, dir.join("0.bin")),
        ("not a url".to_string(), dir.join("1.bin")),
        (server.url("/nope"), dir.join("2.bin")),
        (cut, dir.join("3.bin")),
        (good4, dir.join("4.bin")),
    ]
}

/// Checks the result of input `i` of [`mixed`].
#[track_caller]
fn check_mixed(i: usize, result: Result<Download, Error>, dir: &Scratch) {
    if i == 0 || i == 4 {
        let d = done(result);
        assert_eq!(d.path(), dir.join(format!("{i}.bin")));
        assert_file(d.path(), &format!("/good{i}.bin"), 0, SIZE);
        return;
    }
    let err = failed(result);
    assert_eq!(err.index(), Some(i), "{err}");
    match i {
        1 => assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}"),
        2 => assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{err}"),
        _ => assert_eq!(err.kind(), ErrorKind::Protocol, "{err}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_gives_one_result_per_input_in_input_order() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-order-settled");
    let items = mixed(&server, &dir);

    let results = bounded("batch", client(1).download_all_settled(items)).await;

    assert_eq!(results.len(), 5);
    for (i, result) in results.into_iter().enumerate() {
        check_mixed(i, result, &dir);
    }
    assert_eq!(dir.files(), [dir.join("0.bin"), dir.join("4.bin")]);
    assert_eq!(server.requests("/cut.bin").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_stream_yields_each_index_once() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-order-stream");
    let items = mixed(&server, &dir);

    let mut seen: Vec<(usize, Result<Download, Error>)> =
        bounded("stream", client(1).download_stream(items).collect()).await;

    seen.sort_by_key(|(i, _)| *i);
    let indices: Vec<usize> = seen.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4]);
    for (i, result) in seen {
        check_mixed(i, result, &dir);
    }
    assert_no_part(&dir);
}

// The first input is the slowest: the ordered stream holds the others
// back until it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_stream_ordered_yields_in_input_order() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-order-ordered");
    let mut items = mixed(&server, &dir);
    let slow = FileSpec::new(SIZE).delay(Duration::from_millis(300));
    items[0].0 = server.add("/good0.bin", slow);

    let seen: Vec<(usize, Result<Download, Error>)> =
        bounded("stream", client(1).download_stream_ordered(items).collect()).await;

    let indices: Vec<usize> = seen.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4]);
    for (i, result) in seen {
        check_mixed(i, result, &dir);
    }
    assert_no_part(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_all_fails_fast_and_leaves_no_part() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-order-fail-fast");
    let slow = || FileSpec::new(1 << 20).drip(8 * 1024, Duration::from_millis(20));
    let items = vec![
        (server.add("/slow0.bin", slow()), dir.join("0.bin")),
        (server.add("/slow1.bin", slow()), dir.join("1.bin")),
        // Answered once the slow ones are under way.
        (
            server.add(
                "/late404.bin",
                FileSpec::new(10)
                    .fail(404, usize::MAX)
                    .delay(Duration::from_millis(300)),
            ),
            dir.join("2.bin"),
        ),
    ];
    let client = builder().concurrency(3).build().unwrap();

    let err = bounded("batch", client.download_all(items))
        .await
        .map(|d| d.len());
    let err = err.expect_err("a 404 among the inputs");

    assert_eq!(err.index(), Some(2), "{err}");
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{err}");
    for i in 0..2 {
        let sent = server.body_bytes(&format!("/slow{i}.bin"));
        assert!(
            sent > 0 && sent < 1 << 20,
            "slow{i}: {sent} bytes: not stopped mid-body"
        );
    }
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}
