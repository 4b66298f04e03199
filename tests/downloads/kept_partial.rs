//! `download_continue(true)` (as `aria2c -c`, `curl -C -`): a download
//! that fails keeps its `.part` (and a `.part.meta` with the URL and
//! validator) when it can be resumed, and a later run resumes it with
//! `Range` + `If-Range`: from the right offset, never splicing a changed
//! file, never taking up another URL's partial, never trusting a partial
//! longer than the file. A partial that cannot be resumed is removed, and
//! a run that completes leaves only its file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use batch_fetch::{BatchClient, ErrorKind, StatusCode};

use super::{answers, done, failed, part_of};
use crate::support::bounded;
use crate::support::clients::{builder, quick};
use crate::support::files::{self, FileServer, FileSpec, Validator, WrongRange, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 512 * 1024;
const CUT: u64 = 200_000;

/// A client that keeps partial files, with no retries: a cut ends the run.
fn continuing() -> BatchClient {
    builder().download_continue(true).build().unwrap()
}

fn meta_of(target: &Path) -> PathBuf {
    let mut name = part_of(target).into_os_string();
    name.push(".meta");
    PathBuf::from(name)
}

/// A first run of `url` to `target` that is cut: returns its error.
async fn first_run_cut(url: &str, target: &Path) -> batch_fetch::Error {
    let err = failed(bounded("first run", continuing().download(url, target)).await);
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    err
}

#[tokio::test]
async fn a_kept_partial_is_resumed_by_a_later_run() {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", FileSpec::new(SIZE).cut_after(CUT, 1));
    let dir = Scratch::new("dl-kept");
    let target = dir.join("f.bin");

    first_run_cut(&url, &target).await;
    let part = std::fs::metadata(part_of(&target)).expect("the partial is kept");
    assert_eq!(part.len(), CUT, "the partial holds every byte received");
    assert!(meta_of(&target).exists());
    assert!(!target.exists());

    let d = done(bounded("second run", continuing().download(&url, &target)).await);

    assert!(d.resumed());
    assert_eq!(d.status(), StatusCode::PARTIAL_CONTENT);
    assert_file(&target, "/f.bin", 0, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].range.as_deref(), Some("bytes=200000-"));
    assert_eq!(
        hits[1].if_range.as_deref(),
        Some(files::etag("/f.bin", 0).as_str())
    );
    assert_eq!(dir.files(), [target], "the partial and its meta are gone");
}

#[tokio::test]
async fn a_kept_partial_of_a_changed_file_restarts() {
    let server = FileServer::start().await;
    let spec = FileSpec::new(SIZE).cut_after(CUT, 1).changes_after_first();
    let url = server.add("/f.bin", spec);
    let dir = Scratch::new("dl-kept-changed");
    let target = dir.join("f.bin");

    first_run_cut(&url, &target).await;
    let d = done(bounded("second run", continuing().download(&url, &target)).await);

    assert!(!d.resumed());
    assert_file(&target, "/f.bin", 1, SIZE);
    assert_eq!(server.requests("/f.bin")[1].status, 200);
    assert_eq!(dir.files(), [target]);
}

#[tokio::test]
async fn a_partial_that_cannot_be_resumed_is_removed_even_when_kept() {
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-kept-useless");
    for (path, spec) in [
        ("/none.bin", FileSpec::new(SIZE).validator(Validator::None)),
        ("/weak.bin", FileSpec::new(SIZE).validator(Validator::Weak)),
        ("/noranges.bin", FileSpec::new(SIZE).no_accept_ranges()),
    ] {
        let url = server.add(path, spec.cut_after(CUT, 1));
        first_run_cut(&url, &dir.join(&path[1..])).await;
    }
    assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
}

#[tokio::test]
async fn a_kept_partial_of_another_url_is_not_taken_up() {
    let server = FileServer::start().await;
    let a = server.add("/a.bin", FileSpec::new(SIZE).cut_after(CUT, 1));
    let b = server.add("/b.bin", FileSpec::new(SIZE));
    let dir = Scratch::new("dl-kept-other");
    let target = dir.join("f.bin");

    first_run_cut(&a, &target).await;
    let d = done(bounded("second run", continuing().download(&b, &target)).await);

    assert!(!d.resumed());
    assert_file(&target, "/b.bin", 0, SIZE);
    assert_eq!(server.requests("/b.bin")[0].range, None);
    assert_eq!(dir.files(), [target]);
}

/// Makes the partial file of `target` `extra` bytes longer than the
/// whole file (as if changed on disk since it was kept).
fn lengthen_partial(target: &Path, extra: usize) {
    let mut part = std::fs::read(part_of(target)).unwrap();
    part.resize(SIZE as usize + extra, b'x');
    std::fs::write(part_of(target), part).unwrap();
}

// A partial that holds every byte (a run killed between its last write
// and the rename): the resume asks for bytes past the end, the server
// answers 416 with the length, and the file is whole as it is.
#[tokio::test]
async fn a_kept_partial_holding_every_byte_completes_on_a_416() {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", FileSpec::new(SIZE).cut_after(CUT, 1));
    let dir = Scratch::new("dl-kept-whole");
    let target = dir.join("f.bin");

    first_run_cut(&url, &target).await;
    let mut part = std::fs::read(part_of(&target)).unwrap();
    part.extend(files::content("/f.bin", 0, SIZE).split_off(CUT as usize));
    std::fs::write(part_of(&target), part).unwrap();

    let d = done(bounded("second run", continuing().download(&url, &target)).await);

    assert_file(&target, "/f.bin", 0, SIZE);
    assert_eq!(d.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert!(d.resumed());
    assert_eq!(d.bytes(), SIZE);
    assert_eq!(
        server.answers("/f.bin"),
        answers([(None, 200), (Some("bytes=524288-"), 416)])
    );
    assert!(!part_of(&target).exists());
    assert!(!meta_of(&target).exists());
}

// Its Range starts past the end, the server answers 416 with the real
// length: that must not pass for a whole file; the retry starts over.
#[tokio::test]
async fn a_kept_partial_longer_than_the_file_is_not_taken_for_whole() {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", FileSpec::new(SIZE).cut_after(CUT, 1));
    let dir = Scratch::new("dl-kept-long");
    let target = dir.join("f.bin");

    first_run_cut(&url, &target).await;
    lengthen_partial(&target, 100);
    let client = builder()
        .download_continue(true)
        .retry(quick(2))
        .build()
        .unwrap();
    let d = done(bounded("second run", client.download(&url, &target)).await);

    assert!(!d.resumed());
    assert_file(&target, "/f.bin", 0, SIZE);
    let expected = [(None, 200), (Some("bytes=524388-"), 416), (None, 200)];
    assert_eq!(server.answers("/f.bin"), answers(expected));
    assert_eq!(dir.files(), [target]);
}

// A kept partial the server's answer refuses (a 416 for a partial longer
// than the file, a 206 for other bytes) is of no use to any later run:
// when the run has no attempt left to start over, the partial must go,
// or every later run is refused the same way.
#[tokio::test]
async fn a_refused_kept_partial_is_not_kept_for_the_next_run() {
    let server = FileServer::start().await;
    let lying = FileSpec::new(SIZE)
        .cut_after(CUT, 1)
        .wrong_content_range(WrongRange::Start(10));
    let cases = [
        ("/long.bin", FileSpec::new(SIZE).cut_after(CUT, 1)),
        ("/lying.bin", lying),
    ];
    for (path, spec) in cases {
        let dir = Scratch::new("dl-kept-refused");
        let target = dir.join("f.bin");
        let url = server.add(path, spec);
        first_run_cut(&url, &target).await;
        if path == "/long.bin" {
            lengthen_partial(&target, 100);
        }

        let err = failed(bounded("second run", continuing().download(&url, &target)).await);
        println!("{path}: {err}");
        assert_eq!(server.requests(path).len(), 2);
        assert!(
            dir.files().is_empty(),
            "{path}: kept after the refusal: {:?}",
            dir.files()
        );

        let d = done(bounded("third run", continuing().download(&url, &target)).await);
        assert!(!d.resumed());
        assert_file(&target, path, 0, SIZE);
    }
}

// A cancelled download keeps its partial too, and the next run resumes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_stopped_by_a_deadline_is_resumed_by_a_later_run() {
    let server = FileServer::start().await;
    let spec = FileSpec::new(SIZE).drip(16 * 1024, Duration::from_millis(20));
    let url = server.add("/f.bin", spec);
    let dir = Scratch::new("dl-kept-deadline");
    let target = dir.join("f.bin");
    let items = vec![(url.clone(), target.clone())];

    let batch = continuing().batch().deadline(Duration::from_millis(300));
    let results = bounded("first run", batch.download_all_settled(items.clone())).await;
    let err = failed(results.into_iter().next().unwrap());
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let kept = std::fs::metadata(part_of(&target))
        .expect("the partial is kept")
        .len();
    assert!(kept > 0 && kept < SIZE, "{kept} bytes kept");

    let d = done(bounded("second run", continuing().download(&url, &target)).await);

    assert!(d.resumed());
    assert_file(&target, "/f.bin", 0, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits[1].range, Some(format!("bytes={kept}-")));
    assert_eq!(dir.files(), [target]);
}
