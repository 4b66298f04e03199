//! `max_download_size` bounds what a download may store (announced by
//! `Content-Length` or counted as it streams): over it is `BodyTooLarge`
//! and nothing is left on disk. Downloads are unlimited by default, and
//! `max_body_size` (for buffered bodies) does not apply to them.

use batch_fetch::ErrorKind;

use super::{done, failed};
use crate::support::bounded;
use crate::support::clients::{builder, quick};
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

const LIMIT: u64 = 100_000;

fn limited() -> batch_fetch::BatchClient {
    builder()
        .retry(quick(2))
        .max_download_size(LIMIT)
        .build()
        .unwrap()
}

#[tokio::test]
async fn over_the_limit_by_content_length_is_body_too_large_and_leaves_nothing() {
    let server = FileServer::start().await;
    let url = server.add("/big.bin", FileSpec::new(LIMIT + 1));
    let dir = Scratch::new("dl-limit-length");

    let err = failed(bounded("download", limited().download(&url, dir.join("big.bin"))).await);

    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    assert_eq!(server.requests("/big.bin").len(), 1, "not retried");
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}

#[tokio::test]
async fn over_the_limit_while_streaming_is_body_too_large_and_leaves_nothing() {
    let server = FileServer::start().await;
    let url = server.add("/big.bin", FileSpec::new(4 * LIMIT).chunked());
    let dir = Scratch::new("dl-limit-streamed");

    let err = failed(bounded("download", limited().download(&url, dir.join("big.bin"))).await);

    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    assert_eq!(server.requests("/big.bin").len(), 1, "not retried");
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}

#[tokio::test]
async fn exactly_the_limit_downloads() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-limit-exact");
    for (path, spec) in [
        ("/length.bin", FileSpec::new(LIMIT)),
        ("/chunked.bin", FileSpec::new(LIMIT).chunked()),
    ] {
        let target = dir.join(&path[1..]);
        let url = server.add(path, spec);
        let d = done(bounded("download", limited().download(&url, &target)).await);
        assert_eq!(d.bytes(), LIMIT);
        assert_file(&target, path, 0, LIMIT);
    }
}

#[tokio::test]
async fn downloads_are_unlimited_by_default_whatever_max_body_size() {
    const SIZE: u64 = 4 << 20;
    let server = FileServer::start().await;
    let url = server.add("/large.bin", FileSpec::new(SIZE));
    let dir = Scratch::new("dl-unlimited");
    let target = dir.join("large.bin");
    let client = builder().max_body_size(64 * 1024).build().unwrap();

    // The buffered limit is in force for fetch ...
    let err = crate::support::expect_err(
        bounded("fetch", client.fetch(&url)).await,
        "fetch over max_body_size",
    );
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    // ... and does not bound a download.
    let d = done(bounded("download", client.download(&url, &target)).await);
    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/large.bin", 0, SIZE);
}
