//! A body cut mid-transfer by a server without what resuming needs (no
//! `Accept-Ranges`, no validator, or only a weak `ETag`, which `If-Range`
//! may not use) is fetched again from byte zero: no `Range` is sent, the
//! file is whole and correct, and `resumed()` is false.

use batch_fetch::StatusCode;

use super::{assert_no_part, client, done};
use crate::support::bounded;
use crate::support::files::{FileServer, FileSpec, Validator, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 512 * 1024;
const CUT: u64 = 200_000;

/// Downloads a file served as `spec` and cut once at [`CUT`]; checks that
/// the retry started from zero.
async fn cut_then_restart(spec: FileSpec) {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", spec.cut_after(CUT, 1));
    let dir = Scratch::new("dl-restart");
    let target = dir.join("f.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert!(!d.resumed());
    assert_eq!(d.status(), StatusCode::OK);
    assert_eq!(d.bytes(), SIZE);
    assert_eq!(d.attempts(), 2);
    assert_file(&target, "/f.bin", 0, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    for hit in &hits {
        assert_eq!(
            (hit.range.as_deref(), hit.if_range.as_deref()),
            (None, None),
            "{hit:?}"
        );
    }
    assert_eq!(server.body_bytes("/f.bin"), CUT + SIZE);
    assert_eq!(dir.files(), [target]);
    assert_no_part(&dir);
}

#[tokio::test]
async fn cut_without_accept_ranges_restarts_from_zero() {
    cut_then_restart(FileSpec::new(SIZE).no_accept_ranges()).await;
}

#[tokio::test]
async fn cut_without_a_validator_restarts_from_zero() {
    cut_then_restart(FileSpec::new(SIZE).validator(Validator::None)).await;
}

#[tokio::test]
async fn cut_with_only_a_weak_etag_restarts_from_zero() {
    cut_then_restart(FileSpec::new(SIZE).validator(Validator::Weak)).await;
}
