//! Timeouts of a download: the attempt timeout covers the attempt up to
//! the response head only, so a large file may take longer than it while
//! its bytes keep coming; a body silent for the read timeout (by default
//! the attempt timeout) fails its attempt, and the next one resumes.

use std::time::{Duration, Instant};

use batch_fetch::{BatchClient, ErrorKind, StatusCode};

use super::{assert_no_part, done, failed};
use crate::support::bounded;
use crate::support::clients::{builder, quick};
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 256 * 1024;

fn client(timeout: Duration, read_timeout: Option<Duration>, retries: u32) -> BatchClient {
    let builder = builder().timeout(timeout).retry(quick(retries));
    match read_timeout {
        Some(read) => builder.read_timeout(read),
        None => builder,
    }
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_body_longer_than_the_attempt_timeout_downloads_while_its_bytes_keep_coming() {
    let server = FileServer::start().await;
    // 16 KiB every 50 ms: about 800 ms in all, with a 300 ms timeout.
    let spec = FileSpec::new(SIZE).drip(16 * 1024, Duration::from_millis(50));
    let url = server.add("/slow.bin", spec);
    let dir = Scratch::new("dl-timeout-long");
    let target = dir.join("slow.bin");
    let start = Instant::now();

    let client = client(Duration::from_millis(300), None, 0);
    let d = done(bounded("slow download", client.download(&url, &target)).await);

    assert!(
        start.elapsed() > Duration::from_millis(300),
        "the body took {:?}: not longer than the attempt timeout",
        start.elapsed()
    );
    assert_eq!(d.attempts(), 1);
    assert_eq!(d.bytes(), SIZE);
    assert!(!d.resumed());
    assert_file(&target, "/slow.bin", 0, SIZE);
    assert_eq!(server.requests("/slow.bin").len(), 1);
    assert_no_part(&dir);
}

/// Downloads a file that goes silent for 3 s after `after` bytes (the
/// first request only) with `client`; the silence must end the attempt
/// and the next one resume at `after`.
async fn silent_then_resumed(client: BatchClient, after: u64) {
    let server = FileServer::start().await;
    let spec = FileSpec::new(SIZE).stall(after, Duration::from_secs(3), 1);
    let url = server.add("/f.bin", spec);
    let dir = Scratch::new("dl-timeout-silent");
    let target = dir.join("f.bin");
    let start = Instant::now();

    let d = done(bounded("silent download", client.download(&url, &target)).await);

    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the attempt waited out the silence: {:?}",
        start.elapsed()
    );
    assert_eq!(d.attempts(), 2);
    assert!(d.resumed());
    assert_eq!(d.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/f.bin", 0, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[1].range.as_deref(), Some(&*format!("bytes={after}-")));
    assert_eq!(server.body_bytes("/f.bin"), SIZE, "no byte sent twice");
    assert_no_part(&dir);
}

#[tokio::test]
async fn a_body_silent_for_the_read_timeout_is_resumed_by_the_next_attempt() {
    let client = client(Duration::from_secs(10), Some(Duration::from_millis(200)), 2);
    silent_then_resumed(client, 100_000).await;
}

#[tokio::test]
async fn without_a_read_timeout_a_download_may_be_silent_for_the_attempt_timeout() {
    let client = client(Duration::from_millis(300), None, 2);
    silent_then_resumed(client, 64 * 1024).await;
}

#[tokio::test]
async fn the_attempt_timeout_still_covers_the_head() {
    let server = FileServer::start().await;
    let url = server.add(
        "/late.bin",
        FileSpec::new(SIZE).delay(Duration::from_secs(2)),
    );
    let dir = Scratch::new("dl-timeout-head");
    let target = dir.join("late.bin");

    let client = client(Duration::from_millis(200), None, 1);
    let e = failed(bounded("late head", client.download(&url, &target)).await);

    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
    assert_eq!(e.attempts(), 2);
    assert!(dir.files().is_empty(), "{:?}", dir.files());
}

#[tokio::test]
async fn an_answer_read_into_memory_stays_under_the_attempt_timeout() {
    use std::convert::Infallible;

    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    use crate::support::fn_server::{FnBody, FnServer};

    // A 503 whose body never ends: it is not stored (only a 2xx is), so
    // it is read as a fetch's body is, under the attempt's timeout.
    let server = FnServer::start(|_| async {
        let endless = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((
                Ok::<_, Infallible>(Frame::data(bytes::Bytes::from_static(b"."))),
                (),
            ))
        });
        let body: FnBody = StreamBody::new(endless).boxed_unsync();
        let mut res = http::Response::new(body);
        *res.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        res
    })
    .await;
    let dir = Scratch::new("dl-timeout-status-body");
    let target = dir.join("never.bin");
    let start = Instant::now();

    let client = client(Duration::from_millis(300), None, 0);
    let e = failed(
        bounded(
            "endless 503",
            client.download(server.url("/never"), &target),
        )
        .await,
    );

    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(dir.files().is_empty(), "{:?}", dir.files());
}
