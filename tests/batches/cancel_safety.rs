//! Cancel safety: a batch stopped mid-way — its `fetch_all` future dropped,
//! its `fetch_stream` dropped, its `Batch` cancelled, or its cancellation
//! token fired (over HTTP/2) — leaves nothing behind.
//!
//! Every test runs the same batch at concurrency 4: two fast inputs on one
//! host (127.0.0.1), which finish and leave their connections idle in the
//! pool, then eight inputs on another host (127.0.0.2) that would take
//! 20 s; it is stopped once four of those are in flight. Afterwards:
//! * the server-side handlers of the four cut-off requests were cancelled
//!   (none completed) and the four queued inputs never reached the server;
//! * the connections that carried a cut-off HTTP/1.1 request are closed
//!   (over HTTP/2 the one connection stays, its streams reset); the only
//!   other open connections are the idle pooled ones, at most the two the
//!   fast inputs used (and never more than the concurrency);
//! * once the pool's idle timeout (1 s here) has closed those, the runtime
//!   runs exactly the tasks it ran before the client existed (the two
//!   servers' accept loops): no connection task or other task of the client
//!   is left (`RuntimeMetrics::num_alive_tasks`);
//! * the client still works: a following batch on it succeeds, and after
//!   it is dropped the task count is back to that baseline again.

use std::pin::pin;
use std::time::Duration;

use crate::support::clients::builder;
use crate::support::{BATCH_TIMEOUT, TestServer, bounded, eventually, within};
use batch_fetch::{BatchClient, CancellationToken, ErrorKind};
use futures_util::StreamExt;

const CONCURRENCY: usize = 4;
const FAST: usize = 2;
const SLOW: usize = 8;
/// How long a hang guard waits for something that should be prompt.
const PROMPT: Duration = Duration::from_secs(5);
/// Long enough for the pool's idle timeout to close idle connections (it
/// checks once per timeout) and for their tasks to end.
const DRAIN: Duration = Duration::from_secs(10);

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

struct Setup {
    fast: TestServer,
    slow: TestServer,
    /// Tasks alive before the client existed: the servers' accept loops.
    baseline: usize,
    client: BatchClient,
    urls: Vec<String>,
}

async fn setup(http2: bool) -> Setup {
    let fast = TestServer::start_on([127, 0, 0, 1]).await;
    let slow = TestServer::start_on([127, 0, 0, 2]).await;
    let baseline = alive_tasks();
    let mut b = builder()
        .no_proxy()
        .concurrency(CONCURRENCY)
        .pool_idle_timeout(Duration::from_secs(1));
    if http2 {
        b = b.http2_prior_knowledge();
    }
    let client = b.build().unwrap();
    let mut urls: Vec<String> = (0..FAST).map(|i| fast.url(&format!("/id/{i}"))).collect();
    urls.extend((0..SLOW).map(|i| slow.url(&format!("/delay/20000?i={i}"))));
    Setup {
        fast,
        slow,
        baseline,
        client,
        urls,
    }
}

impl Setup {
    /// The fast inputs are done and `CONCURRENCY` slow ones are in flight
    /// at the server.
    fn mid_way(&self) -> bool {
        self.fast.completed() == FAST && self.slow.in_flight() == CONCURRENCY
    }

    async fn wait_mid_way(&self) {
        assert!(
            eventually(PROMPT, || self.mid_way()).await,
            "never mid-way: fast completed {}, slow in flight {}",
            self.fast.completed(),
            self.slow.in_flight()
        );
    }

    /// What must hold once the batch was stopped mid-way.
    async fn check_stopped(&self, http2: bool) {
        let slow = &self.slow;
        let cut_off_closed = |open: usize| if http2 { open <= 1 } else { open == 0 };
        assert!(
            eventually(PROMPT, || slow.cancelled() == CONCURRENCY
                && slow.in_flight() == 0
                && cut_off_closed(slow.open_connections()))
            .await,
            "cut-off requests: cancelled {} of {CONCURRENCY}, in flight {}, open connections {}",
            slow.cancelled(),
            slow.in_flight(),
            slow.open_connections()
        );
        assert_eq!(slow.completed(), 0, "a cut-off request ran to completion");
        assert_eq!(
            slow.total_hits(),
            CONCURRENCY,
            "queued inputs reached the server"
        );
        let fast = &self.fast;
        assert_eq!(fast.completed(), FAST);
        assert_eq!(fast.cancelled(), 0);
        let idle = fast.open_connections() + slow.open_connections();
        assert!(
            fast.open_connections() <= FAST && idle <= CONCURRENCY,
            "open connections beyond the idle pooled ones: fast host {}, slow host {}",
            fast.open_connections(),
            slow.open_connections()
        );
        self.check_drained("after the stop").await;
    }

    /// The pool's idle timeout closes every connection, and the runtime is
    /// back to the tasks it ran before the client existed.
    async fn check_drained(&self, when: &str) {
        let (fast, slow) = (&self.fast, &self.slow);
        assert!(
            eventually(DRAIN, || fast.open_connections() == 0
                && slow.open_connections() == 0
                && alive_tasks() == self.baseline)
            .await,
            "{when}: open connections {} + {}, tasks alive {} (baseline {})",
            fast.open_connections(),
            slow.open_connections(),
            alive_tasks(),
            self.baseline
        );
    }

    /// A following batch on the same client succeeds; dropping the client
    /// then leaves no task behind.
    async fn check_usable(self) {
        let urls: Vec<String> = (0..CONCURRENCY)
            .map(|i| self.fast.url(&format!("/id/{}", 100 + i)))
            .chain((0..CONCURRENCY).map(|i| self.slow.url(&format!("/id/{}", 200 + i))))
            .collect();
        let responses = bounded("follow-up batch", self.client.fetch_all(&urls))
            .await
            .expect("the client works after a stopped batch");
        assert_eq!(responses.len(), urls.len());
        for (url, res) in urls.iter().zip(&responses) {
            assert_eq!(res.status(), 200, "{url}");
            assert_eq!(&res.url().to_string(), url);
            let id = url.rsplit('/').next().unwrap();
            assert_eq!(res.text().unwrap(), id);
        }
        let Setup {
            fast,
            slow,
            baseline,
            client,
            ..
        } = self;
        drop(client);
        assert!(
            eventually(PROMPT, || fast.open_connections() == 0
                && slow.open_connections() == 0
                && alive_tasks() == baseline)
            .await,
            "client dropped: open connections {} + {}, tasks alive {} (baseline {baseline})",
            fast.open_connections(),
            slow.open_connections(),
            alive_tasks()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_fetch_all_mid_way() {
    let s = setup(false).await;
    {
        let mut gather = pin!(s.client.fetch_all(&s.urls));
        tokio::select! {
            r = &mut gather => panic!("the batch finished: {:?}", r.map(|v| v.len())),
            () = s.wait_mid_way() => {}
        }
        // `gather` is dropped here, mid-way.
    }
    s.check_stopped(false).await;
    s.check_usable().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_fetch_stream_mid_way() {
    let s = setup(false).await;
    {
        let mut results = s.client.fetch_stream(s.urls.clone());
        // The fast inputs come first.
        for _ in 0..FAST {
            let (index, result) = within(PROMPT, "fast result", results.next())
                .await
                .expect("a result");
            assert!(index < FAST, "input {index} finished first");
            assert_eq!(result.expect("fast input").status(), 200);
        }
        tokio::select! {
            item = results.next() => panic!("a slow input finished: {:?}", item.map(|(i, _)| i)),
            () = s.wait_mid_way() => {}
        }
        // `results` is dropped here, mid-way.
    }
    s.check_stopped(false).await;
    s.check_usable().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_batch_mid_way() {
    let s = setup(false).await;
    let batch = s.client.batch();
    let handle = batch.clone();
    let (results, ()) = within(BATCH_TIMEOUT, "cancelled batch", async {
        tokio::join!(batch.fetch_all_settled(&s.urls), async {
            s.wait_mid_way().await;
            handle.cancel();
        })
    })
    .await;

    assert_eq!(results.len(), s.urls.len(), "one result per input");
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(res) if i < FAST => assert_eq!(res.status(), 200),
            Err(e) if i >= FAST => {
                assert_eq!(e.kind(), ErrorKind::Cancelled, "input {i}: {e}");
                assert_eq!(e.index(), Some(i));
                assert_eq!(e.url().map(|u| u.to_string()), Some(s.urls[i].clone()));
            }
            other => panic!("input {i}: {other:?}"),
        }
    }
    s.check_stopped(false).await;

    // The batch stays cancelled: running it again sends nothing.
    let again = bounded("cancelled batch again", batch.fetch_all_settled(&s.urls)).await;
    assert_eq!(again.len(), s.urls.len());
    assert!(
        again
            .iter()
            .all(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Cancelled)),
        "{again:?}"
    );
    assert_eq!(
        s.fast.total_hits() + s.slow.total_hits(),
        FAST + CONCURRENCY
    );
    s.check_usable().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_by_token_over_http2_resets_the_streams() {
    let s = setup(true).await;
    let token = CancellationToken::new();
    let batch = s.client.batch().cancel_on(&token);
    let (outcome, ()) = within(BATCH_TIMEOUT, "cancelled batch", async {
        tokio::join!(batch.fetch_all(&s.urls), async {
            s.wait_mid_way().await;
            token.cancel();
        })
    })
    .await;

    let e = crate::support::expect_err(outcome, "a cancelled fail-fast batch");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    let index = e.index().expect("an index");
    assert!(
        (FAST..FAST + CONCURRENCY).contains(&index),
        "the error is one of the in-flight inputs, not input {index}"
    );
    // Over HTTP/2 one connection per host carried everything.
    assert_eq!(s.slow.accepted(), 1);
    assert_eq!(s.fast.accepted(), 1);
    s.check_stopped(true).await;
    s.check_usable().await;
}
