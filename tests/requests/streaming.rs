//! Streaming responses (`fetch_streaming`, `fetch_stream_bodies`): the
//! head is handed over at once and the body read chunk by chunk as the
//! server sends it; the size limit (decoded bytes) and the attempt's
//! timeout still apply mid-body; the permits are held until the body ends
//! or is dropped; a cut body is a Protocol error, not retried; every input
//! gets one result.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::mpsc;

use crate::support::clients::{builder, quick};
use crate::support::fn_server::{FnServerBuilder, redirect, reply, with_header};
use crate::support::raw::{Behavior, RawServer};
use crate::support::{
    FnServer, TestServer, bounded, closed_port, eventually, expect_err, pattern, within,
};
use batch_fetch::{BatchClient, ErrorKind, StreamingResponse, Version};

/// One body the test writes: each `Bytes` sent is a chunk; the body ends
/// when `tx` is dropped. `gone` is set once the server drops the body
/// (the client went away and the connection or stream closed).
struct Feed {
    path: String,
    tx: mpsc::Sender<Bytes>,
    gone: Arc<AtomicBool>,
}

impl Feed {
    async fn send(&self, chunk: &'static [u8]) {
        self.tx
            .send(Bytes::from_static(chunk))
            .await
            .expect("the server's body is still there");
    }
}

/// Sets its flag when dropped.
struct GoneFlag(Arc<AtomicBool>);

impl Drop for GoneFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A server whose `200` answers (chunked, no `Content-Length`) carry the
/// bodies the test writes: each request's [`Feed`] comes out of the
/// receiver, in arrival order.
async fn fed_server(builder: FnServerBuilder) -> (FnServer, mpsc::UnboundedReceiver<Feed>) {
    let (feeds_tx, feeds) = mpsc::unbounded_channel();
    let server = builder
        .start(move |seen| {
            let feeds_tx = feeds_tx.clone();
            async move {
                let (tx, rx) = mpsc::channel::<Bytes>(16);
                let gone = Arc::new(AtomicBool::new(false));
                let flag = GoneFlag(gone.clone());
                let chunks =
                    futures_util::stream::unfold((rx, flag), |(mut rx, flag)| async move {
                        let chunk = rx.recv().await?;
                        Some((Ok::<_, Infallible>(Frame::data(chunk)), (rx, flag)))
                    });
                let _ = feeds_tx.send(Feed {
                    path: seen.path(),
                    tx,
                    gone,
                });
                http::Response::new(StreamBody::new(chunks).boxed_unsync())
            }
        })
        .await;
    (server, feeds)
}

async fn next_feed(feeds: &mut mpsc::UnboundedReceiver<Feed>) -> Feed {
    bounded("the server's next request", feeds.recv())
        .await
        .expect("the server is running")
}

/// The chunks of `resp` until its end or its error.
async fn read_all(resp: &mut StreamingResponse) -> (Vec<u8>, Option<batch_fetch::Error>) {
    let mut got = Vec::new();
    loop {
        match bounded("the next chunk", resp.chunk()).await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => return (got, None),
            Err(err) => return (got, Some(err)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_arrive_as_the_server_sends_them() {
    for h2 in [false, true] {
        let (server, mut feeds) = fed_server(FnServer::builder()).await;
        let client = match h2 {
            false => builder(),
            true => builder().http2_prior_knowledge(),
        }
        .build()
        .unwrap();
        let mut resp = bounded("head", client.fetch_streaming(server.url("/drip")))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let version = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        assert_eq!(resp.version(), version);
        assert_eq!(resp.remote_addr(), Some(server.addr()));
        assert_eq!(resp.attempts(), 1);
        let feed = next_feed(&mut feeds).await;

        // The server sends each chunk only once the one before it has
        // arrived: a body read whole before the head was handed over
        // would never get here.
        feed.send(b"first").await;
        let first = bounded("first chunk", resp.chunk()).await.unwrap();
        assert_eq!(first.as_deref(), Some(&b"first"[..]), "h2: {h2}");
        feed.send(b"second").await;
        let second = bounded("second chunk", resp.chunk()).await.unwrap();
        assert_eq!(second.as_deref(), Some(&b"second"[..]), "h2: {h2}");
        drop(feed.tx);
        assert_eq!(bounded("end", resp.chunk()).await.unwrap(), None);
        // Fused: the end stays the end.
        assert_eq!(resp.chunk().await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_stream_and_bytes_read_the_rest() {
    let server = TestServer::start().await;
    let client = builder().build().unwrap();
    let resp = bounded("head", client.fetch_streaming(server.url("/bytes/300000")))
        .await
        .unwrap();
    let chunks: Vec<_> = bounded("stream", resp.bytes_stream().collect()).await;
    let mut got = Vec::new();
    for chunk in chunks {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, pattern(300_000));

    let resp = bounded(
        "head",
        client.fetch_streaming(server.url("/drip-body/5/20")),
    )
    .await
    .unwrap();
    assert_eq!(&bounded("bytes", resp.bytes()).await.unwrap()[..], b"xxxxx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_size_limit_mid_body_is_body_too_large() {
    let (server, mut feeds) = fed_server(FnServer::builder()).await;
    let client = builder().max_body_size(1000).build().unwrap();
    let url = server.url("/big");
    let mut resp = bounded("head", client.fetch_streaming(&url)).await.unwrap();
    let feed = next_feed(&mut feeds).await;
    feed.send(&[b'a'; 600]).await;
    let first = bounded("600 bytes", resp.chunk()).await.unwrap();
    assert_eq!(first.map(|c| c.len()), Some(600));
    // 1200 in all: over the limit of 1000.
    feed.send(&[b'b'; 600]).await;
    let err = expect_err(bounded("over", resp.chunk()).await, "past max_body_size");
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    assert_eq!(err.url().map(ToString::to_string), Some(url));
    // The body ended with its error, and the connection went with it.
    assert_eq!(resp.chunk().await.unwrap(), None);
    drop(resp);
    assert!(
        eventually(Duration::from_secs(5), || feed.gone.load(Ordering::SeqCst)).await,
        "the server's body was dropped"
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_body_arrives_decoded_and_its_limit_counts_decoded_bytes() {
    let text = pattern(256 * 1024);
    let packed = Bytes::from(gzip(&text));
    let zeros = Bytes::from(gzip(&vec![0u8; 4 << 20]));
    let server = FnServer::start(move |seen| {
        let body = if seen.path() == "/bomb" {
            zeros.clone()
        } else {
            packed.clone()
        };
        async move { with_header(reply(200, body), "content-encoding", "gzip") }
    })
    .await;
    let client = builder().max_body_size(1 << 20).build().unwrap();

    let mut resp = bounded("head", client.fetch_streaming(server.url("/text")))
        .await
        .unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    let (got, err) = read_all(&mut resp).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, text);

    // 4 MiB of zeros in a few KiB: the limit of 1 MiB stops it mid-body.
    let mut resp = bounded("head", client.fetch_streaming(server.url("/bomb")))
        .await
        .unwrap();
    let (got, err) = read_all(&mut resp).await;
    let err = err.expect("over the limit once decoded");
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    assert!(got.len() <= 1 << 20, "{} bytes read", got.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_timeout_fires_mid_body_and_is_not_retried() {
    let (server, mut feeds) = fed_server(FnServer::builder()).await;
    let timeout = Duration::from_millis(400);
    let client = builder().timeout(timeout).retry(quick(3)).build().unwrap();
    let url = server.url("/slow");
    let start = Instant::now();
    let mut resp = bounded("head", client.fetch_streaming(&url)).await.unwrap();
    let feed = next_feed(&mut feeds).await;
    feed.send(b"a").await;
    let first = bounded("first chunk", resp.chunk()).await.unwrap();
    assert_eq!(first.as_deref(), Some(&b"a"[..]));
    // Nothing more comes: the attempt's timeout ends the body.
    let err = expect_err(bounded("stalled", resp.chunk()).await, "past the timeout");
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_timeout());
    assert_eq!(err.url().map(ToString::to_string), Some(url));
    assert!(took >= timeout, "failed after {took:?}");
    assert!(took < Duration::from_secs(5), "failed after {took:?}");
    // The consumer's failure: no second attempt.
    assert_eq!(server.total(), 1);
    assert_eq!(resp.chunk().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_body_is_a_protocol_error_for_that_input_and_not_retried() {
    // `Content-Length: 1000`, 10 bytes, then the connection closes.
    let raw = RawServer::start(Behavior::TruncatedLength).await;
    let client = builder().retry(quick(3)).build().unwrap();
    let url = raw.url("/cut");
    let mut results = client.fetch_stream_bodies([url.clone()]);
    let (index, result) = bounded("head", results.next()).await.unwrap();
    assert_eq!(index, 0);
    let mut resp = result.unwrap();
    assert_eq!(resp.status(), 200);
    let (got, err) = read_all(&mut resp).await;
    let err = err.expect("cut off");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert_eq!(err.index(), Some(0));
    assert_eq!(err.url().map(ToString::to_string), Some(url));
    assert!(got.len() <= 10, "{} bytes", got.len());
    assert!(bounded("end", results.next()).await.is_none());
    assert_eq!(raw.requests(), 1, "not retried");
}

/// Asserts that for a while no second head comes out of `results`, and
/// that `server` saw one request only: the first body holds the permit.
async fn no_second_request<S: futures_util::Stream + Unpin>(results: &mut S, server: &FnServer) {
    let early = within(Duration::from_secs(5), "wait", async {
        tokio::time::timeout(Duration::from_millis(300), results.next()).await
    })
    .await;
    assert!(
        early.is_err(),
        "a second head came while the first body was held"
    );
    assert_eq!(server.total(), 1);
}

/// Clients with room for one request at a time: by the host's limit
/// (over HTTP/1.1 and HTTP/2), and by the client's own.
fn one_at_a_time() -> [(&'static str, BatchClient); 3] {
    [
        ("per-host", builder().per_host_concurrency(1)),
        (
            "per-host h2",
            builder().per_host_concurrency(1).http2_prior_knowledge(),
        ),
        ("global", builder().concurrency(1)),
    ]
    .map(|(what, b)| (what, b.build().unwrap()))
}

/// Starts two streaming inputs with room for one: the first head comes;
/// the second does not while the first body is held. Returns the first
/// response, its body's feed, the results and the feeds to come.
async fn two_with_room_for_one(
    client: &BatchClient,
) -> (
    FnServer,
    StreamingResponse,
    Feed,
    impl futures_util::Stream<Item = (usize, Result<StreamingResponse, batch_fetch::Error>)> + Unpin,
    mpsc::UnboundedReceiver<Feed>,
) {
    let (server, mut feeds) = fed_server(FnServer::builder()).await;
    let mut results = client.fetch_stream_bodies([server.url("/a"), server.url("/b")]);
    let (_, first) = bounded("first head", results.next()).await.unwrap();
    let first = first.unwrap();
    let feed = next_feed(&mut feeds).await;
    feed.send(b"some").await;
    // The one permit is in the first body: the second request is not
    // even sent.
    no_second_request(&mut results, &server).await;
    (server, first, feed, results, feeds)
}

/// The second input of [`two_with_room_for_one`] runs to its end.
async fn second_runs(
    mut results: impl futures_util::Stream<
        Item = (usize, Result<StreamingResponse, batch_fetch::Error>),
    > + Unpin,
    mut feeds: mpsc::UnboundedReceiver<Feed>,
    first_path: &str,
) {
    let (_, second) = bounded("second head", results.next()).await.unwrap();
    let second = second.unwrap();
    let feed = next_feed(&mut feeds).await;
    assert_ne!(feed.path, first_path);
    drop(feed.tx);
    assert!(
        bounded("second body", second.bytes())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(bounded("end", results.next()).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permits_are_held_until_the_body_ends() {
    for (what, client) in one_at_a_time() {
        let (_server, mut first, feed, results, feeds) = two_with_room_for_one(&client).await;
        // The first body ends: its permit goes, and the second input runs.
        let first_path = feed.path.clone();
        drop(feed.tx);
        let (got, err) = read_all(&mut first).await;
        assert!(err.is_none(), "{what}: {err:?}");
        assert_eq!(got, b"some", "{what}");
        second_runs(results, feeds, &first_path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_response_releases_its_permit_and_connection() {
    for (what, client) in one_at_a_time() {
        let (_server, first, feed, results, feeds) = two_with_room_for_one(&client).await;
        // Dropped mid-body: the connection (HTTP/1.1) or the stream
        // (HTTP/2) closes, so the server sees its body go, and the permit
        // goes to the second input.
        drop(first);
        assert!(
            eventually(Duration::from_secs(5), || feed.gone.load(Ordering::SeqCst)).await,
            "{what}: the server's body was dropped"
        );
        second_runs(results, feeds, &feed.path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_input_gets_exactly_one_result() {
    let server = TestServer::start().await;
    let mover = {
        let to = server.url("/id/moved");
        FnServer::start(move |_| {
            let to = to.clone();
            async move { redirect(302, &to) }
        })
        .await
    };
    let mut inputs = Vec::new();
    for i in 0..24 {
        inputs.push(server.url(&format!("/bytes/{}", 1000 * i)));
    }
    inputs.push(server.url("/status/404"));
    inputs.push(server.url("/flaky/streaming/1"));
    inputs.push(mover.url("/go"));
    inputs.push("not a url".to_owned());
    inputs.push(format!("http://127.0.0.1:{}/", closed_port()));
    let client = builder()
        .concurrency(3)
        .per_host_concurrency(2)
        .retry(quick(2))
        .build()
        .unwrap();
    let mut results = client.fetch_stream_bodies(inputs.clone());
    let mut seen = vec![0; inputs.len()];
    let all = async {
        while let Some((index, result)) = results.next().await {
            seen[index] += 1;
            match index {
                0..24 => {
                    let resp = result.unwrap();
                    assert_eq!(resp.status(), 200);
                    let body = resp.bytes().await.unwrap();
                    assert_eq!(body, pattern(1000 * index), "input {index}");
                }
                24 => {
                    // Not a 2xx: read whole first, handed over as one chunk.
                    let mut resp = result.unwrap();
                    assert_eq!(resp.status(), 404);
                    let body = resp.chunk().await.unwrap();
                    assert_eq!(body.as_deref(), Some(&b"status 404"[..]));
                    assert_eq!(resp.chunk().await.unwrap(), None);
                }
                25 => {
                    // A 503 retried, then the answer streamed.
                    let resp = result.unwrap();
                    assert_eq!(resp.status(), 200);
                    assert_eq!(resp.attempts(), 2);
                    assert_eq!(&resp.bytes().await.unwrap()[..], b"ok streaming");
                }
                26 => {
                    let resp = result.unwrap();
                    assert_eq!(resp.url().path(), "/id/moved");
                    assert_eq!(&resp.bytes().await.unwrap()[..], b"moved");
                }
                27 => {
                    let err = expect_err(result, "not a url");
                    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
                    assert_eq!(err.index(), Some(27));
                }
                _ => {
                    let err = expect_err(result, "refused");
                    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
                    assert_eq!(err.index(), Some(index));
                }
            }
        }
    };
    bounded("the batch", all).await;
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_layer_s_own_answer_comes_whole() {
    use tower::util::BoxCloneSyncService;
    type Attempt =
        BoxCloneSyncService<http::Request<Bytes>, http::Response<Bytes>, tower::BoxError>;
    let double = tower::layer::layer_fn(|_network: Attempt| {
        tower::service_fn(|_req: http::Request<Bytes>| async {
            Ok::<_, tower::BoxError>(http::Response::new(Bytes::from_static(b"stub")))
        })
    });
    let client = builder().layer(double).build().unwrap();
    let resp = bounded("stub", client.fetch_streaming("http://127.0.0.1:1/"))
        .await
        .unwrap();
    assert_eq!(&resp.bytes().await.unwrap()[..], b"stub");

    // A layer that passes the answer on keeps its body streaming.
    let (server, mut feeds) = fed_server(FnServer::builder()).await;
    let client = builder()
        .layer(tower::util::MapResponseLayer::new(
            |res: http::Response<Bytes>| res,
        ))
        .build()
        .unwrap();
    let mut resp = bounded("head", client.fetch_streaming(server.url("/x")))
        .await
        .unwrap();
    let feed = next_feed(&mut feeds).await;
    feed.send(b"live").await;
    let chunk = bounded("chunk", resp.chunk()).await.unwrap();
    assert_eq!(chunk.as_deref(), Some(&b"live"[..]));
}
