//! The three downloaders and the command line each gets: the same URLs,
//! the same target files (`DIR/<index>`), the same number in flight, one
//! connection per file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cases::Case;

/// A downloader under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    BatchFetch,
    Aria2,
    Curl,
}

impl Client {
    pub const ALL: [Client; 3] = [Client::BatchFetch, Client::Aria2, Client::Curl];

    pub fn name(self) -> &'static str {
        match self {
            Client::BatchFetch => "batch-fetch",
            Client::Aria2 => "aria2",
            Client::Curl => "curl",
        }
    }

    pub fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the program is there to run.
    pub fn available(self, bins: &Path) -> bool {
        match self {
            Client::BatchFetch => bins.join("client-batch-fetch").is_file(),
            Client::Aria2 => batch_fetch_harness::installed("aria2c"),
            Client::Curl => batch_fetch_harness::installed("curl"),
        }
    }

    /// The command that downloads `case`'s files from `base` into `dir`,
    /// writing its list or config file (if any) into `work`.
    pub fn command(
        self,
        bins: &Path,
        case: &Case,
        base: &str,
        dir: &Path,
        work: &Path,
    ) -> std::io::Result<Command> {
        let url = |i: usize| format!("{base}/file/{i}/{}", case.size);
        let n = case.n.to_string();
        let c = case.c.to_string();
        Ok(match self {
            Client::BatchFetch => {
                let mut cmd = Command::new(bins.join("client-batch-fetch"));
                cmd.args(["--base", base])
                    .args(["--path", &format!("/file/{{i}}/{}", case.size)])
                    .args(["--n", &n, "--c", &c])
                    .arg("--download-dir")
                    .arg(dir);
                cmd
            }
            Client::Aria2 => {
                let list = work.join("aria2.list");
                let mut text = String::new();
                for i in 0..case.n {
                    let _ = writeln!(text, "{}\n  out={i}", url(i));
                }
                std::fs::write(&list, text)?;
                let mut cmd = Command::new("aria2c");
                cmd.arg("--no-conf=true")
                    .arg("--input-file")
                    .arg(&list)
                    .arg("--dir")
                    .arg(dir)
                    .args(["--max-concurrent-downloads", &c])
                    .args(ARIA2_FLAGS);
                cmd
            }
            Client::Curl => {
                let config = work.join("curl.config");
                let mut text = String::new();
                for i in 0..case.n {
                    let out = dir.join(i.to_string());
                    let _ = writeln!(text, "url = \"{}\"\noutput = \"{}\"", url(i), out.display());
                }
                std::fs::write(&config, text)?;
                let mut cmd = Command::new("curl");
                // -q first: no ~/.curlrc.
                cmd.arg("-q")
                    .args(["--parallel", "--parallel-max", &c])
                    .args(CURL_FLAGS)
                    .arg("--config")
                    .arg(&config);
                cmd
            }
        })
    }
}

/// aria2c's flags besides the list, the directory and `-j`, explained in
/// BENCHMARKS.md's method paragraph.
pub const ARIA2_FLAGS: &[&str] = &[
    "--max-connection-per-server=1",
    "--split=1",
    "--file-allocation=none",
    "--auto-file-renaming=false",
    "--allow-overwrite=true",
    "--enable-http-keep-alive=true",
    "--console-log-level=warn",
    "--summary-interval=0",
    "--show-console-readout=false",
    "--download-result=hide",
];

/// curl's flags besides `--parallel --parallel-max N` and the config.
pub const CURL_FLAGS: &[&str] = &[
    "--fail",
    // Not --silent: curl 7.88 shows its progress meter again after a retry.
    "--no-progress-meter",
    "--retry",
    "3",
    "--retry-all-errors",
];

/// The directory of the harness's own binaries (beside this one).
pub fn bins_dir() -> PathBuf {
    std::env::current_exe()
        .expect("the path of this program")
        .parent()
        .expect("a directory")
        .to_owned()
}

/// The program's version, as its `--version` says (second word).
pub fn version(program: &str) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            let first = s.lines().next()?.to_owned();
            // "curl 7.88.1 (x86_64-pc-linux-gnu) ..." / "aria2 version 1.36.0"
            first
                .split_whitespace()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "version unknown".to_owned())
}
