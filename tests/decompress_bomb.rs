//! `max_body_size` counts decoded bytes: a small gzip, brotli or zstd body
//! that inflates to 200 MiB ends in `BodyTooLarge` quickly, without the
//! memory to hold it.
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

/// A brotli stream of `total` bytes of zeros (at least 2119), written bit
/// by bit: compressing them with the `brotli` crate would take seconds
/// (it is not optimised in test builds). Meta-blocks of up to `block`
/// bytes (2119 to 16 MiB), each of one command: insert one zero (the first
/// block) or nothing, then copy the rest of the block from distance 1. The
/// prefix codes have one symbol each, so a command is its extra bits, and
/// the whole stream is a few bytes per meta-block (RFC 7932).
#[cfg(feature = "brotli")]
fn brotli_zeros(total: usize, block: usize) -> Vec<u8> {
    /// Bits, least significant first, as brotli reads them.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: usize, bits: u32) {
            assert!(bits <= 32 && (value as u64) < 1 << bits);
            self.acc |= (value as u64) << self.n;
            self.n += bits;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A simple prefix code of one symbol (HSKIP 1, NSYM 1).
        fn one_symbol(&mut self, symbol: usize, alphabet_bits: u32) {
            self.put(1, 2);
            self.put(0, 2);
            self.put(symbol, alphabet_bits);
        }
    }
    assert!((2119..=1 << 24).contains(&block));
    let mut w = Bits::default();
    w.put(0, 1); // WBITS 16: a 64 KiB window is enough for distance 1.
    let mut left = total;
    let mut insert = 1;
    while left > 0 {
        let len = left.min(block);
        assert!(
            len - insert >= 2118,
            "copy length code 23 copies 2118 or more"
        );
        w.put(0, 1); // ISLAST
        let nibbles = match len - 1 {
            n if n < 1 << 16 => 4,
            n if n < 1 << 20 => 5,
            _ => 6,
        };
        w.put(nibbles - 4, 2); // MNIBBLES
        w.put(len - 1, 4 * nibbles as u32); // MLEN - 1
        w.put(0, 1); // ISUNCOMPRESSED
        w.put(0, 3); // NBLTYPESL, NBLTYPESI, NBLTYPESD: 1 each
        w.put(0, 6); // NPOSTFIX 0, NDIRECT 0
        w.put(0, 2); // the literal context mode
        w.put(0, 2); // NTREESL, NTREESD: 1 each
        w.one_symbol(0, 8); // literals: the zero byte
        // Insert-and-copy code 384 + 8 * insert code + 7: insert length
        // code 0 or 1 (no extra bits), copy length code 23 (2118 + 24
        // extra bits), and an explicit distance.
        w.one_symbol(384 + 8 * insert + 7, 10);
        w.one_symbol(16, 6); // distance code 16: 1 + one extra bit
        w.put(len - insert - 2118, 24); // copy length extra bits
        w.put(0, 1); // distance extra bit: distance 1
        left -= len;
        insert = 0;
    }
    w.put(1, 1); // ISLAST
    w.put(1, 1); // ISLASTEMPTY
    w.put(0, (8 - w.n) % 8);
    w.out
}

/// A zstd stream of `BOMB_CHUNKS` MiB of zeros, compressed 1 MiB at a time.
#[cfg(feature = "zstd")]
fn zstd_zeros() -> Vec<u8> {
    let zeros = vec![0u8; MIB];
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    for _ in 0..BOMB_CHUNKS {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap()
}

/// A body of `bytes` in 64 KiB chunks.
#[cfg(any(feature = "brotli", feature = "zstd"))]
fn chunked_body(bytes: &Bytes) -> FnBody {
    let chunks: Vec<Bytes> = bytes
        .chunks(64 * 1024)
        .map(Bytes::copy_from_slice)
        .collect();
    StreamBody::new(stream::iter(chunks.into_iter().map(|b| Ok(Frame::data(b))))).boxed_unsync()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bomb_is_body_too_large_quickly_and_without_memory() {
    let parts = bomb_parts();
    let compressed = parts.0.len() + parts.1.len() * BOMB_CHUNKS + parts.2.len();
    assert!(
        compressed < 400 * 1024,
        "a small body: {compressed} bytes for 200 MiB"
    );
    is_body_too_large_quickly_and_without_memory("gzip", move || bomb_body(&parts)).await;
}

#[cfg(feature = "brotli")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brotli_bomb_is_body_too_large_quickly_and_without_memory() {
    use std::io::Read;
    // The hand-written stream is what the brotli crate decodes: small
    // blocks (4 nibbles of length), then full-size ones (6 nibbles).
    let small = brotli_zeros(300_000, 65_536);
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&small[..], 4096)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, vec![0u8; 300_000]);
    let two_blocks = brotli_zeros((2 << 24) + 5000, 1 << 24);
    let mut decoder = brotli::Decompressor::new(&two_blocks[..], 1 << 16);
    let decoded = std::io::copy(&mut decoder, &mut std::io::sink()).unwrap();
    assert_eq!(decoded, (2 << 24) + 5000);

    let bomb = Bytes::from(brotli_zeros(BOMB_CHUNKS * MIB, 1 << 24));
    assert!(bomb.len() < 1024, "{} bytes for 200 MiB", bomb.len());
    is_body_too_large_quickly_and_without_memory("br", move || chunked_body(&bomb)).await;
}

#[cfg(feature = "zstd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_bomb_is_body_too_large_quickly_and_without_memory() {
    let bomb = Bytes::from(zstd_zeros());
    assert!(bomb.len() < 64 * 1024, "{} bytes for 200 MiB", bomb.len());
    is_body_too_large_quickly_and_without_memory("zstd", move || chunked_body(&bomb)).await;
}

/// Serves `body()` with `Content-Encoding: {encoding}` and checks that a
/// client with a 1 MiB limit stops with `BodyTooLarge` within 10 s, its
/// peak memory grown by less than 64 MiB.
async fn is_body_too_large_quickly_and_without_memory(
    encoding: &'static str,
    body: impl Fn() -> FnBody + Send + Sync + 'static,
) {
    let server = FnServer::start(move |_| {
        let body = body();
        async move {
            let mut r = http::Response::new(body);
            r = with_header(r, "content-encoding", encoding);
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
            encoding,
            client.fetch(server.url("/bomb")),
        )
        .await,
        "200 MiB decoded is over a 1 MiB limit",
    );

    assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{encoding}: {e}");
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 64 * MIB,
            "{encoding}: peak memory grew by {} MiB: the body was inflated beyond the limit",
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
