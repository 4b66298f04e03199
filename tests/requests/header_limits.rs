//! Response header limits: more than `max_response_headers` (default 100)
//! fields, or a head over `max_response_header_size` (default 64 KiB), is
//! `HeadersTooLarge`; raising the limits makes the same answers Ok; an
//! endless header stream ends in `HeadersTooLarge`, not a hang. Limits out
//! of range are Config errors at build.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::support::clients::{builder, defaults};
use crate::support::raw::read_request;
use crate::support::{RawServer, bounded, expect_err, within};
use batch_fetch::ErrorKind;
use tokio::io::AsyncWriteExt;

/// Answers every request with `head` (status line and headers, without the
/// blank line) and a 2-byte body.
async fn answering(head: String) -> RawServer {
    let head = Arc::new(head);
    RawServer::script(move |mut stream, _| {
        let head = head.clone();
        async move {
            let mut buf = Vec::new();
            while read_request(&mut stream, &mut buf, Duration::from_secs(5))
                .await
                .is_some()
            {
                let resp = format!("{head}Content-Length: 2\r\n\r\nok");
                if stream.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
}

fn many_headers(n: usize) -> String {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..n {
        head.push_str(&format!("X-Header-{i}: value-{i}\r\n"));
    }
    head
}

fn big_header(bytes: usize) -> String {
    format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n", "v".repeat(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_headers_is_headers_too_large() {
    let server = answering(many_headers(150)).await;
    let client = builder().build().unwrap();

    let e = expect_err(
        bounded("150 headers", client.fetch(server.url("/"))).await,
        "150 headers over the default 100",
    );

    assert_eq!(e.kind(), ErrorKind::HeadersTooLarge, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_header_value_is_headers_too_large() {
    let server = answering(big_header(100 * 1024)).await;
    let client = builder().build().unwrap();

    let e = expect_err(
        bounded("100 KB header", client.fetch(server.url("/"))).await,
        "a 100 KB header over the default 64 KiB",
    );

    assert_eq!(e.kind(), ErrorKind::HeadersTooLarge, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_limits_accept_the_same_answers() {
    let many = answering(many_headers(150)).await;
    let big = answering(big_header(100 * 1024)).await;
    let client = builder()
        .max_response_headers(200)
        .max_response_header_size(256 * 1024)
        .build()
        .unwrap();

    let resp = bounded("150 headers allowed", client.fetch(many.url("/")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "ok");
    assert_eq!(resp.headers()["x-header-149"], "value-149");

    let resp = bounded("100 KB header allowed", client.fetch(big.url("/")))
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-big"].len(), 100 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowered_limits_refuse_smaller_answers() {
    let server = answering(many_headers(20)).await;
    let client = builder().max_response_headers(10).build().unwrap();
    let e = expect_err(
        bounded("20 headers over 10", client.fetch(server.url("/"))).await,
        "20 headers over a limit of 10",
    );
    assert_eq!(e.kind(), ErrorKind::HeadersTooLarge, "{e}");

    let client = builder().max_response_headers(30).build().unwrap();
    let resp = bounded("20 headers under 30", client.fetch(server.url("/")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_header_lines_end_in_headers_too_large() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let server = RawServer::script(move |mut stream, _| {
        let sent = counter.clone();
        async move {
            let mut buf = Vec::new();
            if read_request(&mut stream, &mut buf, Duration::from_secs(5))
                .await
                .is_none()
            {
                return;
            }
            if stream.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
                return;
            }
            // Header lines for ever (capped at 256 MiB), until the client goes.
            let line = format!("X-Endless: {}\r\n", "e".repeat(1000));
            while sent.load(Ordering::SeqCst) < 256 << 20 {
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                sent.fetch_add(line.len() as u64, Ordering::SeqCst);
            }
        }
    })
    .await;
    let client = builder().build().unwrap();

    let e = expect_err(
        within(
            Duration::from_secs(10),
            "endless headers",
            client.fetch(server.url("/")),
        )
        .await,
        "an endless head",
    );

    assert_eq!(e.kind(), ErrorKind::HeadersTooLarge, "{e}");
    // The client stopped reading (and closed) after its limit: the server
    // could only push what fits in the socket buffers, not the 256 MiB.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pushed = sent.load(Ordering::SeqCst);
    assert!(
        pushed < 32 << 20,
        "the server pushed {pushed} bytes: the client kept reading"
    );
}

#[test]
fn header_limits_out_of_range_are_config_errors() {
    let e = expect_err(defaults().max_response_headers(0).build(), "zero headers");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let e = expect_err(
        defaults().max_response_header_size(8 * 1024 - 1).build(),
        "under 8 KiB",
    );
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        defaults()
            .max_response_header_size(8 * 1024)
            .max_response_headers(1)
            .build()
            .is_ok()
    );
}
