//! `turnover`: batch-fetch beside `curl --parallel` against a real nginx
//! that recycles its connections (stock settings, `keepalive_requests` 100
//! and 10), over HTTPS with HTTP/2 by ALPN, h2c and HTTP/1.1, on loopback.
//!
//! Each client is its own process (`client-batch-fetch`, `curl`), the
//! runs interleave, and nginx's access log counts the requests it
//! processed, so a client that loses requests or sends them twice shows.
//! The table goes into BENCHMARKS.md between its `turnover` markers.
//!
//! `bash harness/turnover` builds everything in release mode and runs this.

#[allow(dead_code)]
#[path = "../../../tests/support/external.rs"]
mod external;
#[allow(dead_code)]
#[path = "../../../tests/support/nginx.rs"]
mod nginx;
#[allow(dead_code)]
#[path = "../../../tests/support/tls.rs"]
mod tls;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use batch_fetch_harness::{Report, Spread, WaitError, wait_bounded};
use clap::Parser;

use nginx::{Nginx, NginxSettings};
// What `nginx` expects of its parent module.
use tls::TestPki;

#[derive(Debug, Parser)]
#[command(about = "batch-fetch beside curl --parallel against nginx recycling its connections")]
struct Args {
    /// Interleaved runs of every case (medians need at least 3).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Cases shrunk tenfold and one run: checks the comparison works; its
    /// figures are not for quoting.
    #[arg(long)]
    quick: bool,
    /// The Markdown file the results go into (between its markers).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md"))]
    out: PathBuf,
}

const BEGIN: &str =
    "<!-- turnover:begin (written by `bash harness/turnover`; edits inside are lost) -->";
const END: &str = "<!-- turnover:end -->";

/// Which of nginx's listeners a case talks to.
#[derive(Clone, Copy, Debug)]
enum Listener {
    /// TLS, HTTP/2 by ALPN.
    Https,
    /// HTTP/2 over plain TCP, by prior knowledge.
    H2c,
    /// HTTP/1.1 over plain TCP.
    Http1,
}

/// One batch, as both clients run it.
struct Case {
    title: &'static str,
    keepalive_requests: Option<u32>,
    listener: Listener,
    n: usize,
    c: usize,
}

fn cases(quick: bool) -> Vec<Case> {
    let k = if quick { 10 } else { 1 };
    let h2 = Listener::Https;
    [
        (
            "stock nginx (GOAWAY after 1,000), h2",
            None,
            h2,
            20_000,
            250,
        ),
        ("keepalive_requests 100, h2", Some(100), h2, 10_000, 100),
        ("keepalive_requests 100, h2", Some(100), h2, 10_000, 20),
        (
            "keepalive_requests 100, h2c",
            Some(100),
            Listener::H2c,
            10_000,
            100,
        ),
        ("keepalive_requests 10, h2", Some(10), h2, 10_000, 100),
        (
            "keepalive_requests 10, HTTP/1.1",
            Some(10),
            Listener::Http1,
            10_000,
            100,
        ),
    ]
    .into_iter()
    .map(|(title, keepalive_requests, listener, n, c)| Case {
        title,
        keepalive_requests,
        listener,
        n: n / k,
        c,
    })
    .collect()
}

/// One client's run of one case.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    ok: usize,
    wall_s: f64,
    /// Requests nginx's access log shows for the run.
    processed: usize,
}

fn main() {
    let mut args = Args::parse();
    if args.quick {
        args.runs = 1;
    }
    let Some(probe) = Nginx::start("turnover", NginxSettings::default()) else {
        eprintln!("*** the turnover comparison did NOT run: no nginx (see above)");
        return;
    };
    drop(probe);
    let curl = batch_fetch_harness::installed("curl");
    if !curl {
        eprintln!("*** curl is not installed: the comparison runs without its curl column");
    }
    let bin = std::env::current_exe()
        .expect("the path of this program")
        .with_file_name("client-batch-fetch");
    let work = std::env::temp_dir().join(format!("batch-fetch-turnover-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a working directory");

    let cases = cases(args.quick);
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for case in &cases {
        let settings = NginxSettings {
            keepalive_requests: case.keepalive_requests,
            ..NginxSettings::default()
        };
        let nginx = Nginx::start("turnover", settings).expect("nginx started a moment ago");
        let ca_der = work.join("ca.der");
        let ca_pem = work.join("ca.pem");
        std::fs::write(&ca_der, nginx.ca_der()).expect("write the CA");
        std::fs::write(&ca_pem, nginx.ca_pem()).expect("write the CA");
        let base = match case.listener {
            Listener::Https => nginx.https_url(""),
            Listener::H2c => nginx.h2c_url(""),
            Listener::Http1 => nginx.http1_url(""),
        };
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for round in 0..args.runs {
            // The other client goes first every other round.
            let order = if round % 2 == 1 {
                ["curl", "batch-fetch"]
            } else {
                ["batch-fetch", "curl"]
            };
            for client in order {
                if client == "curl" && !curl {
                    continue;
                }
                nginx.clear_log();
                let result = if client == "curl" {
                    run_curl(&work, &ca_pem, case, &base)
                } else {
                    run_batch_fetch(&bin, &ca_der, case, &base)
                };
                match result {
                    Ok(mut sample) => {
                        // nginx writes its log line as it finishes a request.
                        std::thread::sleep(Duration::from_millis(200));
                        sample.processed = nginx.log().len();
                        eprintln!(
                            "round {round} {} C={} {client}: ok {}/{} wall {:.3} s, nginx processed {}",
                            case.title, case.c, sample.ok, case.n, sample.wall_s, sample.processed
                        );
                        // Only batch-fetch's shortfalls fail the run; curl's
                        // are shown (curl 7.88 fails h2c by prior knowledge
                        // on a reused connection: "Error in the HTTP2
                        // framing layer").
                        if sample.ok < case.n {
                            let short = format!(
                                "{} C={} {client}: {} of {} Ok",
                                case.title, case.c, sample.ok, case.n
                            );
                            if client == "curl" {
                                notes.push(short);
                            } else {
                                failures.push(short);
                            }
                        }
                        if client == "curl" {
                            theirs.push(sample)
                        } else {
                            ours.push(sample)
                        }
                    }
                    Err(e) => {
                        eprintln!("round {round} {} {client}: FAILED: {e}", case.title);
                        failures.push(format!("{} C={} {client}: {e}", case.title, case.c));
                    }
                }
            }
        }
        rows.push((case, ours, theirs));
    }
    let _ = std::fs::remove_dir_all(&work);

    let section = render(&args, &rows, curl, &failures, &notes);
    batch_fetch_harness::write_between(&args.out, BEGIN, END, &section);
    eprintln!("{section}");
    eprintln!("wrote {}", args.out.display());
    if !failures.is_empty() {
        eprintln!("{} run(s) fell short:", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

fn run_batch_fetch(bin: &Path, ca_der: &Path, case: &Case, base: &str) -> Result<Sample, String> {
    let mut cmd = Command::new(bin);
    cmd.args(["--base", base, "--path", "/r"])
        .args(["--n", &case.n.to_string(), "--c", &case.c.to_string()])
        .arg("--ca-der")
        .arg(ca_der);
    if matches!(case.listener, Listener::H2c) {
        cmd.arg("--h2c");
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let out = wait_bounded(child, Duration::from_secs(300))?;
    let report: Report = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("no report in {out:?}"))?;
    Ok(Sample {
        ok: report.ok,
        wall_s: report.wall_s,
        processed: 0,
    })
}

/// `curl --parallel --parallel-max C` over the same URLs, each response's
/// status written out to count the 200s.
fn run_curl(work: &Path, ca_pem: &Path, case: &Case, base: &str) -> Result<Sample, String> {
    let config = work.join("urls.cfg");
    let mut text = String::new();
    for i in 0..case.n {
        let _ = writeln!(text, "url = \"{base}/r?i={i}\"\noutput = \"/dev/null\"");
    }
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--parallel", "--parallel-max"])
        .arg(case.c.to_string())
        .args(["--max-time", "30", "--write-out", "%{http_code}\\n"])
        .arg("--cacert")
        .arg(ca_pem)
        .arg("--config")
        .arg(&config);
    match case.listener {
        Listener::Https => cmd.arg("--http2"),
        Listener::H2c => cmd.arg("--http2-prior-knowledge"),
        Listener::Http1 => cmd.arg("--http1.1"),
    };
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start curl: {e}"))?;
    // curl exits non-zero when any transfer failed; the count says how many.
    let out = match wait_bounded(child, Duration::from_secs(300)) {
        Ok(out) | Err(WaitError::Failed { stdout: out, .. }) => out,
        Err(e) => return Err(e.to_string()),
    };
    Ok(Sample {
        ok: out.lines().filter(|l| l.trim() == "200").count(),
        wall_s: started.elapsed().as_secs_f64(),
        processed: 0,
    })
}

/// The generated part of BENCHMARKS.md.
fn render(
    args: &Args,
    rows: &[(&Case, Vec<Sample>, Vec<Sample>)],
    curl: bool,
    failures: &[String],
    notes: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Connection turnover: batch-fetch beside curl against nginx\n\n\
         Debian's nginx ({}) on loopback with a CA made at run time, each \
         client its own process with default settings (`curl --parallel \
         --parallel-max C`), {} interleaved run(s){}; medians. \"nginx \
         processed\" is its access log's count for the run (at most the \
         inputs when nothing is sent twice).\n",
        nginx_version(),
        args.runs,
        if args.quick {
            " of the **quick** (shrunk) cases: not figures to quote"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "| batch | inputs | C | batch-fetch Ok | nginx processed | wall | curl Ok | nginx processed | wall | wall ÷ curl's |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for (case, ours, theirs) in rows {
        let cell = |samples: &[Sample]| -> (String, String, String, Option<f64>) {
            if samples.is_empty() {
                return ("–".into(), "–".into(), "–".into(), None);
            }
            let worst_ok = samples.iter().map(|s| s.ok).min().unwrap_or(0);
            let most = samples.iter().map(|s| s.processed).max().unwrap_or(0);
            let wall = Spread::of(samples.iter().map(|s| s.wall_s).collect()).map(|s| s.median);
            (
                format!("{worst_ok} (fewest)"),
                format!("{most} (most)"),
                wall.map_or("–".into(), |w| format!("{w:.2} s")),
                wall,
            )
        };
        let (ok, processed, wall, our_wall) = cell(ours);
        let (c_ok, c_processed, c_wall, their_wall) = cell(theirs);
        // A wall time is comparable only when every input came back Ok.
        let all_ok = |samples: &[Sample]| samples.iter().all(|s| s.ok == case.n);
        let ratio = match (our_wall, their_wall) {
            (Some(a), Some(b)) if b > 0.0 && all_ok(ours) && all_ok(theirs) => {
                format!("{:.2}×", a / b)
            }
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ok} | {processed} | {wall} | {c_ok} | {c_processed} | {c_wall} | {ratio} |",
            case.title, case.n, case.c
        );
    }
    if !curl {
        let _ = writeln!(out, "\ncurl was not installed: no curl column.");
    }
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "\ncurl fell short (curl {}; 7.88 fails h2c by prior knowledge once \
             it reuses a connection: \"Error in the HTTP2 framing layer\"):\n",
            curl_version()
        );
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nbatch-fetch runs that fell short:\n");
        for f in failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

fn curl_version() -> String {
    Command::new("curl")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "version unknown".to_owned())
}

fn nginx_version() -> String {
    let bin = std::env::var_os("BATCH_FETCH_NGINX").map_or_else(|| "nginx".into(), PathBuf::from);
    Command::new(&bin)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stderr).ok())
        .and_then(|s| s.trim().rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "version unknown".to_owned())
}
