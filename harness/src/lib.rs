//! What the harness's programs share: the arguments every client takes, the
//! one JSON line every client prints, and how a process reads its own CPU
//! time and memory.
//!
//! Each client is its own process (`client-batch-fetch`, `client-reqwest`,
//! `client-hyper-util`), so its CPU time and peak RSS are its own; `compare`
//! starts a fresh `target` server for every run, runs one client against
//! it, and reads the server's counters afterwards.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The arguments every client takes (the same for all three).
#[derive(Clone, Debug, clap::Parser)]
pub struct ClientArgs {
    /// Where the target server listens, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub base: String,
    /// The path fetched, e.g. `/fast` or `/delay/100`: `{i}` in it is
    /// replaced by the request's index, and when it has none `?i={i}` is
    /// appended.
    #[arg(long)]
    pub path: String,
    /// How many requests.
    #[arg(long)]
    pub n: usize,
    /// At most this many in flight.
    #[arg(long)]
    pub c: usize,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout_s: f64,
    /// Speak HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1.
    #[arg(long)]
    pub h2c: bool,
    /// Stream results in completion order instead of gathering them in
    /// input order (batch-fetch: `fetch_stream`; the others:
    /// `buffer_unordered`), so memory need not grow with `n`.
    #[arg(long)]
    pub stream: bool,
    /// Also record the peak RSS once this many requests have completed
    /// (`peak_rss_at` in the report), e.g. 100000 in a 1,000,000 run.
    #[arg(long)]
    pub rss_at: Option<usize>,
    /// Trust this CA (a DER file) besides the web's roots, for a target
    /// with a certificate made at run time (batch-fetch's client only:
    /// the `turnover` comparison against nginx).
    #[arg(long)]
    pub ca_der: Option<std::path::PathBuf>,
    /// Download each response's body to a file in this directory, named
    /// by the request's index, instead of reading it into memory
    /// (batch-fetch's client only: the `downloads` comparison).
    #[arg(long)]
    pub download_dir: Option<std::path::PathBuf>,
}

impl ClientArgs {
    /// The URL of request `i`.
    pub fn url(&self, i: usize) -> String {
        if self.path.contains("{i}") {
            format!("{}{}", self.base, self.path.replace("{i}", &i.to_string()))
        } else {
            format!("{}{}?i={i}", self.base, self.path)
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s)
    }
}

/// The one JSON line a client prints on stdout when it is done.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// `batch-fetch`, `reqwest` or `hyper-util`.
    pub client: String,
    /// Requests asked for.
    pub n: usize,
    /// Responses with a 2xx status whose body was read whole.
    pub ok: usize,
    /// Everything else.
    pub errors: usize,
    /// The first error's text, if any.
    pub first_error: Option<String>,
    /// Wall time of the requests (client built before it starts), seconds.
    pub wall_s: f64,
    /// User CPU time of the whole process at the end, seconds.
    pub user_s: f64,
    /// System CPU time of the whole process at the end, seconds.
    pub sys_s: f64,
    /// User + system CPU time spent between just before the client was
    /// built and the last body read, seconds.
    pub work_cpu_s: f64,
    /// Resident set size just before the first request, KiB.
    pub rss_before_kib: u64,
    /// Peak resident set size of the process, KiB (VmHWM at the end).
    pub peak_rss_kib: u64,
    /// Peak RSS once `--rss-at` requests had completed, KiB.
    pub peak_rss_at_kib: Option<u64>,
}

/// CPU time of this process so far (user, system), from getrusage.
pub fn cpu_times() -> (f64, f64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage(RUSAGE_SELF)");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    (secs(usage.user_time()), secs(usage.system_time()))
}

/// What `rusage` prints, as its last line, about the one program it ran:
/// the kernel's account of that child (`getrusage(RUSAGE_CHILDREN)` in a
/// process with no other child).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChildUsage {
    /// The program's exit code; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// Whether `rusage` killed it for running past its limit.
    pub killed: bool,
    /// From just before it was started to its exit, seconds.
    pub wall_s: f64,
    /// User CPU time, seconds.
    pub user_s: f64,
    /// System CPU time, seconds.
    pub sys_s: f64,
    /// Peak resident set size, KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
}

/// CPU time and peak RSS of this process's waited-for children (user
/// seconds, system seconds, largest peak RSS in KiB), from getrusage.
pub fn children_usage() -> (f64, f64, u64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage(RUSAGE_CHILDREN)");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    (
        secs(usage.user_time()),
        secs(usage.system_time()),
        u64::try_from(usage.max_rss()).unwrap_or(0),
    )
}

// The examples' reader of /proc/self, so both read memory the same way.
#[path = "../../examples/support/process.rs"]
mod process;

/// Resident set size of this process (now, peak), KiB, from
/// /proc/self/status; zeros where it cannot be read.
pub fn rss_kib() -> (u64, u64) {
    process::memory().map_or((0, 0), |m| (m.now / 1024, m.peak / 1024))
}

/// Raises this process's open-file limit to its hard limit (10,000
/// connections need more than the usual 1,024).
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Counts a client's results as it goes, and fills in the report's
/// resource figures at the end. Every client uses it the same way:
/// `Tally::start` just before building its client, `record` per result,
/// `finish` after the last one.
#[derive(Debug)]
pub struct Tally {
    report: Report,
    rss_at: Option<usize>,
    started_cpu: f64,
    started: std::time::Instant,
    requests_started: Option<std::time::Instant>,
}

impl Tally {
    /// Starts the clock and the CPU count (call just before building the client).
    pub fn start(client: &str, args: &ClientArgs) -> Self {
        let (user, sys) = cpu_times();
        Tally {
            report: Report {
                client: client.to_owned(),
                n: args.n,
                ..Report::default()
            },
            rss_at: args.rss_at,
            started_cpu: user + sys,
            started: std::time::Instant::now(),
            requests_started: None,
        }
    }

    /// Marks the moment the first request goes (client built): the wall
    /// clock and the baseline RSS start here.
    pub fn requests_start(&mut self) {
        self.report.rss_before_kib = rss_kib().0;
        self.requests_started = Some(std::time::Instant::now());
    }

    /// Records one result: `Ok(())` for a 2xx whose body was read whole.
    pub fn record(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.report.ok += 1,
            Err(e) => {
                self.report.errors += 1;
                self.report.first_error.get_or_insert(e);
            }
        }
        if Some(self.report.ok + self.report.errors) == self.rss_at {
            self.report.peak_rss_at_kib = Some(rss_kib().1);
        }
    }

    /// Fills in the wall time, CPU and memory figures, and prints the JSON line.
    pub fn finish(mut self) -> Report {
        let began = self.requests_started.unwrap_or(self.started);
        self.report.wall_s = began.elapsed().as_secs_f64();
        let (user, sys) = cpu_times();
        self.report.work_cpu_s = user + sys - self.started_cpu;
        self.report.user_s = user;
        self.report.sys_s = sys;
        self.report.peak_rss_kib = rss_kib().1;
        println!(
            "{}",
            serde_json::to_string(&self.report).expect("a report serializes")
        );
        self.report
    }
}

/// What every client's `main` does: parse the arguments, raise the
/// open-file limit, and run `client` on a multi-thread Tokio runtime with
/// the default worker count (as `#[tokio::main]` would).
pub fn client_main<F>(client: impl FnOnce(ClientArgs) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let args = <ClientArgs as clap::Parser>::parse();
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(client(args));
}

/// Writes `section` into the Markdown file at `path` between the lines
/// `begin` and `end`, replacing what was there, or appends the markers and
/// the section when the file has none; the rest of the file is kept.
pub fn write_between(path: &std::path::Path, begin: &str, end: &str, section: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    let block = format!("{begin}\n{section}{end}\n");
    let new = match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if b < e => {
            let rest = old[e + end.len()..].trim_start_matches('\n');
            let gap = if rest.is_empty() { "" } else { "\n" };
            format!("{}{block}{gap}{rest}", &old[..b])
        }
        _ => format!("{}\n{block}", old.trim_end()),
    };
    std::fs::write(path, new).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A median with the range it came from.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The median and range of `values` (non-finite ones left out), or
    /// `None` if none is left.
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[values.len() - 1],
        })
    }

    /// `median (min–max)` with `decimals` places, or the median alone when
    /// all were equal.
    pub fn show(self, decimals: usize) -> String {
        if self.min == self.max {
            format!("{:.*}", decimals, self.median)
        } else {
            format!(
                "{:.*} ({:.*}–{:.*})",
                decimals, self.median, decimals, self.min, decimals, self.max
            )
        }
    }
}

/// Whether `program` can be run (it answers `--version`, whatever its
/// exit status: wrk's is 1).
pub fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// How a child run by [`wait_bounded`] ended, when not with success.
#[derive(Debug)]
pub enum WaitError {
    /// It exited non-zero, having written `stdout`.
    Failed {
        status: std::process::ExitStatus,
        stdout: String,
    },
    /// It ran past its limit and was killed, or could not be waited for.
    Other(String),
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::Failed { status, .. } => write!(f, "exited with {status}"),
            WaitError::Other(e) => f.write_str(e),
        }
    }
}

impl From<WaitError> for String {
    fn from(e: WaitError) -> String {
        e.to_string()
    }
}

/// Waits for a child whose stdout is piped, killing it after `limit`;
/// what it wrote on stdout.
pub fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Result<String, WaitError> {
    use std::io::Read as _;
    let mut stdout = child.stdout.take().expect("piped stdout");
    // Read stdout on a thread so a chatty child never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let stdout = reader.join().unwrap_or_default();
                return if status.success() {
                    Ok(stdout)
                } else {
                    Err(WaitError::Failed { status, stdout })
                };
            }
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(WaitError::Other(format!("killed after {limit:?}")));
            }
            Err(e) => return Err(WaitError::Other(e.to_string())),
        }
    }
}

/// The built client, or exit status 2 with the reason on stderr.
pub fn built<T, E: std::fmt::Display>(name: &str, client: Result<T, E>) -> T {
    client.unwrap_or_else(|e| {
        eprintln!("{name}: cannot build the client: {e}");
        std::process::exit(2);
    })
}
