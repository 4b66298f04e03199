//! The `batch-fetch` command-line tool, run as a process against loopback
//! servers (the library's test servers, shared by path).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use support::TestServer;
use support::fn_server::{FnServer, reply, with_header};

#[path = "cli/back_pressure.rs"]
mod back_pressure;
#[path = "cli/downloads.rs"]
mod downloads;
#[path = "cli/exit_paths.rs"]
mod exit_paths;
#[path = "cli/secrets.rs"]
mod secrets;
#[path = "cli/shard.rs"]
mod shard;
#[path = "cli/tls.rs"]
mod tls;

/// Every run is bounded; a hung tool fails the test instead of the suite.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The proxy variables the tool would read: removed, so that the tests do
/// not depend on the machine's.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// The built tool, with no proxy from the environment.
fn tool() -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("batch-fetch"));
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command
}

/// What one run of the tool did.
struct Run {
    code: i32,
    lines: Vec<Value>,
    stderr: String,
}

/// Runs the tool with `args`, `stdin` as its input, off the runtime's
/// threads (the test's servers run on them).
async fn run(args: &[&str], stdin: &str) -> Run {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::cargo_bin("batch-fetch").unwrap();
        for var in PROXY_VARS {
            command.env_remove(var);
        }
        let out = command
            .args(&args)
            .write_stdin(stdin)
            .timeout(RUN_LIMIT)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        Run {
            code: out.status.code().expect("the tool ended by a signal"),
            lines: stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// Sends the running tool SIGINT (as Ctrl-C does) and waits for it to
/// end, within [`RUN_LIMIT`]; its output.
fn interrupt(child: std::process::Child) -> std::process::Output {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    rx.recv_timeout(RUN_LIMIT)
        .expect("the tool did not stop")
        .unwrap()
}

fn by_index(lines: &[Value]) -> Vec<Value> {
    let mut sorted = lines.to_vec();
    sorted.sort_by_key(|l| l["index"].as_u64().unwrap());
    sorted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_input_gets_one_line_and_bad_lines_name_their_number() {
    let server = TestServer::start().await;
    let input = format!(
        "# a comment, then a blank line\n\n{}\n{}\n{{\"url\":\"{}\",\"method\":\"PUT\",\"body\":\"hi\"}}\n{{not json\nftp://example.test/\n",
        server.url("/id/1"),
        server.url("/status/404"),
        server.url("/echo"),
    );
    let out = run(&["--retries", "0"], &input).await;

    assert_eq!(
        out.code, 1,
        "a 404 and bad lines are failures: {}",
        out.stderr
    );
    let lines = by_index(&out.lines);
    assert_eq!(lines.len(), 5, "{:?}", out.lines);
    let lines_no: Vec<u64> = lines.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines_no, [3, 4, 5, 6, 7]);

    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["bytes"], 1);
    assert_eq!(lines[0]["attempts"], 1);
    assert_eq!(lines[0]["url"], server.url("/id/1"));
    assert_eq!(lines[0]["final_url"], server.url("/id/1"));
    assert!(lines[0]["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    assert!(lines[0]["error"].is_null());

    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[2]["status"], 200, "the JSON line's PUT");
    assert_eq!(
        server
            .stats()
            .log()
            .iter()
            .filter(|h| h.method == "PUT")
            .count(),
        1
    );

    assert_eq!(lines[3]["error"]["kind"], "invalid_request");
    let message = lines[3]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 6: not a valid JSON input"),
        "{message}"
    );
    assert_eq!(lines[4]["error"]["kind"], "invalid_request");
    assert!(
        lines[4]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not http or https")
    );

    // The summary on stderr.
    assert!(
        out.stderr.contains("inputs    5   ok 2   failed 3"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("status: 200 ×2, 404 ×1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("errors: invalid request ×2"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("latency: p50"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_lines_are_errors_of_their_own() {
    let server = TestServer::start().await;
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(format!("{}\r\n", server.url("/id/1")).as_bytes());
    input.extend_from_slice(b"http://example.test/caf\xe9\n");
    input.extend_from_slice(&vec![b'x'; (1 << 20) + 10]);
    input.extend_from_slice(b"\n");
    input.extend_from_slice(format!("{}\n", server.url("/id/2")).as_bytes());
    let (path, mut file) = tempfile();
    file.write_all(&input).unwrap();
    drop(file);
    let out = run(&["-q", "--ordered", path.to_str().unwrap()], "").await;
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.lines.len(), 4, "{:?}", out.lines);
    assert_eq!(out.lines[0]["status"], 200, "CRLF line endings are fine");
    let message = |i: usize| {
        out.lines[i]["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(message(1).contains("line 2: not UTF-8"), "{}", message(1));
    assert!(message(2).contains("line 3: longer than"), "{}", message(2));
    assert_eq!(out.lines[3]["status"], 200, "the batch went on");
    assert_eq!(out.lines[3]["line"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_status_follows_failures_unless_allowed() {
    let server = TestServer::start().await;
    let ok = format!("{}\n{}\n", server.url("/id/1"), server.url("/id/2"));
    let out = run(&["-q"], &ok).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines.len(), 2);
    assert_eq!(out.stderr, "", "-q writes nothing to stderr");

    let failing = format!(
        "{}\nhttp://127.0.0.1:{}/refused\n",
        server.url("/id/1"),
        support::closed_port()
    );
    let out = run(&["-q", "--retries", "0"], &failing).await;
    assert_eq!(out.code, 1);
    let refused = out.lines.iter().find(|l| l["index"] == 1).unwrap();
    assert_eq!(refused["error"]["kind"], "connect");
    let out = run(&["-q", "--retries", "0", "--allow-failures"], &failing).await;
    assert_eq!(out.code, 0);
    assert_eq!(out.lines.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_output_is_in_input_order() {
    let server = TestServer::start().await;
    // Later inputs answer sooner, so completion order is reversed.
    let input: String = (0..8)
        .map(|i| {
            format!(
                "{}\n",
                server.url(&format!("/id/{i}?delay={}", (8 - i) * 40))
            )
        })
        .collect();
    let out = run(&["-q", "--ordered", "-c", "8"], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let indices: Vec<u64> = out
        .lines
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, (0..8).collect::<Vec<_>>());

    let out = run(&["-q", "-c", "8"], &input).await;
    let indices: Vec<u64> = out
        .lines
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices.len(), 8);
    assert_ne!(indices, (0..8).collect::<Vec<_>>(), "completion order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_user_agent_and_resolve_reach_the_server() {
    let server = FnServer::start(|_| async { reply(200, "ok") }).await;
    let url = format!("http://cli.example.test:{}/a", server.port());
    let resolve = format!("cli.example.test:{}:127.0.0.1", server.port());
    let out = run(
        &[
            "-q",
            "--resolve",
            &resolve,
            "-H",
            "X-Token: abc",
            "-H",
            "Accept: text/plain",
            "-A",
            "cli-test/1",
        ],
        &format!("{url}\n"),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = server.stats().log();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-token").as_deref(), Some("abc"));
    assert_eq!(seen[0].header("accept").as_deref(), Some("text/plain"));
    assert_eq!(seen[0].header("user-agent").as_deref(), Some("cli-test/1"));
    assert_eq!(
        seen[0].header("host"),
        Some(format!("cli.example.test:{}", server.port()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_stops_at_the_first_failure() {
    let server = TestServer::start().await;
    let mut input = format!("http://127.0.0.1:{}/refused\n", support::closed_port());
    for i in 0..50 {
        input.push_str(&format!("{}\n", server.url(&format!("/id/{i}?delay=200"))));
    }
    let out = run(&["--retries", "0", "--fail-fast", "-c", "2"], &input).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.lines.len(),
        1,
        "only the refused input: {:?}",
        out.lines
    );
    assert!(out.lines.iter().any(|l| l["error"]["kind"] == "connect"));
    assert!(out.stderr.contains("--fail-fast"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_argument_is_read_like_stdin() {
    let server = TestServer::start().await;
    let mut file = tempfile();
    writeln!(file.1, "{}", server.url("/id/7")).unwrap();
    let path = file.0.to_str().unwrap().to_owned();
    let out = run(&["-q", &path], "").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines.len(), 1);
    assert_eq!(out.lines[0]["bytes"], 1);
    drop(file.1);
    let _ = std::fs::remove_file(&file.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_with_one_line() {
    for (args, says) in [
        (&["/no/such/file"][..], "cannot open /no/such/file"),
        (&["--rate", "fast"][..], "not a rate"),
        (&["--timeout", "5 fortnights"][..], "unknown unit"),
        (&["-H", "no colon"][..], "not a header"),
        (&["--resolve", "host-only"][..], "not HOST:PORT:ADDR"),
        (
            &["--http1-only", "--http2-prior-knowledge"][..],
            "cannot be used with",
        ),
        (&["--concurrency", "0"][..], "concurrency"),
        (
            &["--retry-base", "5s", "--retry-max", "1s"][..],
            "max_delay",
        ),
    ] {
        let out = run(args, "").await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(out.lines.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_dir_never_writes_outside_it() {
    // Every answer names a path-traversing file in its headers, and
    // echoes the request path as its body.
    let server = FnServer::start(|seen| async move {
        let body = seen.path();
        with_header(
            reply(200, body),
            "content-disposition",
            "attachment; filename=\"../../escaped.txt\"",
        )
    })
    .await;
    let root = std::env::temp_dir().join(format!("batch-fetch-cli-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("bodies");
    let paths = [
        "/plain.txt",
        "/../../escaped.txt",
        "/a/..%2F..%2Fescaped.txt",
        "/%2e%2e",
        "/.hidden",
        "/dir/%2Fabs%2Fpath",
        "/back%5Cslash",
        "/",
    ];
    let input: String = paths
        .iter()
        .map(|p| format!("{}\n", server.url(p)))
        .collect();
    let dir_arg = dir.to_str().unwrap().to_owned();
    let out = run(&["-q", "--ordered", "--output-dir", &dir_arg], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines.len(), paths.len());

    // Exactly one file per input, all directly in DIR, and nothing else
    // anywhere under the root.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            assert!(e.file_type().unwrap().is_file());
            e.file_name().into_string().unwrap()
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), paths.len(), "{names:?}");
    let under_root: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(under_root, ["bodies"], "nothing beside DIR");
    assert!(!std::env::temp_dir().join("escaped.txt").exists());
    for name in &names {
        assert!(
            !name.starts_with('.') && !name.contains('/') && !name.contains('\\'),
            "{name}"
        );
    }

    // Each line names its file, which holds that input's body.
    for line in &out.lines {
        let file = std::path::PathBuf::from(line["file"].as_str().unwrap());
        assert_eq!(file.parent().unwrap(), dir);
        let body = std::fs::read_to_string(&file).unwrap();
        let url = line["final_url"].as_str().unwrap();
        assert!(url.ends_with(&body), "{url} vs {body}");
    }
    assert!(
        names.contains(&"00000000-plain.txt".to_owned()),
        "{names:?}"
    );

    // A second run replaces the files; a symbolic link in a file's place is
    // replaced, not followed (see also downloads.rs).
    let target = root.join("target.txt");
    std::fs::write(&target, "keep").unwrap();
    let first = dir.join(&names[0]);
    std::fs::remove_file(&first).unwrap();
    std::os::unix::fs::symlink(&target, &first).unwrap();
    let out = run(&["-q", "--ordered", "--output-dir", &dir_arg], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(std::fs::symlink_metadata(&first).unwrap().is_file());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_goes_into_the_line_as_text_or_base64() {
    let server = TestServer::start().await;
    let input = format!(
        "{}\n{}\n",
        server.url("/id/42"),
        server.url("/invalid-utf8")
    );
    let out = run(&["-q", "--ordered", "--body"], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines[0]["body"], "42");
    assert_eq!(out.lines[0]["body_encoding"], "utf-8");
    assert_eq!(out.lines[1]["body_encoding"], "base64");
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(out.lines[1]["body"].as_str().unwrap())
        .unwrap();
    assert!(std::str::from_utf8(&raw).is_err());
    assert_eq!(raw.len() as u64, out.lines[1]["bytes"].as_u64().unwrap());

    // Without --body, no body field.
    let out = run(&["-q"], &input).await;
    assert!(out.lines.iter().all(|l| l.get("body").is_none()));
}

/// A fresh file under the system's temporary directory.
fn tempfile() -> (std::path::PathBuf, std::fs::File) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("batch-fetch-cli-{}-{n}.txt", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

/// The peak resident set of a running process, read from /proc until it
/// ends; and its exit status.
fn peak_rss_kib(mut child: std::process::Child) -> (u64, std::process::ExitStatus) {
    let status_path = format!("/proc/{}/status", child.id());
    let started = std::time::Instant::now();
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            for line in text.lines() {
                if let Some(kib) = line.strip_prefix("VmHWM:") {
                    let kib = kib.trim().trim_end_matches("kB").trim();
                    peak = peak.max(kib.parse().unwrap_or(0));
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        assert!(started.elapsed() < RUN_LIMIT * 2, "the tool did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the tool over `n` input lines (one in a hundred a real request, the
/// rest lines it rejects without the network), output discarded; returns
/// its peak RSS.
async fn streamed_peak(server: &TestServer, n: usize) -> u64 {
    let (path, file) = tempfile();
    let mut file = std::io::BufWriter::new(file);
    for i in 0..n {
        if i % 100 == 0 {
            writeln!(file, "{}", server.url(&format!("/id/{i}"))).unwrap();
        } else {
            writeln!(file, "ftp://example.test/{i}").unwrap();
        }
    }
    drop(file);
    let arg = path.clone();
    let (peak, status) = tokio::task::spawn_blocking(move || {
        let child = tool()
            .args(["-q", "--allow-failures", "-c", "50"])
            .arg(&arg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        peak_rss_kib(child)
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(status.success(), "{status}");
    peak
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_input_is_streamed_in_bounded_memory() {
    let server = TestServer::start().await;
    let small = streamed_peak(&server, 20_000).await;
    let large = streamed_peak(&server, 200_000).await;
    assert_eq!(server.stats().hits_prefix("/id/"), 200 + 2_000);
    // Ten times the lines may not take much more memory: nothing is kept
    // per input once its line is written.
    eprintln!("peak RSS: {small} KiB for 20,000 lines, {large} KiB for 200,000");
    assert!(
        large < small + small / 2,
        "peak RSS {small} KiB for 20,000 lines, {large} KiB for 200,000"
    );
}

/// The parts of a report page the tests look at.
struct Page {
    html: String,
}

impl Page {
    fn read(path: &std::path::Path) -> Page {
        Page {
            html: std::fs::read_to_string(path).unwrap(),
        }
    }

    /// The waterfall's rows.
    fn rows(&self) -> usize {
        self.html.matches("<g class=\"row\">").count()
    }

    /// The tooltip of the row of input `index`.
    fn row_title(&self, index: usize) -> &str {
        let start = self
            .html
            .find(&format!("<g class=\"row\"><title>#{index} "))
            .unwrap_or_else(|| panic!("no row for input {index}"));
        let rest = &self.html[start..];
        &rest[..rest.find("</title>").unwrap()]
    }

    /// The segments (by phase) of the row of input `index`, in order.
    fn row_phases(&self, index: usize) -> Vec<&str> {
        let start = self
            .html
            .find(&format!("<g class=\"row\"><title>#{index} "))
            .unwrap();
        let rest = &self.html[start..];
        let row = &rest[..rest.find("</g>").unwrap()];
        row.split("<rect class=\"")
            .skip(1)
            .map(|r| &r[..r.find('"').unwrap()])
            .filter(|&class| class != "hit")
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_draws_every_input_its_retries_and_escapes_what_it_shows() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let server = FnServer::start(move |seen| {
        let hits = hits.clone();
        async move {
            match seen.path().as_str() {
                "/flaky" if hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 => {
                    reply(503, "busy")
                }
                "/missing" => reply(404, "no"),
                "/moved" => with_header(reply(302, ""), "location", "/ok"),
                _ => reply(200, "hello"),
            }
        }
    })
    .await;
    let (report, _) = tempfile();
    let input = format!(
        "{}\n{}\n{}\n{}\n{{\"url\":\"http://x.test/<script>alert(1)</script>\"}}\nhttp://127.0.0.1:{}/refused\n",
        server.url("/ok"),
        server.url("/flaky"),
        server.url("/missing"),
        server.url("/moved"),
        support::closed_port(),
    );
    let out = run(
        &[
            "-q",
            "--retries",
            "1",
            "--retry-base",
            "10ms",
            "--ordered",
            "--report",
            report.to_str().unwrap(),
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.lines.len(), 6);
    let page = Page::read(&report);

    assert!(page.html.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.rows(), 6, "one waterfall row per input");
    assert!(page.html.contains("<body data-rows=\"6\">"));
    assert!(page.html.contains("Every input (6)"));
    assert!(!page.html.contains("sample of"));

    // The first input: sent once, answered.
    let phases = page.row_phases(0);
    assert!(
        phases.ends_with(&["waiting", "receiving"]) || phases.ends_with(&["waiting"]),
        "{phases:?}"
    );
    assert!(
        page.row_title(0).contains("200 OK in "),
        "{}",
        page.row_title(0)
    );
    // The flaky one: an attempt retried after its 503, a backoff, then the
    // one that answered.
    let phases = page.row_phases(1);
    let retried = phases
        .iter()
        .position(|&p| p == "retried")
        .expect("a retried attempt");
    assert_eq!(phases[retried + 1], "backoff", "{phases:?}");
    assert_eq!(phases.last(), Some(&"receiving"), "{phases:?}");
    assert!(
        page.row_title(1).contains("retried after 503"),
        "{}",
        page.row_title(1)
    );
    assert!(page.row_title(1).contains("2 attempts"));
    // The redirect: a hop, then the answer.
    assert_eq!(
        page.row_phases(3).iter().filter(|&&p| p == "hop").count(),
        1
    );
    // Refused: two attempts, the last one failed.
    let phases = page.row_phases(5);
    assert_eq!(phases.last(), Some(&"failed"), "{phases:?}");
    assert!(
        page.row_title(5).contains("connect in"),
        "{}",
        page.row_title(5)
    );

    // The status breakdown and the failures table.
    assert!(page.html.contains("<td>404</td><td>Not Found</td>"));
    assert!(page.html.contains("<td>connect</td><td>error</td>"));
    assert!(page.html.contains("Failed inputs (the first 3 of 3)"));
    assert!(page.html.contains("status 404"));

    // Nothing from the run is markup, and nothing is fetched from elsewhere.
    assert!(!page.html.contains("<script>alert"));
    assert!(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for outside in ["<script src", "<link", "@import", "url(", "<img", "<iframe"] {
        assert!(!page.html.contains(outside), "{outside}");
    }
    // The one script is allowed by its hash, and only it.
    let script = {
        let start = page.html.rfind("<script>").unwrap() + "<script>".len();
        &page.html[start..start + page.html[start..].find("</script>").unwrap()]
    };
    let hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        ring::digest::digest(&ring::digest::SHA256, script.as_bytes()),
    );
    assert!(
        page.html.contains(&format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'"
        )),
        "the Content-Security-Policy names the script's hash"
    );
    let _ = std::fs::remove_file(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_samples_past_its_row_limit_and_counts_everything_else() {
    let server = TestServer::start().await;
    let input: String = (0..60)
        .map(|i| format!("{}\n", server.url(&format!("/id/{i}"))))
        .collect();
    let (report, _) = tempfile();
    let out = run(
        &[
            "-q",
            "--report",
            report.to_str().unwrap(),
            "--report-rows",
            "10",
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines.len(), 60);
    let page = Page::read(&report);
    assert_eq!(page.rows(), 10);
    assert!(page.html.contains("<body data-rows=\"10\">"));
    assert!(
        page.html
            .contains("A uniform random sample of 10 of the 60 inputs"),
        "the page says it is a sample"
    );
    // The cards and the breakdown count all 60.
    assert!(page.html.contains("<b>60</b><span>inputs</span>"));
    assert!(
        page.html
            .contains("<td>200</td><td>OK</td><td class=\"n\">60</td>")
    );
    // The histogram's bars add up to all 60.
    let in_bars: u64 = page
        .html
        .split("<g class=\"bar\"><title>")
        .skip(1)
        .map(|bar| {
            let title = &bar[..bar.find("</title>").unwrap()];
            let first = title.lines().next().unwrap();
            first
                .rsplit(": ")
                .next()
                .unwrap()
                .replace(',', "")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(in_bars, 60);
    let _ = std::fs::remove_file(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_cannot_be_written_is_a_usage_error_before_any_request() {
    let server = TestServer::start().await;
    let out = run(
        &["--report", "/nonexistent-dir/report.html"],
        &format!("{}\n", server.url("/id/1")),
    )
    .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot write the report /nonexistent-dir/report.html"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(server.stats().log().len(), 0, "nothing was fetched");
}

/// A server whose every answer takes `delay`, counting the requests that
/// reached it.
async fn slow_server(
    delay: Duration,
) -> (FnServer, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let arrived = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = arrived.clone();
    let server = FnServer::start(move |_| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            tokio::time::sleep(delay).await;
            reply(200, "late")
        }
    })
    .await;
    (server, arrived)
}

/// The `N` of "nothing after the first N inputs was sent".
fn inputs_sent(stderr: &str) -> usize {
    let (_, rest) = stderr
        .split_once("nothing after the first ")
        .unwrap_or_else(|| panic!("no count of inputs sent: {stderr}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_cancels_what_is_under_way_and_sends_nothing_after() {
    let (server, arrived) = slow_server(Duration::from_secs(20)).await;
    let input: String = (0..40)
        .map(|i| format!("{}\n", server.url(&format!("/{i}"))))
        .collect();
    let out = run(&["-c", "4", "--timeout", "30s", "--deadline", "1s"], &input).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("stopped at the --deadline of 1s: 4 requests under way were cancelled"),
        "{}",
        out.stderr
    );
    // Every input the batch took has its line, and no other input was sent.
    let sent = inputs_sent(&out.stderr);
    assert!((4..40).contains(&sent), "{sent} inputs taken");
    assert_eq!(out.lines.len(), sent, "{:?}", out.lines);
    assert!(
        out.lines.iter().all(|l| l["error"]["kind"] == "cancelled"),
        "{:?}",
        out.lines
    );
    assert_eq!(arrived.load(std::sync::atomic::Ordering::SeqCst), 4);

    // A deadline that does not pass changes nothing.
    let quick = TestServer::start().await;
    let input: String = (0..5)
        .map(|i| format!("{}\n", quick.url(&format!("/id/{i}"))))
        .collect();
    let out = run(&["--deadline", "30s"], &input).await;
    assert_eq!((out.code, out.lines.len()), (0, 5), "{}", out.stderr);
    assert!(!out.stderr.contains("deadline"), "{}", out.stderr);

    // Every input started, some cut off: each has its line; with
    // --allow-failures that is status 0.
    let input: String = (0..3)
        .map(|i| format!("{}\n", server.url(&format!("/all/{i}"))))
        .collect();
    let out = run(&["--deadline", "300ms", "--allow-failures"], &input).await;
    assert_eq!((out.code, out.lines.len()), (0, 3), "{}", out.stderr);
    assert!(
        out.stderr.contains("every input had been started"),
        "{}",
        out.stderr
    );

    let out = run(&["--deadline", "0s"], &input).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--deadline must be longer than zero"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_what_is_under_way_and_still_writes_the_summary_and_report() {
    let (server, arrived) = slow_server(Duration::from_secs(20)).await;
    let (input, mut file) = tempfile();
    for i in 0..40 {
        writeln!(file, "{}", server.url(&format!("/{i}"))).unwrap();
    }
    drop(file);
    let (report, _) = tempfile();
    let args = (input.clone(), report.clone());
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let child = tool()
            .args(["-c", "4", "--timeout", "30s", "--report"])
            .arg(&args.1)
            .arg(&args.0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while arrived.load(std::sync::atomic::Ordering::SeqCst) < 4 {
            assert!(started.elapsed() < RUN_LIMIT, "the requests never arrived");
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = interrupt(child);
        (
            out.status,
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), inputs_sent(&stderr), "{stdout}");
    assert!(lines.len() >= 4, "{stdout}");
    assert!(
        lines.iter().all(|l| l["error"]["kind"] == "cancelled"),
        "{stdout}"
    );
    assert!(
        stderr.contains("interrupted (Ctrl-C): 4 requests under way were cancelled"),
        "{stderr}"
    );
    assert!(
        stderr.contains("errors: request cancelled ×4"),
        "the summary is written: {stderr}"
    );
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.contains("interrupted (Ctrl-C)"),
        "the report says why it stopped"
    );
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_short_does_not_wait_for_stdin_to_close() {
    let refused = format!("http://127.0.0.1:{}/refused\n", support::closed_port());
    for args in [&["--fail-fast"][..], &["--deadline", "500ms"][..]] {
        let (args, line) = (args.to_vec(), refused.clone());
        let status = tokio::task::spawn_blocking(move || {
            let mut child = tool()
                .args(["-q", "--retries", "0"])
                .args(&args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // One line, and stdin stays open: a reader still waits on it.
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(line.as_bytes()).unwrap();
            stdin.flush().unwrap();
            let started = std::time::Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Some(status);
                }
                if started.elapsed() > Duration::from_secs(20) {
                    let _ = child.kill();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            drop(stdin);
            (args, status)
        })
        .await
        .unwrap();
        assert_eq!(
            status.1.and_then(|s| s.code()),
            Some(1),
            "{:?} waited for stdin",
            status.0
        );
    }
}
