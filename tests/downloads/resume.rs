//! A body cut mid-transfer by a server with range support (`Accept-Ranges:
//! bytes` and a validator) is resumed: the retry asks for the rest with
//! `Range: bytes=K-` and `If-Range: <validator>`, the `206` is appended,
//! and the file is byte-identical to the source.
//!
//! Bytes sent twice: the server writes exactly `K` body bytes before it
//! closes (FIN), and TCP delivers all of them before the end of the
//! stream, so a client that keeps what it received asks from `K` and
//! nothing is sent twice: the server's body bytes equal the file size
//! exactly. (A client that dropped its last unwritten chunk would ask from
//! below `K`; the `Range` assertions would show that first.)

use batch_fetch::StatusCode;

use super::{answers, assert_no_part, client, done};
use crate::support::files::{self, FileServer, FileSpec, Validator, assert_file};
use crate::support::scratch::Scratch;
use crate::support::{Rng, bounded};

const SIZE: u64 = 1 << 20;
const CUT: u64 = 300_000;

#[tokio::test]
async fn cut_with_strong_etag_resumes_with_range_and_if_range() {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", FileSpec::new(SIZE).cut_after(CUT, 1));
    let dir = Scratch::new("dl-resume-etag");
    let target = dir.join("f.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert_eq!(d.path(), target);
    assert_eq!(d.bytes(), SIZE);
    assert_eq!(d.status(), StatusCode::PARTIAL_CONTENT);
    assert!(d.resumed());
    assert_eq!(d.attempts(), 2);
    assert_file(&target, "/f.bin", 0, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (hits[0].range.as_deref(), hits[0].if_range.as_deref()),
        (None, None)
    );
    assert_eq!(hits[1].range.as_deref(), Some("bytes=300000-"));
    assert_eq!(
        hits[1].if_range.as_deref(),
        Some(files::etag("/f.bin", 0).as_str())
    );
    assert_eq!(hits[1].status, 206);
    assert_eq!(server.body_bytes("/f.bin"), SIZE, "bytes sent twice");
    assert_eq!(dir.files(), [target]);
}

#[tokio::test]
async fn cut_with_last_modified_only_resumes_with_the_date_in_if_range() {
    let server = FileServer::start().await;
    let spec = FileSpec::new(SIZE)
        .validator(Validator::LastModified)
        .cut_after(CUT, 1);
    let url = server.add("/lm.bin", spec);
    let dir = Scratch::new("dl-resume-date");
    let target = dir.join("lm.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert!(d.resumed());
    assert_eq!(d.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/lm.bin", 0, SIZE);
    let hits = server.requests("/lm.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[1].range.as_deref(), Some("bytes=300000-"));
    assert_eq!(
        hits[1].if_range.as_deref(),
        Some(files::last_modified(0).as_str())
    );
    assert_eq!(server.body_bytes("/lm.bin"), SIZE, "bytes sent twice");
    assert_no_part(&dir);
}

// Three cuts in a row: each retry resumes where the last one ended.
#[tokio::test]
async fn repeated_cuts_resume_from_each_new_offset() {
    let server = FileServer::start().await;
    let spec = FileSpec::new(SIZE).cuts(vec![100_000, 200_000, 500_000]);
    let url = server.add("/cuts.bin", spec);
    let dir = Scratch::new("dl-resume-cuts");
    let target = dir.join("cuts.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert!(d.resumed());
    assert_eq!(d.attempts(), 4);
    assert_file(&target, "/cuts.bin", 0, SIZE);
    let expected = answers([
        (None, 200),
        (Some("bytes=100000-"), 206),
        (Some("bytes=300000-"), 206),
        (Some("bytes=800000-"), 206),
    ]);
    assert_eq!(server.answers("/cuts.bin"), expected);
    assert_eq!(server.body_bytes("/cuts.bin"), SIZE, "bytes sent twice");
    assert_no_part(&dir);
}

// The fault scenario in small: every transfer of a batch cut at
// random offsets, twice; every file byte-identical, bytes re-sent at most
// 1 % of the total (here none, see the module docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cuts_across_a_batch_resend_almost_nothing() {
    const FILES: usize = 16;
    let server = FileServer::start().await;
    let dir = Scratch::new("dl-resume-random");
    let mut rng = Rng::new(19);
    let mut items = Vec::new();
    for i in 0..FILES {
        // Two cuts: one in the first half, one in what is left.
        let first = 1 + rng.below(SIZE / 2);
        let second = 1 + rng.below(SIZE - first - 1);
        let path = format!("/r{i}.bin");
        let url = server.add(&path, FileSpec::new(SIZE).cuts(vec![first, second]));
        items.push((url, dir.join(format!("r{i}.bin"))));
    }
    let client = crate::support::clients::builder()
        .retry(crate::support::clients::quick(2))
        .concurrency(8)
        .build()
        .unwrap();

    let downloads = bounded("batch", client.download_all(items.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(downloads.len(), FILES);
    for (i, d) in downloads.iter().enumerate() {
        assert_eq!(d.path(), items[i].1);
        assert!(d.resumed(), "input {i}");
        assert_eq!(d.attempts(), 3, "input {i}");
        assert_file(d.path(), &format!("/r{i}.bin"), 0, SIZE);
    }
    let total = SIZE * FILES as u64;
    let resent = server.total_body_bytes() - total;
    println!("re-sent {resent} of {total} bytes");
    assert!(resent * 100 <= total, "re-sent {resent} of {total} bytes");
    assert_eq!(resent, 0);
    assert_no_part(&dir);
}

// A chunked body (no Content-Length) cut after its last byte, before
// its end: without a length the client cannot tell a decoded body from a
// raw one (tower-http drops both headers when it decodes), so it does not
// resume: the retry starts over, and the file is the whole body once.
#[tokio::test]
async fn a_chunked_body_is_not_resumed_but_started_over() {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", FileSpec::new(SIZE).chunked().cut_after(SIZE, 1));
    let dir = Scratch::new("dl-resume-chunked");
    let target = dir.join("f.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert_file(&target, "/f.bin", 0, SIZE);
    assert_eq!(
        server.answers("/f.bin"),
        answers([(None, 200), (None, 200)])
    );
    assert!(!d.resumed());
    assert_eq!(d.status(), StatusCode::OK);
    assert_no_part(&dir);
}
