//! One measurement: a fresh file server, one client under `rusage`
//! downloading a case's files into an empty directory, the server's
//! counters read, every file verified, the directory removed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use batch_fetch_harness::{ChildUsage, Report, wait_bounded};

use crate::cases::Case;
use crate::clients::Client;
use crate::content;
use crate::server::{FileServer, Stats};

/// How long one client may take for one case.
const LIMIT: Duration = Duration::from_secs(600);

/// One client's run of one case.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The kernel's account of the client process.
    pub usage: ChildUsage,
    /// What the server counted.
    pub server: Stats,
    /// Bytes in the case's files.
    pub total_bytes: u64,
}

impl Sample {
    /// User + system CPU time per MiB downloaded, milliseconds.
    pub fn cpu_ms_per_mib(&self) -> f64 {
        (self.usage.user_s + self.usage.sys_s) * 1e3 / (self.total_bytes as f64 / (1 << 20) as f64)
    }

    /// Peak RSS, MiB.
    pub fn rss_mib(&self) -> f64 {
        self.usage.max_rss_kib as f64 / 1024.0
    }

    /// Body bytes the server sent beyond the files' total, as a percentage
    /// of that total.
    pub fn resent_pct(&self) -> f64 {
        (self.server.body_bytes as f64 - self.total_bytes as f64) * 100.0 / self.total_bytes as f64
    }
}

/// The comparison's directories: one under /tmp for lists and configs,
/// one under `files_under` for one run's files at a time; removed on drop.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    files: PathBuf,
}

impl Workspace {
    pub fn new(files_under: &Path) -> std::io::Result<Workspace> {
        let name = format!("batch-fetch-downloads-{}", std::process::id());
        let root = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&root)?;
        let files = files_under.join(format!("{name}-files"));
        Ok(Workspace { root, files })
    }

    /// Where one run's downloads go.
    pub fn files(&self) -> &Path {
        &self.files
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_dir_all(&self.files);
    }
}

/// Runs `client` over `case` once; `seed` draws the cut offsets (the same
/// for every client of a round).
pub fn run_one(
    bins: &Path,
    ws: &Workspace,
    case: &Case,
    client: Client,
    seed: u64,
) -> Result<Sample, String> {
    let dir = ws.files().to_path_buf();
    // Never more than one run's files on disk.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = download(bins, ws, case, client, seed, &dir)
        .and_then(|sample| verify_dir(&dir, case).map(|()| sample));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The download itself: server, client, counters.
fn download(
    bins: &Path,
    ws: &Workspace,
    case: &Case,
    client: Client,
    seed: u64,
    dir: &Path,
) -> Result<Sample, String> {
    let server = FileServer::start(case.cut.then_some(seed))
        .map_err(|e| format!("cannot start the file server: {e}"))?;
    let inner = client
        .command(bins, case, server.base(), dir, &ws.root)
        .map_err(|e| format!("cannot write the list: {e}"))?;
    let mut cmd = Command::new(bins.join("rusage"));
    cmd.arg("--limit")
        .arg(LIMIT.as_secs().to_string())
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start rusage: {e}"))?;
    let out = wait_bounded(child, LIMIT + Duration::from_secs(60))?;
    let stats = server.stats();
    drop(server);

    let mut lines = out.lines().rev().filter(|l| l.starts_with('{'));
    let usage: ChildUsage = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("rusage printed no usage: {out:?}"))?;
    if usage.killed {
        return Err(format!("killed after {LIMIT:?}"));
    }
    if usage.exit_code != Some(0) {
        return Err(format!(
            "{} exited with {:?}",
            client.name(),
            usage.exit_code
        ));
    }
    if client == Client::BatchFetch {
        let report: Report = lines
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| format!("client-batch-fetch printed no report: {out:?}"))?;
        if report.ok != case.n {
            return Err(format!(
                "batch-fetch: {} of {} downloaded; first error: {}",
                report.ok,
                case.n,
                report.first_error.as_deref().unwrap_or("none")
            ));
        }
    }
    Ok(Sample {
        usage,
        server: stats,
        total_bytes: case.total_bytes(),
    })
}

/// Checks that `dir` holds exactly the case's files (named by index, no
/// temporary file left) and that each is the source byte for byte.
fn verify_dir(dir: &Path, case: &Case) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut found = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        match name.to_str().and_then(|n| n.parse::<usize>().ok()) {
            Some(i) if i < case.n && name.to_str() == Some(&i.to_string()) => found += 1,
            _ => problems.push(format!("unexpected file {}", name.to_string_lossy())),
        }
    }
    if found < case.n {
        problems.push(format!("{} of {} files missing", case.n - found, case.n));
    }
    let mut differ = 0;
    for i in 0..case.n {
        let path = dir.join(i.to_string());
        if !path.exists() {
            continue;
        }
        if let Err(e) = content::verify(&path, i as u64, case.size) {
            differ += 1;
            if differ <= 3 {
                problems.push(e);
            }
        }
    }
    if differ > 3 {
        problems.push(format!("{differ} files in all differ from the source"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("VERIFICATION FAILED: {}", problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory passes only with exactly the case's files, each the
    /// source; a left-over temporary file, a missing file and a wrong one
    /// each fail it.
    #[test]
    fn verify_dir_wants_exactly_the_files() {
        let dir = std::env::temp_dir().join(format!("dl-verify-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let case = Case {
            key: "t",
            n: 3,
            size: 1000,
            c: 1,
            cut: false,
        };
        for i in 0..3u64 {
            let mut bytes = vec![0u8; 1000];
            content::fill(i, 0, &mut bytes);
            std::fs::write(dir.join(i.to_string()), bytes).unwrap();
        }
        assert_eq!(verify_dir(&dir, &case), Ok(()));

        std::fs::write(dir.join("2.part"), b"").unwrap();
        let err = verify_dir(&dir, &case).unwrap_err();
        assert!(err.contains("unexpected file 2.part"), "{err}");
        std::fs::remove_file(dir.join("2.part")).unwrap();

        std::fs::rename(dir.join("2"), dir.join("02")).unwrap();
        let err = verify_dir(&dir, &case).unwrap_err();
        assert!(
            err.contains("unexpected file 02") && err.contains("1 of 3 files missing"),
            "{err}"
        );
        std::fs::rename(dir.join("02"), dir.join("2")).unwrap();

        std::fs::copy(dir.join("0"), dir.join("1")).unwrap();
        let err = verify_dir(&dir, &case).unwrap_err();
        assert!(err.contains("differs from the source at byte 0"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
