//! HTTP/1.1 framing faults that need more than a row of the fault table
//! (`faults.rs`): what a response leaves on its keep-alive connection must
//! not reach the next request (a body longer than its Content-Length,
//! Content-Length with chunked, 1xx answers), an `Expect: 100-continue`
//! POST gets its answer, and a server that never reads a large request
//! body ends in the attempt timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::clients::quick;
use crate::support::raw::{Behavior, RawServer, read_more, read_until_head};
use crate::support::{bounded, expect_err, within};
use batch_fetch::{BatchClient, ErrorKind, Request, RetryPolicy};
use tokio::io::AsyncWriteExt;

/// One request at a time on one client, no retries (a retry would hide a
/// poisoned connection), the body limit of the fault table.
fn one_at_a_time() -> BatchClient {
    BatchClient::builder()
        .concurrency(1)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(5))
        .max_body_size(64 * 1024)
        .build()
        .unwrap()
}

/// Faults that end in `200 hello` and may leave their connection open.
const KEEP_ALIVE_FAULTS: &[&str] = &[
    "/fault/overlong/response",
    "/fault/overlong/garbage",
    "/fault/cl-te/3",
    "/fault/content-length/same",
    "/fault/content-length/list",
    "/fault/informational/100",
    "/fault/informational/103",
    "/fault/informational/many",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_response_leaves_on_its_connection_never_reaches_the_next_request() {
    let server = RawServer::start(Behavior::ByPath).await;
    let client = one_at_a_time();
    // Each fault, then a good request, in order on one client: the good
    // one takes the fault's connection if it is still pooled.
    let paths: Vec<String> = KEEP_ALIVE_FAULTS
        .iter()
        .enumerate()
        .flat_map(|(i, fault)| [fault.to_string(), format!("/ok/after-{i}")])
        .collect();
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();

    let results = bounded("faults then good requests", client.fetch_all_settled(&urls)).await;

    for (path, result) in paths.iter().zip(&results) {
        let res = result.as_ref().unwrap_or_else(|e| panic!("{path}: {e}"));
        let want = if path.starts_with("/fault/") {
            "hello"
        } else {
            path.rsplit('/').next().unwrap()
        };
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().unwrap(), want, "{path}");
        assert_eq!(res.attempts(), 1, "{path}");
    }
    let log = server.log();
    assert_eq!(log.len(), paths.len(), "one request each, in order");
    for (i, fault) in KEEP_ALIVE_FAULTS.iter().enumerate() {
        let (fault_hit, next_hit) = (&log[2 * i], &log[2 * i + 1]);
        assert_eq!(fault_hit.target, *fault);
        let reused = fault_hit.conn == next_hit.conn;
        // Bytes left after a complete response: hyper drops the connection.
        if fault.starts_with("/fault/overlong/") {
            assert!(
                !reused,
                "{fault}: the connection with stray bytes was reused"
            );
        }
        eprintln!("{fault}: next request on the same connection: {reused}");
    }
    assert_eq!(server.panics(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_beside_chunked_is_not_the_body_size() {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, so an
    // announced 1 MB says nothing about this 5-byte body.
    let server = RawServer::start(Behavior::ByPath).await;
    let client = one_at_a_time();

    let res = within(
        Duration::from_secs(10),
        "cl-te",
        client.fetch(server.url("/fault/cl-te/1000000")),
    )
    .await
    .unwrap_or_else(|e| panic!("{:?}: {e}", e.kind()));

    assert_eq!(res.text().unwrap(), "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expect_100_continue_post_gets_its_answer() {
    const BODY: usize = 100_000;
    // Reads the head; answers `100 Continue` if asked, then reads the body
    // and answers what it saw.
    let server = RawServer::script(|mut stream, _| async move {
        let mut buf = Vec::new();
        let wait = Duration::from_secs(10);
        let Some(head_len) = read_until_head(&mut stream, &mut buf, wait).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
        buf.drain(..head_len);
        let expects = head.contains("\r\nexpect: 100-continue\r\n");
        let length: usize = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if expects
            && stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        // Bounded: each read adds bytes or ends the connection (10 s each).
        while buf.len() < length {
            if !read_more(&mut stream, &mut buf, wait).await {
                return;
            }
        }
        let text = format!("expect={expects} got={}", buf.len());
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
    })
    .await;
    let client = one_at_a_time();
    let request = Request::post(server.url("/upload"))
        .header("expect", "100-continue")
        .body(vec![b'x'; BODY]);

    let res = within(Duration::from_secs(10), "expect", client.fetch(request))
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", e.kind()));

    assert_eq!(res.status(), 200);
    assert_eq!(res.text().unwrap(), format!("expect=true got={BODY}"));
    assert_eq!(res.attempts(), 1);
    assert_eq!(server.accepted(), 1);
    assert_eq!(server.panics(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_the_server_never_reads_ends_in_the_attempt_timeout() {
    // 8 MiB: more than the loopback socket buffers of both sides hold, so
    // the client's write blocks for good.
    const BODY: usize = 8 << 20;
    const TIMEOUT: Duration = Duration::from_secs(2);
    let heads = Arc::new(AtomicUsize::new(0));
    let seen = heads.clone();
    // Reads the request head only, then holds the socket (until the
    // server is dropped, 20 s at most) without reading or answering.
    let server = RawServer::script(move |mut stream, _| {
        let seen = seen.clone();
        async move {
            let mut buf = Vec::new();
            if read_until_head(&mut stream, &mut buf, Duration::from_secs(10))
                .await
                .is_some()
            {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
        }
    })
    .await;
    let client = BatchClient::builder()
        .retry(quick(2))
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    let body = bytes::Bytes::from(vec![b'p'; BODY]);
    // A POST is not sent again after a timeout; a PUT is, as often as the
    // policy allows.
    let post = Request::post(server.url("/upload/post")).body(body.clone());
    let put = Request::put(server.url("/upload/put")).body(body);

    let start = Instant::now();
    let (post, put) = within(Duration::from_secs(30), "unread bodies", async {
        tokio::join!(client.fetch(post), client.fetch(put))
    })
    .await;
    let took = start.elapsed();

    let post = expect_err(post, "the POST body was never read");
    assert_eq!(post.kind(), ErrorKind::Timeout, "{post}");
    assert_eq!(post.attempts(), 1, "{post}");
    let put = expect_err(put, "the PUT body was never read");
    assert_eq!(put.kind(), ErrorKind::Timeout, "{put}");
    assert_eq!(put.attempts(), 3, "{put}");
    assert_eq!(heads.load(Ordering::SeqCst), 4, "one head per attempt");
    assert!(took >= 3 * TIMEOUT, "{took:?}");
    assert!(took < 3 * TIMEOUT + Duration::from_secs(8), "{took:?}");
    assert_eq!(server.panics(), 0);
}
