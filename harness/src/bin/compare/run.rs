//! Running one measurement: a fresh target server, one client (or wrk)
//! against it, the server's counters read back, the server killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use batch_fetch_harness::{Report, wait_bounded};
use serde::Deserialize;

use crate::scenario::Scenario;

/// What the target server counted during one run.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct ServerStats {
    pub requests: u64,
    pub connections_total: u64,
    pub connections_peak: u64,
    pub in_flight_peak: u64,
}

/// One client's run of one scenario, with what the server saw.
#[derive(Clone, Debug)]
pub struct Sample {
    pub report: Report,
    pub server: ServerStats,
}

/// The harness's own binaries, built beside `compare`.
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    pub fn beside_this_one() -> Self {
        let exe = std::env::current_exe().expect("the path of this program");
        Binaries {
            dir: exe.parent().expect("a directory").to_owned(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// A target server process, killed on drop.
struct Target {
    child: Child,
    base: String,
}

impl Target {
    fn start(bin: &Path) -> Self {
        let mut child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the target's first line");
        let base = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line from target: {line:?}"))
            .to_owned();
        Target { child, base }
    }

    /// GET /stats over a plain socket (HTTP/1.0, so the server closes).
    fn stats(&self) -> ServerStats {
        let addr = self.base.trim_start_matches("http://");
        let read = || -> std::io::Result<String> {
            let mut sock = TcpStream::connect(addr)?;
            sock.set_read_timeout(Some(Duration::from_secs(10)))?;
            sock.write_all(b"GET /stats HTTP/1.0\r\nHost: target\r\n\r\n")?;
            let mut text = String::new();
            sock.read_to_string(&mut text)?;
            Ok(text)
        };
        match read() {
            Ok(text) => {
                let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
                let mut stats: ServerStats = serde_json::from_str(body).unwrap_or_else(|e| {
                    eprintln!("unreadable /stats ({e}): {text:?}");
                    ServerStats::default()
                });
                // Not the connection this request came on.
                stats.connections_total = stats.connections_total.saturating_sub(1);
                stats
            }
            Err(e) => {
                eprintln!("cannot read /stats: {e}");
                ServerStats::default()
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `client` once over `scenario` against a fresh server.
pub fn run_client(bins: &Binaries, client: &str, scenario: &Scenario) -> Result<Sample, String> {
    let target = Target::start(&bins.path("target"));
    let mut cmd = Command::new(bins.path(&format!("client-{client}")));
    cmd.arg("--base")
        .arg(&target.base)
        .arg("--path")
        .arg(&scenario.path)
        .arg("--n")
        .arg(scenario.n.to_string())
        .arg("--c")
        .arg(scenario.c.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if scenario.h2c {
        cmd.arg("--h2c");
    }
    if scenario.stream {
        cmd.arg("--stream");
    }
    if let Some(at) = scenario.rss_at {
        cmd.arg("--rss-at").arg(at.to_string());
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start client-{client}: {e}"))?;
    let out = wait_bounded(child, Duration::from_secs(600))?;
    let line = out.lines().last().unwrap_or("");
    let report: Report = serde_json::from_str(line)
        .map_err(|e| format!("client-{client} printed no report ({e}): {out:?}"))?;
    Ok(Sample {
        report,
        server: target.stats(),
    })
}

/// Whether wrk is on the PATH.
pub fn have_wrk() -> bool {
    batch_fetch_harness::installed("wrk")
}

/// Runs wrk over the scenario's path for `secs` seconds with the same
/// number of connections, and turns its rate into the wall time the
/// scenario's `n` requests would take at that rate (wrk runs for a
/// duration, not a count).
pub fn run_wrk(bins: &Binaries, scenario: &Scenario, secs: u64) -> Result<Sample, String> {
    let target = Target::start(&bins.path("target"));
    let url = format!("{}{}", target.base, scenario.path);
    // Under `rusage`, for wrk's CPU time: it reports none of its own.
    let child = Command::new(bins.path("rusage"))
        .args(["--limit", &(secs + 50).to_string(), "wrk"])
        .args(["-t2", &format!("-c{}", scenario.c), &format!("-d{secs}s")])
        .args(["--timeout", "10s", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start wrk: {e}"))?;
    let out = wait_bounded(child, Duration::from_secs(secs + 60))?;
    let field = |prefix: &str| -> Option<f64> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let rate = field("Requests/sec:").ok_or_else(|| format!("no rate in wrk's output: {out}"))?;
    let done = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let failed = field("Non-2xx or 3xx responses:").unwrap_or(0.0) as usize
        + out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Socket errors:"))
            .map(|v| {
                v.split(',')
                    .filter_map(|p| p.split_whitespace().nth(1)?.parse::<usize>().ok())
                    .sum()
            })
            .unwrap_or(0);
    let usage: batch_fetch_harness::ChildUsage = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("rusage printed no usage: {out:?}"))?;
    if usage.exit_code != Some(0) {
        return Err(format!("wrk failed: {usage:?}"));
    }
    let report = Report {
        client: "wrk".to_owned(),
        n: done,
        ok: done.saturating_sub(failed),
        errors: failed,
        wall_s: scenario.n as f64 / rate,
        // Its whole run: start-up and its last round included, against
        // the clients' requests only; a little against wrk.
        work_cpu_s: usage.user_s + usage.sys_s,
        ..Report::default()
    };
    Ok(Sample {
        report,
        server: target.stats(),
    })
}
