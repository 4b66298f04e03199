//! How the tool ends when told to stop: SIGTERM and SIGHUP do what the
//! first Ctrl-C does (cancel, then finish writing), a second Ctrl-C quits
//! quickly but flushes first, and the report is replaced whole or not at
//! all.

use std::io::{Read, Write};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::fn_server::{FnServer, reply};
use super::{RUN_LIMIT, inputs_sent, tempfile, tool};

/// What the report file held before the run: complete, and recognizable.
const PREVIOUS_REPORT: &str = "<!DOCTYPE html><p>the previous run</p></html>\n";

/// How long a stopped tool may take to end; generous, for a noisy
/// 2-core machine.
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// A server answering `/fast/..` at once and `/slow/..` after 20 s,
/// counting the requests that reached it.
async fn fast_and_slow() -> (FnServer, Arc<AtomicUsize>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let count = arrived.clone();
    let server = FnServer::start(move |seen| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            if seen.uri.path().starts_with("/slow/") {
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
            reply(200, "done")
        }
    })
    .await;
    (server, arrived)
}

/// Sends `signal` (as `kill` names it: TERM, HUP, INT) to `child`.
fn send(signal: &str, child: &Child) {
    let sent = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
}

/// Waits until `cond` holds, failing the test past `limit`.
fn wait_until(limit: Duration, what: &str, cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads all of a pipe on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = pipe.read_to_end(&mut all);
        all
    })
}

/// Waits for `child` to end, failing the test (and killing it) past
/// `limit`.
fn ended_within(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the tool did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stdout as lines, each of them a whole JSON object.
fn whole_lines(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8 (no line cut mid-character)");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the last line is cut: {:?}",
        &text[text.len().saturating_sub(200)..]
    );
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("a line is not whole ({e}): {l}"))
        })
        .collect()
}

/// The report file: the previous one, or a whole new page.
fn whole_report(path: &std::path::Path) -> String {
    let page = std::fs::read_to_string(path).unwrap();
    assert!(
        page == PREVIOUS_REPORT
            || page.starts_with("<!DOCTYPE html>") && page.ends_with("</body></html>\n"),
        "the report is neither the previous one nor whole: {} bytes, ending {:?}",
        page.len(),
        &page[page.len().saturating_sub(100)..]
    );
    page
}

/// An input file of `fast` quick inputs, then `slow` that answer after 20 s.
fn input_file(server: &FnServer, fast: usize, slow: usize) -> std::path::PathBuf {
    let (path, mut file) = tempfile();
    for i in 0..fast {
        writeln!(file, "{}", server.url(&format!("/fast/{i}"))).unwrap();
    }
    for i in 0..slow {
        writeln!(file, "{}", server.url(&format!("/slow/{i}"))).unwrap();
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_cancel_and_finish_writing_like_ctrl_c() {
    let (server, arrived) = fast_and_slow().await;
    for (signal, code, why) in [
        ("TERM", 143, "terminated (SIGTERM)"),
        ("HUP", 129, "hung up (SIGHUP)"),
    ] {
        arrived.store(0, Ordering::SeqCst);
        // With 4 at a time, the slow inputs start only once every fast one
        // has its result: when 4 slow ones arrived, 10 lines are due.
        let input = input_file(&server, 10, 30);
        let (report, _) = tempfile();
        std::fs::write(&report, PREVIOUS_REPORT).unwrap();
        let mut child = tool()
            .args(["-c", "4", "--timeout", "30s", "--report"])
            .arg(&report)
            .arg(&input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let arrived_now = arrived.clone();
        let (status, report_meanwhile) = tokio::task::spawn_blocking(move || {
            wait_until(RUN_LIMIT, "the slow requests", || {
                arrived_now.load(Ordering::SeqCst) >= 14
            });
            let meanwhile = std::fs::read_to_string(&report).unwrap();
            send(signal, &child);
            (ended_within(&mut child, EXIT_LIMIT), (meanwhile, report))
        })
        .await
        .unwrap();
        let (meanwhile, report) = report_meanwhile;
        let stderr = String::from_utf8(stderr.join().unwrap()).unwrap();
        let lines = whole_lines(&stdout.join().unwrap());

        assert_eq!(
            meanwhile, PREVIOUS_REPORT,
            "SIG{signal}: the previous report stays whole while the run goes on"
        );
        assert_eq!(status.code(), Some(code), "SIG{signal}: {status} {stderr}");
        assert!(stderr.contains(why), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains("errors: request cancelled ×4"),
            "SIG{signal}: the summary is written: {stderr}"
        );
        // Every input taken has its line: the fast ones answered, the slow
        // ones under way cancelled.
        assert_eq!(lines.len(), inputs_sent(&stderr), "SIG{signal}: {lines:?}");
        let answered = lines.iter().filter(|l| l["status"] == 200).count();
        assert_eq!(answered, 10, "SIG{signal}: {lines:?}");
        assert!(
            lines
                .iter()
                .filter(|l| l["status"] != 200)
                .all(|l| l["error"]["kind"] == "cancelled"),
            "SIG{signal}: {lines:?}"
        );
        let page = whole_report(&report);
        assert!(
            page.contains(why),
            "SIG{signal}: the report says why it stopped"
        );
        let _ = std::fs::remove_file(&input);
        let _ = std::fs::remove_file(&report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_quits_quickly_but_flushes_first() {
    let (server, arrived) = fast_and_slow().await;
    // Long lines, and nobody reading them yet: stdout's pipe fills and
    // the tool is stuck writing when the two Ctrl-Cs come.
    let pad = "p".repeat(2000);
    let (input, mut file) = tempfile();
    for i in 0..200 {
        writeln!(file, "{}", server.url(&format!("/fast/{i}?pad={pad}"))).unwrap();
    }
    drop(file);
    let (report, _) = tempfile();
    std::fs::write(&report, PREVIOUS_REPORT).unwrap();
    let mut child = tool()
        .args(["-c", "20", "--report"])
        .arg(&report)
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = drain(child.stderr.take().unwrap());
    let (status, stdout, took) = tokio::task::spawn_blocking(move || {
        wait_until(RUN_LIMIT, "the first requests", || {
            arrived.load(Ordering::SeqCst) >= 20
        });
        // Time to fill the pipe and block on it.
        std::thread::sleep(Duration::from_millis(500));
        send("INT", &child);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "still writing after the first Ctrl-C"
        );
        send("INT", &child);
        let second = Instant::now();
        let stdout = drain(child.stdout.take().unwrap());
        let status = ended_within(&mut child, EXIT_LIMIT);
        (status, stdout.join().unwrap(), second.elapsed())
    })
    .await
    .unwrap();
    let stderr = String::from_utf8(stderr.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(130), "{status} {stderr}");
    assert!(took < Duration::from_secs(10), "quick: {took:?}");
    let lines = whole_lines(&stdout);
    assert!(!lines.is_empty(), "what was written before is there");
    let mut indices: Vec<u64> = lines.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), lines.len(), "no line twice");
    // Each input taken has its line, or is counted among those left
    // unwritten by the second Ctrl-C.
    let unwritten: usize = stderr
        .split_once("stopped again: ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of lines left unwritten: {stderr}"));
    assert_eq!(lines.len() + unwritten, inputs_sent(&stderr), "{stderr}");
    whole_report(&report);
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&report);
}
