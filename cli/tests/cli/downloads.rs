//! `--output-dir` through the library's downloads: bodies streamed to
//! their files (never held whole), only 2xx answers stored, file errors
//! as the input's own, `--checksum`, and `--continue` across runs,
//! Ctrl-C included.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::Value;

use super::support::fn_server::{FnBody, FnServer, Seen, reply, with_header};
use super::support::{TestServer, pattern};
use super::{RUN_LIMIT, by_index, interrupt, run, tool};

/// A new, empty directory under the system's temporary one.
fn fresh_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "batch-fetch-cli-dl-{tag}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn arg(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_written_byte_identical_with_their_checksum() {
    let server = TestServer::start().await;
    let sizes = [0usize, 1, 100_000, 3 << 20];
    let mut input: String = sizes
        .iter()
        .map(|n| format!("{}\n", server.url(&format!("/bytes/{n}"))))
        .collect();
    input.push_str(&format!("{}\n", server.url("/bytes-chunked/777777")));
    let dir = fresh_dir("bodies");
    let out = run(
        &["-q", "--ordered", "--checksum", "--output-dir", &arg(&dir)],
        &input,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines.len(), 5, "{:?}", out.lines);

    let expected: Vec<usize> = sizes.iter().copied().chain([777_777]).collect();
    for (line, n) in out.lines.iter().zip(expected) {
        let file = PathBuf::from(line["file"].as_str().unwrap());
        assert_eq!(file.parent().unwrap(), dir);
        let written = std::fs::read(&file).unwrap();
        assert!(
            written == pattern(n),
            "{} differs from the body",
            file.display()
        );
        assert_eq!(line["status"], 200);
        assert_eq!(line["bytes"], n as u64);
        assert_eq!(line["resumed"], false);
        assert_eq!(line["sha256"], sha256_hex(&written), "{line}");
        assert!(line["error"].is_null());
        assert!(line.get("kept").is_none(), "{line}");
        assert!(line.get("body").is_none(), "{line}");
    }
    assert_eq!(
        names(&dir)[0],
        "00000000-0",
        "named from the input's URL: index, then its last segment"
    );
    assert!(
        names(&dir).iter().all(|n| !n.ends_with(".part")),
        "no partial file left: {:?}",
        names(&dir)
    );

    // Without --checksum, no "sha256".
    let out = run(&["-q", "--output-dir", &arg(&dir)], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.lines.iter().all(|l| l.get("sha256").is_none()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_that_is_not_2xx_is_a_status_error_and_stores_nothing() {
    let server = TestServer::start().await;
    let input = format!(
        "{}\n{}\n{}\n",
        server.url("/status/404"),
        server.url("/id/1"),
        server.url("/status/500"),
    );
    let dir = fresh_dir("status");
    let out = run(
        &["--ordered", "--retries", "0", "--output-dir", &arg(&dir)],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    for (line, status) in [(&out.lines[0], 404), (&out.lines[2], 500)] {
        assert_eq!(line["error"]["kind"], "status", "{line}");
        assert_eq!(line["status"], status, "the status stays in the line");
        assert!(line.get("file").is_none(), "{line}");
    }
    assert_eq!(out.lines[1]["status"], 200);
    assert_eq!(names(&dir), ["00000001-1"], "only the 2xx body, no .part");
    assert!(
        out.stderr.contains("inputs    3   ok 1   failed 2"),
        "{}",
        out.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_dirs_missing_made_unmakeable_or_unwritable() {
    let server = TestServer::start().await;
    let input = format!("{}\n{}\n", server.url("/id/1"), server.url("/id/2"));

    // Missing: made, parents too.
    let root = fresh_dir("dirs");
    let nested = root.join("a/b/c");
    let out = run(&["-q", "--output-dir", &arg(&nested)], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(names(&nested), ["00000000-1", "00000001-2"]);

    // Cannot be made (a file is in the way): a usage error, before any
    // request.
    let blocker = root.join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let hits = server.stats().total_hits();
    let out = run(&["--output-dir", &arg(&blocker.join("sub"))], &input).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot make the output directory"),
        "{}",
        out.stderr
    );
    assert!(out.lines.is_empty());
    assert_eq!(server.stats().total_hits(), hits, "nothing was sent");

    // There, but no file can be made in it (procfs takes none, whoever
    // asks, root included): each input's own error of kind "file",
    // naming the path.
    let out = run(&["-q", "--output-dir", "/proc/self"], &input).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.lines.len(), 2);
    for line in &out.lines {
        assert_eq!(line["error"]["kind"], "file", "{line}");
        let message = line["error"]["message"].as_str().unwrap();
        assert!(message.contains("/proc/self/0000000"), "{message}");
    }

    // One input's file cannot be put in place (a directory has its name):
    // that input's error, and the others are written.
    let dir = root.join("one-blocked");
    std::fs::create_dir_all(dir.join("00000001-2")).unwrap();
    let input3 = format!("{input}{}\n", server.url("/id/3"));
    let out = run(&["-q", "--ordered", "--output-dir", &arg(&dir)], &input3).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.lines[1]["error"]["kind"], "file", "{}", out.lines[1]);
    let message = out.lines[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("00000001-2"), "{message}");
    assert_eq!(out.lines[0]["status"], 200);
    assert_eq!(out.lines[2]["status"], 200);
    assert_eq!(names(&dir), ["00000000-1", "00000001-2", "00000002-3"]);
    assert!(dir.join("00000001-2").is_dir(), "left as it was");
    std::fs::remove_dir_all(&root).unwrap();
}

// `--max-filesize` bounds the files, announced (`Content-Length`) or
// counted as they are written (chunked); at the limit is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_filesize_refuses_larger_files_and_leaves_none() {
    let server = TestServer::start().await;
    let input = format!(
        "{}\n{}\n{}\n",
        server.url("/bytes/200000"),
        server.url("/bytes-chunked/200001"),
        server.url("/bytes/200000?again"),
    );
    let dir = fresh_dir("max-filesize");
    let out = run(
        &[
            "-q",
            "--ordered",
            "--max-filesize",
            "200000",
            "--output-dir",
            &arg(&dir),
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.lines[0]["bytes"], 200_000, "{}", out.lines[0]);
    assert_eq!(
        out.lines[1]["error"]["kind"], "body_too_large",
        "{}",
        out.lines[1]
    );
    assert!(out.lines[1].get("file").is_none(), "{}", out.lines[1]);
    assert_eq!(out.lines[2]["bytes"], 200_000, "{}", out.lines[2]);
    assert_eq!(
        names(&dir).len(),
        2,
        "{:?}: no file, no .part for the large one",
        names(&dir)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_flags_that_do_not_go_together_are_usage_errors() {
    for (args, says) in [
        (&["--continue"][..], "--output-dir"),
        (&["--checksum"][..], "--output-dir"),
        (&["--max-filesize", "1M"][..], "--output-dir"),
        (
            &["--body", "--output-dir", "/tmp"][..],
            "cannot be used with",
        ),
    ] {
        let out = run(args, "").await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

/// Waits for `child` (bounded by [`RUN_LIMIT`]), and returns its exit code
/// and its peak resident set in KiB: the kernel's own high-water mark
/// (`VmHWM` in /proc/PID/status), read every few milliseconds until the
/// process exits. The mark only grows, so the last reading misses at most
/// the last few milliseconds of the run (its exit, long after the body
/// was written), and no other test's child is counted.
fn wait_with_peak_rss(mut child: std::process::Child) -> (i32, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let started = Instant::now();
    let mut peak = 0;
    loop {
        // Read before reaping: a reaped process has no /proc entry, a
        // zombie no memory lines.
        if let Some(hwm) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            let code = status.code().expect("ended by a signal");
            assert!(peak > 0, "no VmHWM reading of the tool");
            return (code, peak);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("the tool did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_larger_than_max_body_goes_to_disk_in_bounded_memory() {
    const SIZE: usize = 64 << 20;
    let server = TestServer::start().await;
    let url = server.url(&format!("/bytes/{SIZE}"));

    // Read into memory, it is over --max-body (32M by default).
    let out = run(&["-q", "--retries", "0"], &format!("{url}\n")).await;
    assert_eq!(
        out.lines[0]["error"]["kind"], "body_too_large",
        "{:?}",
        out.lines
    );

    let dir = fresh_dir("large");
    let (stdin, mut file) = super::tempfile();
    std::io::Write::write_all(&mut file, format!("{url}\n").as_bytes()).unwrap();
    drop(file);
    let args = (stdin.clone(), dir.clone());
    let (code, peak_kib, stdout) = tokio::task::spawn_blocking(move || {
        let mut child = tool()
            .args(["-q", "--checksum", "--output-dir"])
            .arg(&args.1)
            .arg(&args.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // One line: it fits the pipe, read once the tool has ended.
        let stdout = child.stdout.take().unwrap();
        let (code, peak) = wait_with_peak_rss(child);
        (code, peak, std::io::read_to_string(stdout).unwrap())
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&stdin);
    assert_eq!(code, 0);
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["bytes"], SIZE as u64);
    let path = PathBuf::from(line["file"].as_str().unwrap());
    let written = std::fs::read(&path).unwrap();
    assert!(written == pattern(SIZE), "the file differs from the body");
    assert_eq!(line["sha256"], sha256_hex(&written));
    drop(written);

    // The body is 64 MiB; holding it once would put the peak above that.
    // The tool's own baseline (runtime, TLS roots, a debug build's
    // allocations) is some 10-20 MiB, and a download holds two 128 KiB
    // buffers: 48 MiB leaves room for a noisy allocator and none for the
    // body.
    eprintln!("peak RSS of a 64 MiB download: {peak_kib} KiB");
    assert!(
        peak_kib < 48 << 10,
        "peak RSS {peak_kib} KiB for a {SIZE}-byte body"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_keeps_finished_files_and_sends_nothing_for_them() {
    let server = TestServer::start().await;
    let mut input: String = (0..4)
        .map(|i| format!("{}\n", server.url(&format!("/bytes/{}", 1000 + i))))
        .collect();
    input.push_str(&format!("{}\n", server.url("/status/404")));
    let dir = fresh_dir("keep");
    let out = run(
        &["-q", "--retries", "0", "--output-dir", &arg(&dir)],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.stats().total_hits(), 5);

    // One file gone: only it is fetched again (and the 404, which has none).
    std::fs::remove_file(dir.join("00000002-1002")).unwrap();
    let out = run(
        &[
            "--ordered",
            "--retries",
            "0",
            "--continue",
            "--checksum",
            "--output-dir",
            &arg(&dir),
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.stats().total_hits(), 7, "no request for a kept file");
    assert_eq!(server.stats().hits("/bytes/1002"), 2);
    let indices: Vec<u64> = out
        .lines
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 1, 2, 3, 4], "kept lines keep their place");
    for (i, line) in out.lines[..4].iter().enumerate() {
        let path = PathBuf::from(line["file"].as_str().unwrap());
        let content = std::fs::read(&path).unwrap();
        assert!(content == pattern(1000 + i));
        assert_eq!(line["bytes"], 1000 + i as u64);
        assert_eq!(line["sha256"], sha256_hex(&content), "{line}");
        if i == 2 {
            assert_eq!(line["status"], 200);
            assert!(line.get("kept").is_none(), "{line}");
        } else {
            assert_eq!(line["kept"], true, "{line}");
            assert!(line["status"].is_null(), "no request: no status");
            assert_eq!(line["attempts"], 0);
            assert!(line["timings"].is_null());
        }
    }
    // The batch saw the 404 second, yet its message names its input.
    let message = out.lines[4]["error"]["message"].as_str().unwrap();
    assert!(message.contains("(input 4)"), "{message}");
    assert!(
        out.stderr
            .contains("inputs    5   ok 4   failed 1   kept 3"),
        "{}",
        out.stderr
    );

    // Without --continue, every file is fetched again and replaced.
    let out = run(
        &["-q", "--retries", "0", "--output-dir", &arg(&dir)],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(server.stats().total_hits(), 12);
    assert!(out.lines.iter().all(|l| l.get("kept").is_none()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_the_place_of_a_file_is_never_followed() {
    let server = FnServer::start(|seen: Seen| async move { reply(200, seen.path()) }).await;
    let root = fresh_dir("links");
    let dir = root.join("out");
    std::fs::create_dir(&dir).unwrap();
    let victim = root.join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    // At the partial file's path (and at its .meta's, which --continue
    // writes): refused, the input's error of kind "file", nothing sent.
    std::os::unix::fs::symlink(&victim, dir.join("00000001-b.part")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("00000002-c.part.meta")).unwrap();
    let input = format!(
        "{}\n{}\n{}\n{}\n",
        server.url("/a"),
        server.url("/b"),
        server.url("/c"),
        server.url("/d"),
    );
    for continued in [false, true] {
        // At the file's own path: the rename replaces the link itself
        // (and --continue does not take a link for a finished file).
        let a = dir.join("00000000-a");
        let _ = std::fs::remove_file(&a);
        std::os::unix::fs::symlink(&victim, &a).unwrap();
        let mut args = vec!["-q", "--ordered", "--output-dir"];
        let dir_arg = arg(&dir);
        args.push(&dir_arg);
        if continued {
            args.push("--continue");
        }
        let out = run(&args, &input).await;
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            std::fs::symlink_metadata(&a).unwrap().is_file(),
            "the link was replaced by the file"
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "/a");
        for refused in &out.lines[1..3] {
            assert_eq!(refused["error"]["kind"], "file", "{refused}");
            let message = refused["error"]["message"].as_str().unwrap();
            assert!(message.contains("not a plain file"), "{message}");
            assert!(refused["status"].is_null());
        }
        assert_eq!(out.lines[0]["status"], 200, "{}", out.lines[0]);
        if continued {
            assert_eq!(out.lines[3]["kept"], true, "{}", out.lines[3]);
        } else {
            assert_eq!(out.lines[3]["status"], 200, "{}", out.lines[3]);
        }
        assert!(!dir.join("00000001-b").exists());
        assert!(!dir.join("00000002-c").exists());
    }
    let sent: Vec<String> = server.stats().log().iter().map(Seen::path).collect();
    assert!(
        !sent.iter().any(|p| p == "/b" || p == "/c"),
        "no request for a refused input: {sent:?}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_downloads_come_out_in_input_order() {
    let server = TestServer::start().await;
    // Later inputs answer sooner, so completion order is reversed.
    let input: String = (0..6)
        .map(|i| {
            format!(
                "{}\n",
                server.url(&format!("/id/{i}?delay={}", (6 - i) * 40))
            )
        })
        .collect();
    let dir = fresh_dir("ordered");
    let out = run(
        &["-q", "--ordered", "-c", "6", "--output-dir", &arg(&dir)],
        &input,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let indices: Vec<u64> = out
        .lines
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, (0..6).collect::<Vec<_>>());
    let out = run(&["-q", "-c", "6", "--output-dir", &arg(&dir)], &input).await;
    let indices: Vec<u64> = out
        .lines
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_ne!(indices, (0..6).collect::<Vec<_>>(), "completion order");
    assert_eq!(by_index(&out.lines).len(), 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The body [`ranged_drip`] serves.
const DRIP_SIZE: usize = 1 << 20;
/// What it sends at once before it starts to drip.
const DRIP_HEAD: usize = 256 << 10;

/// A server of one resource of [`DRIP_SIZE`] bytes, with `Accept-Ranges`
/// and a strong `ETag`: a request for the whole of it gets
/// [`DRIP_HEAD`] bytes at once, then 1 KiB every 100 ms (minutes for the
/// rest); a `Range: bytes=N-` with the right `If-Range` gets the rest at
/// once, as a 206.
async fn ranged_drip() -> FnServer {
    FnServer::start(|seen: Seen| async move {
        let body = pattern(DRIP_SIZE);
        let from = seen
            .header("range")
            .and_then(|r| {
                r.strip_prefix("bytes=")?
                    .strip_suffix('-')?
                    .parse::<usize>()
                    .ok()
            })
            .filter(|_| seen.header("if-range").as_deref() == Some("\"v1\""));
        let response = match from {
            Some(from) if from < DRIP_SIZE => {
                let mut r = reply(206, Bytes::copy_from_slice(&body[from..]));
                r = with_header(
                    r,
                    "content-range",
                    &format!("bytes {from}-{}/{DRIP_SIZE}", DRIP_SIZE - 1),
                );
                r
            }
            _ => {
                let body = Bytes::from(body);
                let head = body.slice(..DRIP_HEAD);
                let rest = body.slice(DRIP_HEAD..);
                let drip =
                    futures_util::stream::unfold((Some(head), rest), |(head, rest)| async move {
                        if let Some(head) = head {
                            return Some((Ok::<_, Infallible>(Frame::data(head)), (None, rest)));
                        }
                        if rest.is_empty() {
                            return None;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let n = rest.len().min(1024);
                        Some((Ok(Frame::data(rest.slice(..n))), (None, rest.slice(n..))))
                    });
                let body: FnBody = StreamBody::new(drip).boxed_unsync();
                let mut r = http::Response::new(body);
                r.headers_mut()
                    .insert("content-length", http::HeaderValue::from(DRIP_SIZE));
                r
            }
        };
        let response = with_header(response, "accept-ranges", "bytes");
        with_header(response, "etag", "\"v1\"")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_with_continue_leaves_a_partial_file_the_next_run_resumes() {
    let server = ranged_drip().await;
    let dir = fresh_dir("resume");
    let url = server.url("/big.bin");
    let (input, mut file) = super::tempfile();
    std::io::Write::write_all(&mut file, format!("{url}\n").as_bytes()).unwrap();
    drop(file);
    let target = dir.join("00000000-big.bin");
    let part = dir.join("00000000-big.bin.part");

    let args = (input.clone(), dir.clone(), part.clone());
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        let child = tool()
            .args(["-q", "--continue", "--timeout", "5m", "--output-dir"])
            .arg(&args.1)
            .arg(&args.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The head is on disk, and the rest drips: stop it there.
        let started = Instant::now();
        while std::fs::metadata(&args.2).map_or(0, |m| m.len()) < DRIP_HEAD as u64 {
            assert!(
                started.elapsed() < RUN_LIMIT,
                "the head never reached the disk"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = interrupt(child);
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(code, Some(130), "{stdout}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["error"]["kind"], "cancelled", "{line}");
    let kept = std::fs::metadata(&part)
        .expect("the partial file is kept")
        .len();
    assert!(
        kept >= DRIP_HEAD as u64 && kept < DRIP_SIZE as u64,
        "{kept}"
    );
    assert!(dir.join("00000000-big.bin.part.meta").exists());
    assert!(!target.exists());

    let out = run(
        &[
            "-q",
            "--continue",
            "--checksum",
            "--output-dir",
            &arg(&dir),
            &arg(&input),
        ],
        "",
    )
    .await;
    let _ = std::fs::remove_file(&input);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = &out.lines[0];
    assert_eq!(line["resumed"], true, "{line}");
    assert_eq!(line["status"], 206);
    assert_eq!(line["bytes"], DRIP_SIZE as u64);
    let written = std::fs::read(&target).unwrap();
    assert!(written == pattern(DRIP_SIZE), "the file is whole and right");
    assert_eq!(line["sha256"], sha256_hex(&written));
    let log = server.stats().log();
    assert_eq!(log.len(), 2, "one request per run");
    assert_eq!(log[1].header("range"), Some(format!("bytes={kept}-")));
    assert_eq!(log[1].header("if-range").as_deref(), Some("\"v1\""));
    assert_eq!(names(&dir), ["00000000-big.bin"], "nothing left beside it");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_may_take_longer_than_timeout_while_its_bytes_keep_coming() {
    let server = TestServer::start().await;
    // Ten bytes 100 ms apart: a second, with a 300 ms --timeout.
    let input = format!("{}\n", server.url("/drip-body/10/100"));
    let dir = fresh_dir("read-timeout");
    let out = run(
        &[
            "--retries",
            "0",
            "--timeout",
            "300ms",
            "--output-dir",
            &arg(&dir),
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines[0]["bytes"], 10, "{}", out.lines[0]);

    // A body silent longer than --read-timeout fails, long before --timeout.
    let start = Instant::now();
    let out = run(
        &[
            "--retries",
            "0",
            "--read-timeout",
            "50ms",
            "--output-dir",
            &arg(&dir),
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.lines[0]["error"]["kind"], "timeout", "{}", out.lines[0]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
