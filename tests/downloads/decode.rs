//! `Content-Encoding: gzip` downloads are stored decoded by default (as
//! buffered bodies are), raw with decompression off. A decoded download
//! cut mid-body restarts rather than resumes (a `Range` counts encoded
//! bytes, the file holds decoded ones).

use super::{assert_no_part, client, done};
use crate::support::bounded;
use crate::support::clients::{builder, quick};
use crate::support::files::{self, FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 300_000;

#[tokio::test]
async fn a_gzip_body_is_stored_decoded_by_default() {
    let server = FileServer::start().await;
    let url = server.add("/z.bin", FileSpec::new(SIZE).gzip());
    let dir = Scratch::new("dl-gzip");
    let target = dir.join("z.bin");

    let d = done(bounded("download", client(0).download(&url, &target)).await);

    assert_eq!(d.bytes(), SIZE);
    assert_file(&target, "/z.bin", 0, SIZE);
    assert_eq!(
        server.body_bytes("/z.bin"),
        files::gzipped("/z.bin", 0, SIZE).len() as u64,
        "the server sent the encoded body"
    );
}

#[tokio::test]
async fn a_gzip_body_is_stored_raw_with_decompression_off() {
    let server = FileServer::start().await;
    let url = server.add("/z.bin", FileSpec::new(SIZE).gzip());
    let dir = Scratch::new("dl-gzip-raw");
    let target = dir.join("z.bin");
    let client = builder().decompress(false).build().unwrap();

    let d = done(bounded("download", client.download(&url, &target)).await);

    let raw = files::gzipped("/z.bin", 0, SIZE);
    assert_eq!(d.bytes(), raw.len() as u64);
    assert!(
        std::fs::read(&target).unwrap() == raw,
        "not the raw gzip bytes"
    );
}

#[tokio::test]
async fn a_cut_gzip_download_restarts_and_is_stored_decoded() {
    let server = FileServer::start().await;
    let encoded = files::gzipped("/z.bin", 0, SIZE).len() as u64;
    // Ranges, a strong ETag: everything a resume needs but a plain body.
    let url = server.add(
        "/z.bin",
        FileSpec::new(SIZE).gzip().cut_after(encoded / 2, 1),
    );
    let dir = Scratch::new("dl-gzip-cut");
    let target = dir.join("z.bin");

    let d = done(bounded("download", client(3).download(&url, &target)).await);

    assert!(!d.resumed());
    assert_file(&target, "/z.bin", 0, SIZE);
    let hits = server.requests("/z.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[1].range, None, "a decoded download must not resume");
    assert_no_part(&dir);
}

// Raw bytes may resume or restart; either way the file is the encoded body.
#[tokio::test]
async fn a_cut_raw_gzip_download_stores_the_encoded_body_whole() {
    let server = FileServer::start().await;
    let raw = files::gzipped("/z.bin", 0, SIZE);
    let url = server.add(
        "/z.bin",
        FileSpec::new(SIZE)
            .gzip()
            .cut_after(raw.len() as u64 / 2, 1),
    );
    let dir = Scratch::new("dl-gzip-raw-cut");
    let target = dir.join("z.bin");
    let client = builder().decompress(false).retry(quick(3)).build().unwrap();

    let d = done(bounded("download", client.download(&url, &target)).await);

    println!("raw gzip download after a cut: resumed {}", d.resumed());
    assert!(
        std::fs::read(&target).unwrap() == raw,
        "not the raw gzip bytes"
    );
    assert_no_part(&dir);
}
