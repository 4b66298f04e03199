//! A server that advertises ranges but answers the resuming request with
//! a whole `200`: the file is that body once, not appended to the partial.

use batch_fetch::StatusCode;

use super::{assert_no_part, client, done};
use crate::support::bounded;
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 512 * 1024;
const CUT: u64 = 200_000;

#[tokio::test]
async fn a_200_answer_to_a_range_request_replaces_the_partial() {
    let server = FileServer::start().await;
    let url = server.add(
        "/f.bin",
        FileSpec::new(SIZE).ignore_range().cut_after(CUT, 1),
    );
    let dir = Scratch::new("dl-ignored-range");
    let target = dir.join("f.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert!(!d.resumed());
    assert_eq!(d.status(), StatusCode::OK);
    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/f.bin", 0, SIZE);
    let hits = server.requests("/f.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    // The client did ask for the rest; the server sent everything.
    assert_eq!(hits[1].range.as_deref(), Some("bytes=200000-"));
    assert_eq!(hits[1].status, 200);
    assert_no_part(&dir);
}
