//! A `206` whose `Content-Range` is not the range asked for (it starts
//! elsewhere, or announces another total) is never spliced onto the
//! partial file: the partial is dropped and the next attempt starts from
//! zero without `Range`; with no attempt left, the download fails and
//! leaves no file.

use std::path::PathBuf;

use batch_fetch::{ErrorKind, StatusCode};

use super::{answers, assert_no_part, client, done, failed};
use crate::support::bounded;
use crate::support::files::{FileServer, FileSpec, WrongRange, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 512 * 1024;
const CUT: u64 = 200_000;

const WRONG: [WrongRange; 4] = [
    WrongRange::Start(10),
    WrongRange::Start(-10),
    WrongRange::Total(1),
    WrongRange::Total(-1),
];

/// Serves file `i`, cut once at [`CUT`] and answering ranges with the
/// `wrong` Content-Range; returns its path, URL and target in `dir`.
fn lying_file(
    server: &FileServer,
    dir: &Scratch,
    i: usize,
    wrong: WrongRange,
) -> (String, String, PathBuf) {
    let path = format!("/w{i}.bin");
    let spec = FileSpec::new(SIZE)
        .cut_after(CUT, 1)
        .wrong_content_range(wrong);
    let url = server.add(&path, spec);
    (path, url, dir.join(format!("w{i}.bin")))
}

#[tokio::test]
async fn a_206_with_a_wrong_content_range_is_refused_and_restarted() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-wrong-range");
    for (i, wrong) in WRONG.into_iter().enumerate() {
        let (path, url, target) = lying_file(&server, &dir, i, wrong);

        let d = done(bounded("download", client(3).download(&url, &target)).await);

        assert!(!d.resumed(), "{wrong:?}");
        assert_eq!(d.status(), StatusCode::OK, "{wrong:?}");
        assert_file(&target, &path, 0, SIZE);
        let expected = [(None, 200), (Some("bytes=200000-"), 206), (None, 200)];
        assert_eq!(server.answers(&path), answers(expected), "{wrong:?}");
    }
    assert_no_part(&dir);
}

// One retry only: the cut uses the first attempt, the wrong 206 the retry.
#[tokio::test]
async fn a_wrong_content_range_on_the_last_attempt_fails_and_leaves_nothing() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-wrong-range-last");
    for (i, wrong) in WRONG.into_iter().enumerate() {
        let (path, url, target) = lying_file(&server, &dir, i, wrong);

        let err = failed(bounded("download", client(1).download(&url, &target)).await);

        println!("{wrong:?}: {err}");
        assert_eq!(err.kind(), ErrorKind::Protocol, "{wrong:?}: {err}");
        assert_eq!(server.requests(&path).len(), 2, "{wrong:?}");
        assert!(!target.exists(), "{wrong:?}: a target was written");
    }
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}
