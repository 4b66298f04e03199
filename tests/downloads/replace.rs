//! An existing target is left as it is until its download completes, then
//! replaced whole (and left as it is when the download fails). Two inputs
//! of one batch with the same target both get a result, and the file is
//! one whole body, never a mix of the two.

use std::time::Duration;

use super::{assert_no_part, client, done, part_of};
use crate::support::files::{self, FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;
use crate::support::{bounded, eventually};

const OLD: &[u8] = b"the previous contents";
const SIZE: u64 = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_target_is_untouched_until_the_download_completes() {
    let server = FileServer::start().await;
    // About 0.6 s: time to look at the target mid-body.
    let spec = FileSpec::new(SIZE).drip(8 * 1024, Duration::from_millis(20));
    let url = server.add("/f.bin", spec);
    let dir = Scratch::new("dl-replace");
    let target = dir.join("f.bin");
    std::fs::write(&target, OLD).unwrap();

    let client = client(0);
    let download = tokio::spawn({
        let target = target.clone();
        async move { client.download(&url, &target).await }
    });
    let mid_body = eventually(Duration::from_secs(5), || {
        server.body_bytes("/f.bin") >= 64 * 1024 && part_of(&target).exists()
    })
    .await;
    assert!(mid_body, "the download never got under way");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        OLD,
        "the target changed mid-download"
    );

    let d = done(bounded("download", download).await.unwrap());
    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/f.bin", 0, SIZE);
    assert_eq!(dir.files(), [target]);
}

#[tokio::test]
async fn a_failed_download_leaves_an_existing_target_untouched() {
    let server = FileServer::start().await;
    // A 404, and a body cut with no retry left.
    server.add("/cut.bin", FileSpec::new(SIZE).cut_after(100_000, 1));
    let dir = Scratch::new("dl-replace-failed");
    for path in ["/nope", "/cut.bin"] {
        let target = dir.join("f.bin");
        std::fs::write(&target, OLD).unwrap();

        let result = bounded("download", client(0).download(server.url(path), &target)).await;

        let err = super::failed(result);
        println!("{path}: {err}");
        assert_eq!(
            std::fs::read(&target).unwrap(),
            OLD,
            "{path}: the target changed"
        );
        assert_no_part(&dir);
    }
}

// Both drip, so that both are under way at once: two writers of one
// `.part` would mix their bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_inputs_with_one_target_leave_one_whole_body() {
    let server = FileServer::start().await;
    let drip = |size| FileSpec::new(size).drip(8 * 1024, Duration::from_millis(10));
    let one = server.add("/one.bin", drip(SIZE));
    let two = server.add("/two.bin", drip(SIZE));
    let dir = Scratch::new("dl-same-target");
    let target = dir.join("same.bin");
    let items = vec![(one, target.clone()), (two, target.clone())];

    let results = bounded("batch", client(0).download_all_settled(items)).await;

    assert_eq!(results.len(), 2);
    let mut written = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(d) => {
                assert_eq!(d.path(), target);
                written.push(i);
            }
            Err(err) => {
                println!("input {i}: {err}");
                // Refusing the second writer is fine if it says why.
                let message = err.to_string();
                assert!(
                    message.contains(&target.display().to_string()),
                    "input {i}: the error does not name the path: {message}"
                );
                assert_eq!(err.index(), Some(i));
            }
        }
    }
    assert!(!written.is_empty(), "neither input was written");
    let stored = std::fs::read(&target).unwrap();
    let whole = |path| stored == files::content(path, 0, SIZE);
    assert!(
        whole("/one.bin") || whole("/two.bin"),
        "the file is not one whole body ({} bytes; written by inputs {written:?})",
        stored.len()
    );
    assert_no_part(&dir);
}
