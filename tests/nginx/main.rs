//! The library against a real nginx (Debian's), on loopback: stock
//! settings and aggressive connection recycling, over HTTP/2 by ALPN,
//! h2c and HTTP/1.1, with a graceful reload and quit mid-batch.
//!
//! Each case checks every input's outcome (its own URL's body) and counts
//! what nginx processed in its access log: the batch must end all Ok, with
//! nginx processing at most 1 % more requests than there are inputs.
//! Without nginx the cases skip, saying so on the terminal (see
//! `support::nginx`).
//!
//! And through real proxies: Debian's tinyproxy as an `http://` proxy
//! (`tinyproxy`), and behind nginx terminating TLS as an `https://` one
//! (`tinyproxy_tls`).
#[path = "../support/mod.rs"]
mod support;

mod tinyproxy;
mod tinyproxy_tls;

use std::collections::HashMap;
use std::time::Duration;

use batch_fetch::{BatchClient, BatchClientBuilder, Error, ErrorKind, Response};
use support::clients::defaults;
use support::nginx::{Nginx, NginxSettings};
use support::within;

/// Bounds each batch: a hang fails the test.
const LIMIT: Duration = Duration::from_secs(120);

/// The defaults, with an attempt timeout short enough that a stuck request
/// shows as a retry rather than stalling the test.
fn client(nginx: &Nginx, builder: BatchClientBuilder) -> BatchClient {
    builder
        .timeout(Duration::from_secs(10))
        .add_root_certificate(batch_fetch::Certificate::from_der(nginx.ca_der()).expect("the CA"))
        .build()
        .unwrap()
}

fn paths(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/r/{i}")).collect()
}

/// Every input Ok with its own path as the body; nginx processed each at
/// least once and, in all, at most 1 % more than the inputs; the client
/// counted at most 1 % more attempts than inputs.
fn all_ok(nginx: &Nginx, paths: &[String], results: &[Result<Response, Error>]) {
    assert_eq!(results.len(), paths.len(), "one result per input");
    let mut attempts = 0;
    for (i, result) in results.iter().enumerate() {
        let res = result
            .as_ref()
            .unwrap_or_else(|e| panic!("input {i}: {e}\n{}", nginx.error_log()));
        assert_eq!(res.status(), 200, "input {i}");
        assert_eq!(res.text().unwrap(), format!("{}\n", paths[i]), "input {i}");
        attempts += res.attempts() as usize;
    }
    let processed = processed_all(nginx, paths);
    for p in paths {
        assert!(processed.contains_key(p), "{p} never reached nginx");
    }
    let total: usize = processed.values().sum();
    let most = paths.len() + paths.len() / 100;
    assert!(
        total <= most,
        "nginx processed {total} requests for {} inputs",
        paths.len()
    );
    assert!(
        attempts <= most,
        "{attempts} attempts for {} inputs",
        paths.len()
    );
}

/// [`processed`], once the log has a line for each of `paths` (nginx
/// writes it after the response, so a client can be a moment ahead), or
/// after 5 s.
fn processed_all(nginx: &Nginx, paths: &[String]) -> HashMap<String, usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = processed(nginx);
        if paths.iter().all(|p| seen.contains_key(p)) || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How often nginx processed each path.
fn processed(nginx: &Nginx) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for line in nginx.log() {
        *seen.entry(line.uri).or_default() += 1;
    }
    seen
}

fn recycling(n: u32) -> NginxSettings {
    NginxSettings {
        keepalive_requests: Some(n),
        ..NginxSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_nginx_over_http2_recycles_every_1000_requests() {
    let Some(nginx) = Nginx::start("stock nginx, h2", NginxSettings::default()) else {
        return;
    };
    let paths = paths(20_000);
    let urls: Vec<String> = paths.iter().map(|p| nginx.https_url(p)).collect();
    let client = client(&nginx, defaults().concurrency(250));
    let results = within(LIMIT, "stock h2", client.fetch_all_settled(&urls)).await;
    all_ok(&nginx, &paths, &results);
    let log = nginx.log();
    assert!(log.iter().all(|l| l.protocol == "HTTP/2.0"));
    assert!(log.iter().all(|l| l.connection_request <= 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_requests_100_over_http2() {
    let Some(nginx) = Nginx::start("keepalive_requests 100, h2", recycling(100)) else {
        return;
    };
    let paths = paths(10_000);
    let urls: Vec<String> = paths.iter().map(|p| nginx.https_url(p)).collect();
    for concurrency in [100, 20] {
        let client = client(&nginx, defaults().concurrency(concurrency));
        let results = within(LIMIT, "recycled h2", client.fetch_all_settled(&urls)).await;
        all_ok(&nginx, &paths, &results);
        nginx.clear_log();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_requests_10_over_http2() {
    // Each connection carries 10 of the 100 streams in flight and refuses
    // the rest: a request is turned away many times in a row.
    let Some(nginx) = Nginx::start("keepalive_requests 10, h2", recycling(10)) else {
        return;
    };
    let paths = paths(5_000);
    let urls: Vec<String> = paths.iter().map(|p| nginx.https_url(p)).collect();
    let client = client(&nginx, defaults().concurrency(100));
    let results = within(LIMIT, "recycled every 10", client.fetch_all_settled(&urls)).await;
    all_ok(&nginx, &paths, &results);
    assert!(nginx.log().iter().all(|l| l.connection_request <= 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_requests_100_over_h2c() {
    let Some(nginx) = Nginx::start("keepalive_requests 100, h2c", recycling(100)) else {
        return;
    };
    let paths = paths(10_000);
    let urls: Vec<String> = paths.iter().map(|p| nginx.h2c_url(p)).collect();
    let client = client(&nginx, defaults().http2_prior_knowledge().concurrency(100));
    let results = within(LIMIT, "recycled h2c", client.fetch_all_settled(&urls)).await;
    all_ok(&nginx, &paths, &results);
    assert!(nginx.log().iter().all(|l| l.protocol == "HTTP/2.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_requests_10_over_http1() {
    let Some(nginx) = Nginx::start("keepalive_requests 10, HTTP/1.1", recycling(10)) else {
        return;
    };
    let paths = paths(5_000);
    for (url_of, what) in [
        (Nginx::http1_url as fn(&Nginx, &str) -> String, "http"),
        (Nginx::https1_url, "https"),
    ] {
        let urls: Vec<String> = paths.iter().map(|p| url_of(&nginx, p)).collect();
        let client = client(&nginx, defaults().concurrency(50));
        let results = within(LIMIT, what, client.fetch_all_settled(&urls)).await;
        all_ok(&nginx, &paths, &results);
        let log = nginx.log();
        assert!(log.iter().all(|l| l.protocol == "HTTP/1.1"), "{what}");
        assert!(log.iter().all(|l| l.connection_request <= 10), "{what}");
        nginx.clear_log();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_timeout_closes_idle_connections_between_batches() {
    let settings = NginxSettings {
        keepalive_timeout: Some("1s"),
        ..NginxSettings::default()
    };
    let Some(nginx) = Nginx::start("keepalive_timeout 1s", settings) else {
        return;
    };
    let paths = paths(400);
    let client = client(&nginx, defaults().concurrency(40));
    for (round, url_of) in [
        Nginx::http1_url as fn(&Nginx, &str) -> String,
        Nginx::https_url,
    ]
    .into_iter()
    .enumerate()
    {
        let urls: Vec<String> = paths.iter().map(|p| url_of(&nginx, p)).collect();
        // The pauses straddle the server's 1 s: the pooled connections are
        // closed by the server just before, just after or as the next
        // batch starts.
        for pause_ms in [0, 950, 1000, 1050, 1200] {
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            let results = within(LIMIT, "after a pause", client.fetch_all_settled(&urls)).await;
            all_ok(&nginx, &paths, &results);
            nginx.clear_log();
        }
        let _ = round;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_reload_mid_batch_loses_nothing() {
    let Some(nginx) = Nginx::start("reload mid-batch", NginxSettings::default()) else {
        return;
    };
    for (url_of, builder) in [
        (Nginx::https_url as fn(&Nginx, &str) -> String, defaults()),
        (Nginx::http1_url, defaults()),
        (Nginx::h2c_url, defaults().http2_prior_knowledge()),
    ] {
        let paths = paths(20_000);
        let urls: Vec<String> = paths.iter().map(|p| url_of(&nginx, p)).collect();
        let client = client(&nginx, builder.concurrency(100));
        let batch = client.fetch_all_settled(&urls);
        let reload = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            nginx.reload();
            tokio::time::sleep(Duration::from_millis(150)).await;
            nginx.reload();
        };
        let (results, ()) = within(LIMIT, "reload", async { tokio::join!(batch, reload) }).await;
        all_ok(&nginx, &paths, &results);
        nginx.clear_log();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_quit_mid_batch_gives_each_input_one_result() {
    for protocol in ["h2", "http/1.1"] {
        let Some(mut nginx) = Nginx::start("quit mid-batch", NginxSettings::default()) else {
            return;
        };
        let paths = paths(20_000);
        let urls: Vec<String> = paths
            .iter()
            .map(|p| match protocol {
                "h2" => nginx.https_url(p),
                _ => nginx.http1_url(p),
            })
            .collect();
        let client = client(
            &nginx,
            defaults()
                .concurrency(100)
                .connect_timeout(Duration::from_secs(2))
                .retry(
                    batch_fetch::RetryPolicy::default()
                        .base_delay(Duration::from_millis(10))
                        .max_delay(Duration::from_millis(50)),
                ),
        );
        let batch = client.fetch_all_settled(&urls);
        let quit = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            nginx.quit();
        };
        let (results, ()) = within(LIMIT, "quit", async { tokio::join!(batch, quit) }).await;
        nginx.wait_exit();

        assert_eq!(
            results.len(),
            paths.len(),
            "{protocol}: one result per input"
        );
        let answered: Vec<String> = results
            .iter()
            .zip(&paths)
            .filter(|(r, _)| r.is_ok())
            .map(|(_, p)| p.clone())
            .collect();
        let processed = processed_all(&nginx, &answered);
        let (mut ok, mut refused, mut timed_out) = (0, 0, 0);
        for (i, result) in results.iter().enumerate() {
            match result {
                Ok(res) => {
                    assert_eq!(res.text().unwrap(), format!("{}\n", paths[i]));
                    assert!(processed.contains_key(&paths[i]), "{protocol}: input {i}");
                    ok += 1;
                }
                // Once nginx has gone, nothing listens on its port.
                Err(e) if e.kind() == ErrorKind::Connect => {
                    assert_eq!(e.index(), Some(i));
                    refused += 1;
                }
                // A window, seen once in a loaded CI run (1 input of
                // 20,000, over h2) on hyper-util's pool: a request left in
                // the queue of a connection that nginx's quit ended waited
                // out its 10 s attempt timeout. hyper's own connection API,
                // which the pool now uses, gives such a request back when
                // the connection's task ends; the allowance stays until
                // runs show the window gone. Bounded, and rare; not silent.
                Err(e) if e.kind() == ErrorKind::Timeout && protocol == "h2" => {
                    assert_eq!(e.index(), Some(i));
                    timed_out += 1;
                }
                Err(e) => panic!("{protocol}: input {i}: {e}"),
            }
        }
        assert!(
            timed_out <= 5,
            "{protocol}: {timed_out} inputs waited out their timeout"
        );
        assert!(
            ok > 0 && refused > 0,
            "{protocol}: {ok} ok, {refused} refused"
        );
        let total: usize = processed.values().sum();
        assert!(
            total <= ok + ok / 100 + 100,
            "{protocol}: nginx processed {total} for {ok} answered"
        );
    }
}
