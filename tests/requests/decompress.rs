//! Response decompression: `Accept-Encoding` is sent (unless the request
//! has its own), `gzip`, `deflate`, `br` and `zstd` bodies arrive decoded
//! without `Content-Encoding`/`Content-Length`; `decompress(false)` gives
//! the raw bytes; a corrupt body is an error.

use std::io::Write;

use crate::support::clients::{client, defaults};
use crate::support::fn_server::{echo_text, reply, with_header};
use crate::support::{Echo, FnServer, TestPki, bounded, expect_err, pattern};
use batch_fetch::{ErrorKind, Request, RetryPolicy};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// `Content-Encoding: deflate` is the zlib format (RFC 1950).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        enc.write_all(data).unwrap();
    }
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn encode(encoding: &str, data: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => gzip(data),
        "deflate" => deflate(data),
        "br" => brotli(data),
        "zstd" => zstd(data),
        other => panic!("unknown encoding {other}"),
    }
}

/// `/enc/{encoding}/{n}`: `n` pattern bytes, compressed, with
/// Content-Encoding and the compressed Content-Length.
/// `/echo-gzip`: the echo of the request, gzipped.
/// `/corrupt-gzip`: `Content-Encoding: gzip` over bytes that are not gzip.
/// `/truncated-gzip`: a gzip body cut in the middle.
async fn compressing_server(tls: Option<&TestPki>) -> FnServer {
    let builder = match tls {
        Some(pki) => FnServer::builder().tls(pki.server_config()),
        None => FnServer::builder(),
    };
    builder
        .start(|seen| async move {
            let path = seen.uri.path().to_string();
            let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let (encoding, body) = match segs.as_slice() {
                ["enc", encoding, n] => {
                    let data = pattern(n.parse().unwrap());
                    (encoding.to_string(), encode(encoding, &data))
                }
                ["echo-gzip"] => ("gzip".to_string(), gzip(echo_text(&seen).as_bytes())),
                ["corrupt-gzip"] => (
                    "gzip".to_string(),
                    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xffthis is not deflate data at all"
                        .to_vec(),
                ),
                ["truncated-gzip"] => {
                    let full = gzip(&pattern(100_000));
                    ("gzip".to_string(), full[..full.len() / 2].to_vec())
                }
                ["plain-echo"] => return reply(200, echo_text(&seen)),
                _ => return reply(404, "no such route"),
            };
            let len = body.len();
            let r = with_header(reply(200, body), "content-encoding", &encoding);
            with_header(r, "x-compressed-length", &len.to_string())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_encoding_is_decoded_and_its_headers_removed() {
    let server = compressing_server(None).await;
    let client = client();
    for encoding in ["gzip", "deflate", "br", "zstd"] {
        let n = 200_000;
        let resp = bounded(
            "decode",
            client.fetch(server.url(&format!("/enc/{encoding}/{n}"))),
        )
        .await
        .unwrap_or_else(|e| panic!("{encoding}: {e}"));
        assert_eq!(resp.status(), 200, "{encoding}");
        assert_eq!(resp.body().len(), n, "{encoding}: decoded length");
        assert!(
            resp.body()[..] == pattern(n)[..],
            "{encoding}: decoded bytes"
        );
        assert!(
            resp.headers().get("content-encoding").is_none(),
            "{encoding}: Content-Encoding removed: {:?}",
            resp.headers()
        );
        assert!(
            resp.headers().get("content-length").is_none(),
            "{encoding}: the compressed Content-Length removed: {:?}",
            resp.headers()
        );
        let compressed: usize = resp.headers()["x-compressed-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            compressed < n / 4,
            "{encoding}: really compressed ({compressed})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_encoding_names_every_supported_encoding() {
    let server = compressing_server(None).await;
    let resp = bounded("echo", client().fetch(server.url("/plain-echo")))
        .await
        .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    let accept = echo
        .header("accept-encoding")
        .expect("Accept-Encoding is sent")
        .to_string();
    for encoding in ["gzip", "deflate", "br", "zstd"] {
        assert!(
            accept.split(',').any(|e| e.trim().starts_with(encoding)),
            "{encoding} in {accept:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_s_own_accept_encoding_is_kept() {
    let server = compressing_server(None).await;
    let client = client();
    let resp = bounded(
        "own accept-encoding",
        client.fetch(Request::get(server.url("/plain-echo")).header("accept-encoding", "identity")),
    )
    .await
    .unwrap();
    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(echo.header_all("accept-encoding"), ["identity"]);

    let resp = bounded(
        "own gzip",
        client.fetch(Request::get(server.url("/echo-gzip")).header("accept-encoding", "gzip")),
    )
    .await
    .unwrap();
    let echo = Echo::parse(&resp.text().expect("still decoded"));
    assert_eq!(echo.header_all("accept-encoding"), ["gzip"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompress_false_gives_raw_bytes_and_sends_no_accept_encoding() {
    let server = compressing_server(None).await;
    let client = defaults()
        .decompress(false)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let resp = bounded("raw", client.fetch(server.url("/echo-gzip")))
        .await
        .unwrap();

    assert_eq!(resp.headers()["content-encoding"], "gzip", "header kept");
    let raw = resp.body().clone();
    assert_eq!(
        &raw[..2],
        b"\x1f\x8b",
        "gzip magic: the body is not decoded"
    );
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        raw.len().to_string()
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw[..]), &mut text).unwrap();
    let echo = Echo::parse(&text);
    assert_eq!(
        echo.header("accept-encoding"),
        None,
        "no Accept-Encoding sent"
    );

    for encoding in ["deflate", "br", "zstd"] {
        let resp = bounded(
            "raw",
            client.fetch(server.url(&format!("/enc/{encoding}/1000"))),
        )
        .await
        .unwrap();
        assert_eq!(resp.headers()["content-encoding"], encoding);
        assert_eq!(resp.body()[..], encode(encoding, &pattern(1000))[..]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_gzip_is_a_protocol_error() {
    let server = compressing_server(None).await;
    let client = client();
    for path in ["/corrupt-gzip", "/truncated-gzip"] {
        let e = expect_err(
            bounded("corrupt", client.fetch(server.url(path))).await,
            path,
        );
        assert_eq!(e.kind(), ErrorKind::Protocol, "{path}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoding_works_over_http2_and_in_batches() {
    let pki = TestPki::generate();
    let server = compressing_server(Some(&pki)).await;
    let client = defaults()
        .add_root_certificate(pki.certificate())
        .retry(RetryPolicy::none())
        .concurrency(8)
        .build()
        .unwrap();
    let encodings = ["gzip", "deflate", "br", "zstd"];
    let urls: Vec<String> = (0..40)
        .map(|i| server.url(&format!("/enc/{}/{}", encodings[i % 4], 1000 + i)))
        .collect();

    let resps = bounded("h2 batch", client.fetch_all(&urls)).await.unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.version(), http::Version::HTTP_2);
        assert!(r.body()[..] == pattern(1000 + i)[..], "input {i}");
        assert!(r.headers().get("content-encoding").is_none());
    }
}
