//! `download_checksum(true)`: `sha256()` is the SHA-256 of the stored
//! file, also when it was resumed (its first bytes came from an earlier
//! attempt) or restarted; without it, `None`.

use sha2::{Digest, Sha256};

use super::{client, done};
use crate::support::bounded;
use crate::support::clients::{builder, quick};
use crate::support::files::{FileServer, FileSpec, content};
use crate::support::scratch::Scratch;

const SIZE: u64 = 1 << 20;
const CUT: u64 = 300_000;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Downloads `spec` at `path` with checksums on; checks the checksum
/// against the file and against version `version` of the content; returns
/// whether it was resumed.
async fn checked(spec: FileSpec, path: &str, version: u32) -> bool {
    let server = FileServer::start().await;
    let url = server.add(path, spec);
    let dir = Scratch::new("dl-checksum");
    let target = dir.join("f.bin");
    let client = builder()
        .retry(quick(3))
        .download_checksum(true)
        .build()
        .unwrap();

    let d = done(bounded("download", client.download(&url, &target)).await);

    let stored = std::fs::read(&target).unwrap();
    assert!(
        stored == content(path, version, SIZE),
        "not version {version}"
    );
    assert_eq!(
        d.sha256(),
        Some(sha256(&stored)),
        "the checksum is not the file's"
    );
    d.resumed()
}

#[tokio::test]
async fn checksum_is_the_sha256_of_the_stored_file() {
    assert!(!checked(FileSpec::new(SIZE), "/plain.bin", 0).await);
}

#[tokio::test]
async fn checksum_of_a_resumed_download_covers_the_whole_file() {
    let spec = FileSpec::new(SIZE).cuts(vec![CUT, 2 * CUT]);
    assert!(checked(spec, "/resumed.bin", 0).await);
}

#[tokio::test]
async fn checksum_of_a_restarted_download_is_the_new_versions() {
    let spec = FileSpec::new(SIZE).cut_after(CUT, 1).changes_after_first();
    assert!(!checked(spec, "/changed.bin", 1).await);
}

#[tokio::test]
async fn no_checksum_by_default() {
    let server = FileServer::start().await;
    let url = server.add("/f.bin", FileSpec::new(1000));
    let dir = Scratch::new("dl-no-checksum");

    let d = done(bounded("download", client(0).download(&url, dir.join("f.bin"))).await);

    assert_eq!(d.sha256(), None);
}
