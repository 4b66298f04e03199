//! `max_body_size` counts decoded bytes: a small gzip body that inflates to
//! 200 MB ends in `BodyTooLarge` quickly, without the memory to hold it.
mod support;

use std::io::Write;
use std::time::Duration;

use batch_fetch::{ErrorKind, RetryPolicy};
use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use support::clients::defaults;
use support::fn_server::{FnBody, with_header};
use support::{FnServer, expect_err, within};

const MIB: usize = 1024 * 1024;
/// 200 MiB of zeros once decoded.
const BOMB_CHUNKS: usize = 200;
/// CRC-32 of 200 MiB of zeros (the gzip trailer).
const BOMB_CRC: u32 = 0x534f_0861;

/// A gzip stream of `BOMB_CHUNKS` MiB of zeros, as its parts: header, one
/// repeated block (1 MiB of zeros, full-flushed so that each copy is
/// independent and byte-aligned), and the end (final empty block + trailer).
/// Building it costs compressing 2 MiB, not 200.
fn bomb_parts() -> (Bytes, Bytes, Bytes) {
    let zeros = vec![0u8; MIB];
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = |input: &[u8], flush| {
        let mut out = Vec::with_capacity(64 * 1024);
        c.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(c.total_in() as usize % MIB, 0, "all input consumed");
        out
    };
    let first = block(&zeros, flate2::FlushCompress::Full);
    let second = block(&zeros, flate2::FlushCompress::Full);
    assert_eq!(first, second, "a full flush makes the blocks repeatable");
    let last = block(&[], flate2::FlushCompress::Finish);
    // gzip header: magic, deflate, no flags, no mtime, no extra flags, unix.
    let header = Bytes::from_static(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    let mut end = last;
    end.write_all(&BOMB_CRC.to_le_bytes()).unwrap();
    end.write_all(&((BOMB_CHUNKS * MIB) as u32).to_le_bytes())
        .unwrap();
    (header, Bytes::from(first), Bytes::from(end))
}

fn bomb_body(parts: &(Bytes, Bytes, Bytes)) -> FnBody {
    let (header, block, end) = parts.clone();
    let chunks = std::iter::once(header)
        .chain(std::iter::repeat_n(block, BOMB_CHUNKS))
        .chain(std::iter::once(end))
        .map(|b| Ok(Frame::data(b)));
    StreamBody::new(stream::iter(chunks)).boxed_unsync()
}

/// Peak resident memory of this process (VmHWM), in bytes, where Linux
/// tells it.
fn peak_rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bomb_is_body_too_large_quickly_and_without_memory() {
    let parts = bomb_parts();
    let compressed = parts.0.len() + parts.1.len() * BOMB_CHUNKS + parts.2.len();
    assert!(
        compressed < 400 * 1024,
        "a small body: {compressed} bytes for 200 MiB"
    );
    let server = FnServer::start(move |_| {
        let body = bomb_body(&parts);
        async move {
            let mut r = http::Response::new(body);
            r = with_header(r, "content-encoding", "gzip");
            with_header(r, "content-type", "application/octet-stream")
        }
    })
    .await;
    let client = defaults()
        .max_body_size(MIB)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let before = peak_rss();

    let e = expect_err(
        within(
            Duration::from_secs(10),
            "gzip bomb",
            client.fetch(server.url("/bomb")),
        )
        .await,
        "200 MiB decoded is over a 1 MiB limit",
    );

    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}");
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 64 * MIB,
            "peak memory grew by {} MiB: the body was inflated beyond the limit",
            grown / MIB
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_size_is_what_the_limit_counts() {
    // 300 KB of zeros compress to well under 100 KB; the limit is 100 KB.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&vec![0u8; 300_000]).unwrap();
    let gz = Bytes::from(enc.finish().unwrap());
    assert!(gz.len() < 10_000);
    let server = FnServer::start(move |seen| {
        let gz = gz.clone();
        async move {
            if seen.uri.path() == "/small" {
                with_header(
                    support::fn_server::reply(200, vec![0u8; 50_000]),
                    "x-plain",
                    "1",
                )
            } else {
                with_header(
                    support::fn_server::reply(200, gz),
                    "content-encoding",
                    "gzip",
                )
            }
        }
    })
    .await;
    let client = defaults()
        .max_body_size(100_000)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let e = expect_err(
        within(
            Duration::from_secs(10),
            "over",
            client.fetch(server.url("/zeros")),
        )
        .await,
        "300 KB decoded over a 100 KB limit, though the wire body is small",
    );
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}");

    let ok = within(
        Duration::from_secs(10),
        "under",
        client.fetch(server.url("/small")),
    )
    .await
    .unwrap();
    assert_eq!(ok.body().len(), 50_000);
}
