//! A DNS hook: `dns_resolver(Arc<dyn Resolve>)` resolves host names (port 0
//! in an answer means the URL's port); IP literals and `resolve()`
//! overrides never reach it; a resolver error is a Connect error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::{Echo, TestServer, bounded, clients, expect_err};
use batch_fetch::{BatchClientBuilder, ErrorKind, Resolve, Resolving};

/// Maps `*.test` to 127.0.0.1 (port 0, or `fixed_port` for `fixed.test`),
/// refuses other names, and counts the calls per name.
#[derive(Default)]
struct TestNames {
    calls: Mutex<HashMap<String, usize>>,
    fixed_port: u16,
}

impl TestNames {
    fn calls(&self, host: &str) -> usize {
        self.calls.lock().unwrap().get(host).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }
}

impl Resolve for TestNames {
    fn resolve(&self, host: &str) -> Resolving {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(host.to_string())
            .or_default() += 1;
        let answer = if host == "fixed.test" {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], self.fixed_port))])
        } else if host.ends_with(".test") {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))])
        } else {
            Err(format!("{host} is not a test name").into())
        };
        Box::pin(async move { answer })
    }
}

fn builder(names: &Arc<TestNames>) -> BatchClientBuilder {
    clients::builder().dns_resolver(names.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_resolved_by_the_hook() {
    let server = TestServer::start().await;
    let names = Arc::new(TestNames::default());
    let client = builder(&names).build().unwrap();

    let url = format!("http://api.test:{}/echo", server.port());
    let resp = bounded("hook", client.fetch(url.as_str())).await.unwrap();

    let echo = Echo::parse(&resp.text().unwrap());
    assert_eq!(
        echo.header("host"),
        Some(format!("api.test:{}", server.port()).as_str())
    );
    assert_eq!(names.calls("api.test"), 1);

    // A batch over several names: all resolved by the hook.
    let urls: Vec<String> = (0..40)
        .map(|i| format!("http://h{}.test:{}/id/{i}", i % 4, server.port()))
        .collect();
    let resps = bounded("hook batch", client.fetch_all(&urls))
        .await
        .unwrap();
    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.text().unwrap(), i.to_string());
    }
    for h in 0..4 {
        let name = format!("h{h}.test");
        let calls = names.calls(&name);
        assert!(
            (1..=10).contains(&calls),
            "{name}: resolved per new connection, not more: {calls}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_the_answer_is_used_when_the_url_has_none() {
    let server = TestServer::start().await;
    let names = Arc::new(TestNames {
        fixed_port: server.port(),
        ..TestNames::default()
    });
    let client = builder(&names).build().unwrap();

    let resp = bounded("answer port", client.fetch("http://fixed.test/id/5"))
        .await
        .unwrap();

    assert_eq!(resp.text().unwrap(), "5");
    assert_eq!(names.calls("fixed.test"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_error_is_a_connect_error() {
    let names = Arc::new(TestNames::default());
    let client = builder(&names).build().unwrap();

    let e = expect_err(
        bounded(
            "refused name",
            client.fetch("http://not-a-test-name.invalid:1/"),
        )
        .await,
        "the resolver refuses it",
    );

    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.is_connect());
    assert!(
        e.to_string().contains("not a test name"),
        "the resolver's reason is kept: {e}"
    );
    assert_eq!(names.calls("not-a-test-name.invalid"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_literals_and_overrides_never_reach_the_hook() {
    let server = TestServer::start().await;
    let names = Arc::new(TestNames::default());
    let client = builder(&names)
        .resolve("pinned.test", server.addr())
        .build()
        .unwrap();

    let resp = bounded("ip literal", client.fetch(server.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "1");
    let resp = bounded("override", client.fetch("http://pinned.test/id/2"))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "2");

    assert_eq!(names.total(), 0, "{:?}", names.calls.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_resolver_does_not_block_other_requests() {
    /// Takes 300 ms for `slow.test`, answers others at once.
    struct Slow;
    impl Resolve for Slow {
        fn resolve(&self, host: &str) -> Resolving {
            let slow = host == "slow.test";
            Box::pin(async move {
                if slow {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))])
            })
        }
    }
    let server = TestServer::start().await;
    let client = defaults().dns_resolver(Arc::new(Slow)).build().unwrap();
    let slow = format!("http://slow.test:{}/id/slow", server.port());
    let fast = format!("http://fast.test:{}/id/fast", server.port());

    let (a, b) = bounded("slow and fast", async {
        tokio::join!(client.fetch(slow.as_str()), client.fetch(fast.as_str()))
    })
    .await;

    assert_eq!(a.unwrap().text().unwrap(), "slow");
    assert_eq!(b.unwrap().text().unwrap(), "fast");
    let log = server.log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].path, "/id/fast", "the fast name is not held up");
}
