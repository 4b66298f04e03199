//! The file changed between the cut attempt and its retry: the server
//! answers the `If-Range` request with a `200` and the new version, and
//! the stored file is exactly the new version, never the old version's
//! first bytes spliced onto the new one's rest.

use batch_fetch::StatusCode;

use super::{assert_no_part, client, done};
use crate::support::bounded;
use crate::support::files::{self, FileServer, FileSpec, Validator, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 512 * 1024;
const CUT: u64 = 200_000;

/// Downloads a file served as `spec`, cut once at [`CUT`] and changed
/// after the first request; checks the result is version 1 alone. Returns
/// the `If-Range` the retry sent.
async fn changed_between_attempts(spec: FileSpec) -> Option<String> {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", spec.cut_after(CUT, 1).changes_after_first());
    let dir = Scratch::new("dl-changed");
    let target = dir.join("f.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert!(!d.resumed());
    assert_eq!(d.status(), StatusCode::OK);
    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/f.bin", 1, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[1].range.as_deref(), Some("bytes=200000-"));
    assert_eq!((hits[1].status, hits[1].version), (200, 1));
    assert_no_part(&dir);
    hits[1].if_range.clone()
}

#[tokio::test]
async fn changed_etag_between_attempts_stores_the_new_version_whole() {
    let if_range = changed_between_attempts(FileSpec::new(SIZE)).await;
    assert_eq!(if_range, Some(files::etag("/f.bin", 0)));
}

#[tokio::test]
async fn changed_last_modified_between_attempts_stores_the_new_version_whole() {
    let spec = FileSpec::new(SIZE).validator(Validator::LastModified);
    let if_range = changed_between_attempts(spec).await;
    assert_eq!(if_range, Some(files::last_modified(0)));
}
