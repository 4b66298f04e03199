//! Memory stays flat over many large files: 40 files of 16 MiB at 8 in
//! flight (640 MiB written) raise the peak RSS by less than two files'
//! worth.
//!
//! Measured in a child process running only this (the other tests of the
//! binary run in parallel threads and would blur a process-wide peak),
//! with the server in the parent (its buffers are not the client's). The
//! child first downloads 40 small files through the same client and
//! runtime, so that threads, pool, allocator arenas and the blocking pool
//! are warm; the peak RSS (`VmHWM`) after that is the baseline.
//!
//! The bound: a client that held whole bodies would hold 8 × 16 MiB =
//! 128 MiB at once; one that streams holds a few buffers per transfer
//! (128 KiB each: one being written while the next fills). 32 MiB of
//! growth, two whole files' worth, is a quarter of the first and far
//! above the second with room for allocator arenas (one per blocking
//! thread that writes).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::child::{self, SERVER_ENV};
use super::done;
use crate::support::clients::builder;
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;
use crate::support::within;

const FILES: usize = 40;
const LARGE: u64 = 16 << 20;
const SMALL: u64 = 64 << 10;
const IN_FLIGHT: usize = 8;
const GROWTH_BOUND: u64 = 32 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_over_many_large_files() {
    let server = FileServer::start().await;
    for i in 0..FILES {
        server.add(&format!("/small{i}.bin"), FileSpec::new(SMALL));
        server.add(&format!("/large{i}.bin"), FileSpec::new(LARGE));
    }
    let env = [(SERVER_ENV, server.url(""))];
    let stdout = child::run("memory::many_large_files_in_a_child", &[], &env).await;
    for line in stdout.lines().filter(|l| l.contains("peak RSS")) {
        println!("{line}");
    }
    assert_eq!(server.total_body_bytes(), FILES as u64 * (SMALL + LARGE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by memory_stays_flat_over_many_large_files, in a child process"]
async fn many_large_files_in_a_child() {
    let base = std::env::var(SERVER_ENV).expect("run by the parent test");
    let dir = Scratch::new("dl-memory");
    let client = builder()
        .concurrency(IN_FLIGHT)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let items = |kind: &str| -> Vec<(String, PathBuf)> {
        (0..FILES)
            .map(|i| {
                (
                    format!("{base}/{kind}{i}.bin"),
                    dir.join(format!("{kind}{i}.bin")),
                )
            })
            .collect()
    };

    // Each file is checked, then removed, as it completes.
    let run = |kind: &'static str, size: u64| {
        let stream = client.download_stream(items(kind));
        async move {
            let mut stream = std::pin::pin!(stream);
            let mut count = 0;
            while let Some((i, result)) = stream.next().await {
                let d = done(result);
                assert_file(d.path(), &format!("/{kind}{i}.bin"), 0, size);
                std::fs::remove_file(d.path()).unwrap();
                count += 1;
            }
            assert_eq!(count, FILES);
        }
    };
    within(Duration::from_secs(60), "small files", run("small", SMALL)).await;
    let baseline = peak_rss();
    let t0 = Instant::now();
    within(Duration::from_secs(100), "large files", run("large", LARGE)).await;
    let elapsed = t0.elapsed();
    let peak = peak_rss();

    let growth = peak.saturating_sub(baseline);
    let written = FILES as u64 * LARGE;
    println!(
        "memory: peak RSS {} MiB after the small files, {} MiB after {} MiB in {} files of {} MiB at {IN_FLIGHT} in flight: +{:.1} MiB ({:.0} MiB/s)",
        baseline >> 20,
        peak >> 20,
        written >> 20,
        FILES,
        LARGE >> 20,
        growth as f64 / f64::from(1 << 20),
        written as f64 / f64::from(1 << 20) / elapsed.as_secs_f64()
    );
    assert!(
        growth < GROWTH_BOUND,
        "peak RSS grew by {growth} bytes while {written} were downloaded"
    );
    assert!(dir.files().is_empty(), "left: {:?}", dir.files());
}

/// The peak resident set size of this process (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmHWM in kB");
    kib * 1024
}
