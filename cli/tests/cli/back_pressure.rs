//! A slow reader of the tool's output slows how fast it takes inputs, and
//! nothing else: the bodies under way go on being read, so their timers
//! see no false timeouts.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::TestServer;
use super::{RUN_LIMIT, tempfile, tool};

/// Each body: bytes, and milliseconds between them.
const DRIP: &str = "20/10";

/// Inputs in the run.
const INPUTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_of_stdout_pauses_intake_but_never_times_out_a_body() {
    let server = TestServer::start().await;
    // Each body takes ~200 ms to arrive (20 bytes, one every 10 ms), well
    // within the timeout, but not if the tool stops reading it; each
    // line is long (its URL twice), so stdout's pipe fills after a few.
    let pad = "p".repeat(2000);
    let (input, mut file) = tempfile();
    for i in 0..INPUTS {
        writeln!(
            file,
            "{}",
            server.url(&format!("/drip-body/{DRIP}?i={i}&pad={pad}"))
        )
        .unwrap();
    }
    drop(file);
    let arg = input.clone();
    let (lines, status, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = tool()
            .args(["-q", "--timeout", "1500ms"])
            .arg(&arg)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut all);
            all
        });
        // A reader that takes a line, then dawdles.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let started = Instant::now();
        let mut lines = Vec::new();
        let mut line = String::new();
        while lines.len() <= INPUTS && started.elapsed() < RUN_LIMIT {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push(serde_json::from_str::<Value>(&line).unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        (lines, status, stderr.join().unwrap())
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&input);

    let slowest = lines
        .iter()
        .filter_map(|l| l["timings"]["total_ms"].as_f64())
        .fold(0.0, f64::max);
    eprintln!("slowest input: {slowest} ms");
    let failed: Vec<&Value> = lines.iter().filter(|l| l["status"] != 200).collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(lines.len(), INPUTS, "every input has its line");
    assert!(
        lines.iter().all(|l| l["attempts"] == 1),
        "no attempt was retried"
    );
    assert_eq!(status.code(), Some(0), "{status} {stderr}");
    assert_eq!(
        server.stats().hits_prefix("/drip-body/"),
        INPUTS,
        "one GET per input"
    );
}
