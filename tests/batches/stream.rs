//! `fetch_stream` and `fetch_stream_ordered`: results as they complete (or
//! in input order), inputs pulled lazily, at most `concurrency` in flight,
//! dropping the stream cancels, streams of inputs accepted everywhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::clients::builder;
use crate::support::{TestServer, bounded, eventually};
use batch_fetch::{BatchClient, from_stream};
use futures_util::StreamExt;

fn client(concurrency: usize) -> BatchClient {
    builder().concurrency(concurrency).build().unwrap()
}

/// An iterator of URLs that counts how many were pulled.
fn counted(
    urls: Vec<String>,
) -> (
    Arc<AtomicUsize>,
    impl Iterator<Item = String> + Send + 'static,
) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let iter = urls.into_iter().inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (pulled, iter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yields_each_result_once_as_it_completes() {
    let server = TestServer::start().await;
    // Input 0 is the slowest, so it must not come first.
    let delays = [300, 0, 100, 0, 200, 0, 50, 0];
    let urls: Vec<String> = delays
        .iter()
        .enumerate()
        .map(|(i, ms)| server.url(&format!("/id/{i}?delay={ms}")))
        .collect();

    let results: Vec<_> = bounded("stream", client(8).fetch_stream(urls).collect()).await;

    assert_eq!(results.len(), delays.len());
    let order: Vec<usize> = results.iter().map(|(i, _)| *i).collect();
    assert_ne!(order[0], 0, "completion order, not input order: {order:?}");
    assert_eq!(
        *order.last().unwrap(),
        0,
        "the slowest comes last: {order:?}"
    );
    let mut seen = order.clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..delays.len()).collect::<Vec<_>>());
    for (i, result) in &results {
        assert_eq!(result.as_ref().unwrap().text().unwrap(), i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_lazily_and_keeps_at_most_concurrency_in_flight() {
    let server = TestServer::start().await;
    let urls: Vec<String> = (0..200)
        .map(|i| server.url(&format!("/id/{i}?delay=20")))
        .collect();
    let (pulled, inputs) = counted(urls);
    let mut stream = client(4).fetch_stream(inputs);

    // Take 10 results, then look: the stream has started only what it ran.
    for _ in 0..10 {
        let (_, result) = bounded("next", stream.next()).await.unwrap();
        assert!(result.is_ok());
    }
    let pulled_now = pulled.load(Ordering::SeqCst);
    assert!(
        (10..=14).contains(&pulled_now),
        "10 done + at most 4 running, but {pulled_now} inputs were pulled"
    );
    // Not polled, nothing more starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pulled.load(Ordering::SeqCst), pulled_now);

    let rest = bounded("rest", stream.count()).await;
    assert_eq!(rest, 190);
    assert_eq!(server.peak_in_flight(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_cancels_what_is_in_flight() {
    let server = TestServer::start().await;
    let urls: Vec<String> = (0..100)
        .map(|i| server.url(&format!("/id/{i}?delay=5000")))
        .collect();
    let (pulled, inputs) = counted(urls);
    let mut stream = Box::pin(client(10).fetch_stream(inputs));

    // Poll until the requests reach the server, then drop the stream.
    let _ = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(
        eventually(Duration::from_secs(2), || server.in_flight() == 10).await,
        "{} in flight",
        server.in_flight()
    );
    drop(stream);

    assert!(
        eventually(Duration::from_secs(2), || server.in_flight() == 0).await,
        "{} requests still in flight after the stream was dropped",
        server.in_flight()
    );
    assert_eq!(server.completed(), 0);
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        10,
        "no input started after the drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_stream_yields_in_input_order_with_a_bounded_window() {
    let server = TestServer::start().await;
    // Input 0 is slow; the rest are fast.
    let urls: Vec<String> = (0..200)
        .map(|i| {
            let ms = if i == 0 { 500 } else { 0 };
            server.url(&format!("/id/{i}?delay={ms}"))
        })
        .collect();
    let (pulled, inputs) = counted(urls);
    let mut stream = Box::pin(client(4).fetch_stream_ordered(inputs));

    let (index, first) = bounded("first", stream.next()).await.unwrap();
    assert_eq!(index, 0);
    assert_eq!(first.unwrap().text().unwrap(), "0");
    // While input 0 was slow, at most 2 x concurrency inputs were started.
    let pulled_at_first = pulled.load(Ordering::SeqCst);
    assert!(
        pulled_at_first <= 9,
        "the reorder window is 8 (+1 started as input 0 finished): {pulled_at_first} pulled"
    );

    let mut expected = 1;
    while let Some((index, result)) = bounded("next", stream.next()).await {
        assert_eq!(index, expected);
        assert_eq!(result.unwrap().text().unwrap(), index.to_string());
        expected += 1;
    }
    assert_eq!(expected, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_runs_in_a_task_of_its_own() {
    let server = TestServer::start().await;
    let urls: Vec<String> = (0..20).map(|i| server.url(&format!("/id/{i}"))).collect();
    let stream = client(5).fetch_stream(urls);
    // The stream owns what it needs: no borrow of the client.
    let count = tokio::spawn(async move {
        stream
            .filter(|(_, r)| std::future::ready(r.is_ok()))
            .count()
            .await
    });
    assert_eq!(bounded("spawned", count).await.unwrap(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_inputs_feeds_every_entry_point() {
    let server = TestServer::start().await;
    let url = |i: usize| server.url(&format!("/id/{i}"));

    // From a channel, as URLs read by another task would arrive.
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    let urls: Vec<String> = (0..50).map(url).collect();
    tokio::spawn(async move {
        for u in urls {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if tx.send(u).await.is_err() {
                return;
            }
        }
    });
    let inputs =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|u| (u, rx)) });
    let responses = bounded(
        "fetch_all from a channel",
        client(8).fetch_all(from_stream(inputs)),
    )
    .await
    .unwrap();
    assert_eq!(responses.len(), 50);
    for (i, res) in responses.iter().enumerate() {
        assert_eq!(res.text().unwrap(), i.to_string());
    }

    let inputs = futures_util::stream::iter((0..10).map(url));
    let settled = bounded("settled", client(3).fetch_all_settled(from_stream(inputs))).await;
    assert_eq!(settled.len(), 10);
    assert!(settled.iter().all(Result::is_ok));

    // A stream must own its inputs: URLs made up front.
    let urls: Vec<String> = (0..10).map(url).collect();
    let inputs = futures_util::stream::iter(urls);
    let ordered: Vec<usize> = bounded(
        "ordered stream",
        client(3)
            .fetch_stream_ordered(from_stream(inputs))
            .map(|(i, _)| i)
            .collect(),
    )
    .await;
    assert_eq!(ordered, (0..10).collect::<Vec<_>>());
}
