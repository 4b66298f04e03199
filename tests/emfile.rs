//! Running out of file descriptors is back-pressure, not failure: a batch
//! at concurrency 10,000 in a process allowed 1,024 open files finishes
//! with every request `Ok`, where a plain hyper-util client, in the same
//! process and against the same server, fails most of them with "Too many
//! open files".
//!
//! And idle connections make way: a batch to one origin leaves hundreds
//! of connections idle, and a batch to another origin that needs their
//! descriptors closes them rather than waiting for their idle timeout.
//!
//! The limit is lowered in a child process (`ulimit -n 1024`, then this
//! test binary runs an `#[ignore]`d test of its own); the servers run
//! here, in the parent, with the usual limit.
mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use batch_fetch::RetryPolicy;
use support::clients::defaults;
use support::{TestServer, bounded};

const CHILD_ENV: &str = "BATCH_FETCH_EMFILE_SERVER";
const REQUESTS: usize = 10_000;
const OPEN_FILES: u32 = 1024;

/// Runs the ignored test `name` in a child process under the lowered
/// limit, with `env` set; returns what it printed, once it passed.
async fn in_child(name: &'static str, env: Vec<(&'static str, String)>) -> String {
    let exe = std::env::current_exe().unwrap();
    let child = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(format!(r#"ulimit -n {OPEN_FILES} && exec "$0" "$@""#))
            .arg(exe)
            .args([
                "--exact",
                name,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .envs(env)
            .output()
    });
    let output = bounded("child process", child).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    // The child ran its test (and did not filter it away).
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
    stdout
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_is_back_pressure() {
    let server = TestServer::start().await;
    let stdout = in_child(
        "client_under_a_low_open_file_limit",
        vec![(CHILD_ENV, server.url(""))],
    )
    .await;
    assert!(stdout.contains("batch-fetch: 10000 ok"), "{stdout}");
    print_lines_with(&stdout, " of ");
}

/// Shows the child's lines that carry `marker` (its figures).
fn print_lines_with(stdout: &str, marker: &str) {
    let lines: Vec<_> = stdout.lines().filter(|l| l.contains(marker)).collect();
    println!("{}", lines.join("\n"));
}

/// Runs only in the child process, under the lowered limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by running_out_of_descriptors_is_back_pressure, in a child process with a low open-file limit"]
async fn client_under_a_low_open_file_limit() {
    let base = std::env::var(CHILD_ENV).expect("run by the parent test");
    let urls: Vec<String> = (0..REQUESTS)
        .map(|i| format!("{base}/id/{i}?delay=20"))
        .collect();

    // The plain client runs into the limit: this proves the limit bites.
    let raw_failures = raw_hyper_util(&urls).await;
    println!("hyper-util: {raw_failures} of {REQUESTS} failed");
    assert!(
        raw_failures > 0,
        "the open-file limit did not bite: the test shows nothing"
    );
    // Its connections close once its pool is gone.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let client = defaults()
        .concurrency(REQUESTS)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let results = bounded("batch under the limit", client.fetch_all_settled(&urls)).await;
    let ok = answered_in_place(&results, "");
    println!("batch-fetch: {ok} ok of {REQUESTS}");
    assert_eq!(ok, REQUESTS, "every request must succeed under the limit");
}

/// How many of `results` are `Ok` with their own index as the body (the
/// test server's `/id/{i}`); each other one is told on stderr, after
/// `what`.
fn answered_in_place(
    results: &[Result<batch_fetch::Response, batch_fetch::Error>],
    what: &str,
) -> usize {
    results
        .iter()
        .enumerate()
        .filter(|(i, r)| match r {
            Ok(res) => res.text().unwrap() == i.to_string(),
            Err(err) => {
                eprintln!("{what}input {i}: {err}");
                false
            }
        })
        .count()
}

/// A raw hyper-util client, one task per request, all at once: how many
/// requests fail.
async fn raw_hyper_util(urls: &[String]) -> usize {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let failures = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = urls
        .iter()
        .map(|url| {
            let client = client.clone();
            let failures = failures.clone();
            let uri: http::Uri = url.parse().unwrap();
            tokio::spawn(async move {
                let ok = match client.get(uri).await {
                    Ok(res) => res.into_body().collect().await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in bounded("raw client", futures_util::future::join_all(tasks)).await {
        task.unwrap();
    }
    failures.load(Ordering::Relaxed)
}

const FIRST_ENV: &str = "BATCH_FETCH_EMFILE_FIRST";
const SECOND_ENV: &str = "BATCH_FETCH_EMFILE_SECOND";

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_make_way_when_descriptors_run_out() {
    let first = TestServer::start().await;
    let second = TestServer::start().await;
    let stdout = in_child(
        "idle_connections_under_a_low_open_file_limit",
        vec![(FIRST_ENV, first.url("")), (SECOND_ENV, second.url(""))],
    )
    .await;
    assert!(stdout.contains("second origin: 900 ok"), "{stdout}");
    print_lines_with(&stdout, " origin: ");
}

/// Runs only in the child process, under the lowered limit: 900
/// connections to one origin are left idle (for a minute), then 900
/// requests at once go to another. Without its idle connections making
/// way, most connects of the second batch would find no descriptor until
/// the connect timeout (2 s here) and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by idle_connections_make_way_when_descriptors_run_out, in a child process with a low open-file limit"]
async fn idle_connections_under_a_low_open_file_limit() {
    let first = std::env::var(FIRST_ENV).expect("run by the parent test");
    let second = std::env::var(SECOND_ENV).expect("run by the parent test");
    let client = defaults()
        .concurrency(900)
        .retry(RetryPolicy::none())
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let batch = |base: &str| -> Vec<String> {
        (0..900)
            .map(|i| format!("{base}/id/{i}?delay=500"))
            .collect()
    };
    for (name, base) in [("first", &first), ("second", &second)] {
        let results = bounded(name, client.fetch_all_settled(batch(base))).await;
        let ok = answered_in_place(&results, &format!("{name} origin, "));
        println!("{name} origin: {ok} ok of 900");
        assert_eq!(ok, 900, "every request of the {name} batch must succeed");
    }
}
