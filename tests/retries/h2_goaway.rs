//! HTTP/2 GOAWAY mid-batch: requests above the GOAWAY's last stream id,
//! which the server says it never processed (RFC 9113 §6.8), are sent
//! again at once on a new connection, whatever their method, and that is
//! not an attempt. None hangs; no POST is processed twice.

use crate::support::clients::h2c_builder;
use crate::support::{H2Mode, H2Server, bounded};
use batch_fetch::{BatchClient, Request};

fn client(concurrency: usize) -> BatchClient {
    h2c_builder().concurrency(concurrency).build().unwrap()
}

/// Runs 10 requests against a server whose first connection waits for all
/// 10, answers streams 1 and 3, and sends GOAWAY(last_stream_id = 3):
/// streams 5..19 were never processed.
async fn raw_goaway_batch(
    client: BatchClient,
    method: &str,
    with_body: bool,
) -> (
    H2Server,
    Vec<Result<batch_fetch::Response, batch_fetch::Error>>,
) {
    let server = H2Server::start(H2Mode::RawGoAwayAfterTwo { wait: 10 }).await;
    let method: http::Method = method.parse().unwrap();
    let reqs: Vec<Request> = (0..10)
        .map(|i| {
            let req = Request::new(method.clone(), server.url(&format!("/p/{i}")));
            if with_body {
                req.body(format!("b{i}"))
            } else {
                req
            }
        })
        .collect();
    let results = bounded("goaway batch", client.fetch_all_settled(reqs)).await;
    assert_eq!(
        server.raw_headers(),
        10,
        "all 10 were sent on the first connection"
    );
    (server, results)
}

/// Every input ends Ok: 2 answered before the GOAWAY, 8 sent again once
/// each on a second connection, in their first attempt.
fn assert_all_retried(
    server: &H2Server,
    results: &[Result<batch_fetch::Response, batch_fetch::Error>],
    method: &str,
    with_body: bool,
) {
    let mut answered_first = 0;
    for (i, r) in results.iter().enumerate() {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("input {i} must succeed: {e}"));
        assert_eq!(r.status(), 200);
        let text = r.text().unwrap();
        if text == "answered before GOAWAY" {
            answered_first += 1;
            assert_eq!(r.attempts(), 1);
        } else {
            let body = if with_body {
                format!("b{i}")
            } else {
                String::new()
            };
            assert_eq!(
                text,
                format!("conn=2 method={method} path=/p/{i} body={body}")
            );
            assert_eq!(r.attempts(), 1, "input {i}: not a retry");
        }
    }
    assert_eq!(
        answered_first, 2,
        "streams 1 and 3 were answered before GOAWAY"
    );
    assert_eq!(server.accepted(), 2, "one new connection for the retries");
    assert_eq!(
        server.log().len(),
        8,
        "the 8 unprocessed requests, each once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_above_the_last_stream_id_are_retried_on_a_new_connection() {
    let (server, results) = raw_goaway_batch(client(10), "GET", false).await;
    assert_all_retried(&server, &results, "GET", false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_with_bodies_above_the_last_stream_id_are_retried() {
    let (server, results) = raw_goaway_batch(client(10), "POST", true).await;
    assert_all_retried(&server, &results, "POST", true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodiless_posts_above_the_last_stream_id_are_sent_again() {
    // Their HEADERS reached the server, but above the last stream id of
    // its GOAWAY: the server says it did not process them.
    let (server, results) = raw_goaway_batch(client(10), "POST", false).await;
    assert_all_retried(&server, &results, "POST", false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_off_too() {
    let client = h2c_builder()
        .concurrency(10)
        .retry(batch_fetch::RetryPolicy::none())
        .build()
        .unwrap();
    let (server, results) = raw_goaway_batch(client, "POST", true).await;
    assert_all_retried(&server, &results, "POST", true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_goaway_mid_batch_loses_no_request() {
    let server = H2Server::start(H2Mode::GracefulGoAway {
        after: 10,
        delay_ms: 50,
    })
    .await;
    let reqs: Vec<Request> = (0..60)
        .map(|i| {
            let url = server.url(&format!("/g/{i}?delay=10"));
            if i % 2 == 0 {
                Request::get(url)
            } else {
                Request::post(url).body(format!("b{i}"))
            }
        })
        .collect();

    let results = bounded("graceful goaway", client(30).fetch_all_settled(reqs)).await;

    for (i, r) in results.iter().enumerate() {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("input {i} must succeed: {e}"));
        assert_eq!(r.status(), 200);
        assert!(
            r.text().unwrap().contains(&format!("path=/g/{i}?delay=10")),
            "input {i}: {}",
            r.text().unwrap()
        );
    }
    assert!(
        server.accepted() >= 2,
        "the batch went on on a new connection: {}",
        server.accepted()
    );
    // A POST is processed exactly once. A GET may be processed twice: one
    // whose stream was already on its way when the first GOAWAY arrived can
    // still be failed with that GOAWAY by the HTTP/2 client, and be resent.
    let log = server.log();
    for i in 0..60 {
        let path = format!("/g/{i}?delay=10");
        let times = log.iter().filter(|h| h.path == path).count();
        if i % 2 == 1 {
            assert_eq!(times, 1, "POST {path} processed exactly once: {log:?}");
        } else {
            assert!(times >= 1, "GET {path} processed");
        }
    }
    assert!(log.iter().any(|h| h.conn == 1) && log.iter().any(|h| h.conn >= 2));
}
