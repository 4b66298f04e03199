//! A plug-in client for outside load-test harnesses: fetches
//! `{URL_BASE}{URL_PATH}?i={i}` for `i` in `0..N` with at most `C` in flight
//! through `fetch_all_settled`, reads every body, and prints one JSON line:
//!
//! ```text
//! {"n":20000,"ok":20000,"errors":0,"wall_s":0.412,"req_per_s":48543.7}
//! ```
//!
//! with `"first_error"` added when any request failed (a non-2xx status
//! counts as failed). Settings come from the environment:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `URL_BASE` | e.g. `http://127.0.0.1:8080` | an embedded loopback server |
//! | `URL_PATH` | e.g. `/fast` | `/` |
//! | `N` | requests | 1000 |
//! | `C` | at most this many in flight | 64 |
//! | `TIMEOUT_S` | per attempt, seconds (fractions allowed) | 30 |
//!
//! ```text
//! URL_BASE=http://127.0.0.1:8080 URL_PATH=/fast N=20000 C=64 cargo run --release --example loadgen
//! ```
//!
//! Without `URL_BASE` it starts its own server on 127.0.0.1, so it runs
//! anywhere. A bad setting ends it with exit status 2 and one line on
//! stderr; failed requests do not change the exit status (the line says).

#[path = "support/loopback.rs"]
mod loopback;

use std::time::{Duration, Instant};

use batch_fetch::BatchClient;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

/// The settings, read from the environment.
struct Settings {
    base: String,
    path: String,
    n: usize,
    c: usize,
    timeout: Duration,
}

fn settings() -> Result<Settings, String> {
    fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match std::env::var(name) {
            Ok(v) => v.trim().parse().map_err(|e| format!("{name}={v:?}: {e}")),
            Err(std::env::VarError::NotPresent) => Ok(default),
            Err(e) => Err(format!("{name}: {e}")),
        }
    }
    let c: usize = var("C", 64)?;
    if c == 0 {
        return Err("C=0: at least one request must be allowed in flight".to_owned());
    }
    let timeout_s: f64 = var("TIMEOUT_S", 30.0)?;
    let timeout = Duration::try_from_secs_f64(timeout_s)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| format!("TIMEOUT_S={timeout_s}: must be a positive number of seconds"))?;
    Ok(Settings {
        base: var("URL_BASE", String::new())?
            .trim_end_matches('/')
            .to_owned(),
        path: var("URL_PATH", "/".to_owned())?,
        n: var("N", 1000)?,
        c,
        timeout,
    })
}

#[tokio::main]
async fn main() {
    let mut settings = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    if settings.base.is_empty() {
        let addr = loopback::serve(|_req| async {
            Response::new(Full::new(Bytes::from_static(&[b'x'; 100])))
        })
        .await
        .unwrap_or_else(|e| {
            eprintln!("loadgen: cannot start the embedded server: {e}");
            std::process::exit(2);
        });
        settings.base = format!("http://{addr}");
    }
    let client = match BatchClient::builder()
        .concurrency(settings.c)
        .timeout(settings.timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };

    let Settings { base, path, n, .. } = &settings;
    let urls = (0..*n).map(|i| format!("{base}{path}?i={i}"));
    let started = Instant::now();
    let results = client.fetch_all_settled(urls).await;
    let wall = started.elapsed().as_secs_f64();

    let mut ok = 0usize;
    let mut first_error = None;
    for result in &results {
        match result {
            // The body is read whole before a response is handed over.
            Ok(response) if response.status().is_success() => ok += 1,
            Ok(response) => {
                first_error.get_or_insert_with(|| {
                    format!("status {} from {}", response.status(), response.url())
                });
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    // Written by hand to keep the keys in the documented order.
    let rate = if wall > 0.0 {
        results.len() as f64 / wall
    } else {
        0.0
    };
    let mut line = format!(
        "{{\"n\":{n},\"ok\":{ok},\"errors\":{},\"wall_s\":{wall:.6},\"req_per_s\":{rate:.1}",
        results.len() - ok
    );
    if let Some(e) = first_error {
        line += &format!(",\"first_error\":{}", serde_json::Value::from(e));
    }
    println!("{line}}}");
}
