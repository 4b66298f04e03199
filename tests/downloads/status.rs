//! Only a `2xx` final answer is written: a `4xx` or `5xx` (after the retry
//! policy) is an error of kind `Status` naming the status, and leaves no
//! file and no `.part`; a retried `503` followed by a `200` downloads.

use batch_fetch::{ErrorKind, StatusCode};

use super::{client, done, failed};
use crate::support::bounded;
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

#[tokio::test]
async fn a_404_is_a_status_error_and_leaves_no_file() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-404");
    let target = dir.join("missing.bin");

    let err = failed(bounded("download", client(3).download(server.url("/nope"), &target)).await);

    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{err}");
    assert_eq!(server.requests("/nope").len(), 1, "a 404 is not retried");
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}

#[tokio::test]
async fn a_503_that_outlasts_the_retries_is_a_status_error_and_leaves_no_file() {
    let server = FileServer::start().await;
    let url = server.add("/busy.bin", FileSpec::new(10_000).fail(503, usize::MAX));
    let dir = Scratch::new("dl-503");
    let target = dir.join("busy.bin");

    let err = failed(bounded("download", client(2).download(&url, &target)).await);

    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{err}");
    assert_eq!(err.attempts(), 3, "{err}");
    assert_eq!(server.requests("/busy.bin").len(), 3);
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}

#[tokio::test]
async fn a_500_is_a_status_error_and_leaves_no_file() {
    let server = FileServer::start().await;
    let url = server.add("/broken.bin", FileSpec::new(10_000).fail(500, usize::MAX));
    let dir = Scratch::new("dl-500");
    let target = dir.join("broken.bin");

    let err = failed(bounded("download", client(2).download(&url, &target)).await);

    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    assert_eq!(
        err.status(),
        Some(StatusCode::INTERNAL_SERVER_ERROR),
        "{err}"
    );
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}

#[tokio::test]
async fn a_503_then_a_200_is_retried_and_downloads() {
    const SIZE: u64 = 300_000;
    let server = FileServer::start().await;
    let url = server.add("/later.bin", FileSpec::new(SIZE).fail(503, 1));
    let dir = Scratch::new("dl-503-200");
    let target = dir.join("later.bin");

    let d = done(bounded("download", client(2).download(&url, &target)).await);

    assert_eq!(d.status(), StatusCode::OK);
    assert_eq!(d.attempts(), 2);
    assert!(!d.resumed());
    assert_file(&target, "/later.bin", 0, SIZE);
    assert_eq!(dir.files(), [target]);
}
