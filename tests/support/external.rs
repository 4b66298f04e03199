//! What the real servers from Debian packages share ([`super::nginx`],
//! [`super::tinyproxy`]): each runs as a child process of the test, with
//! its own configuration, files and loopback ports in a temporary
//! directory, and is stopped when its guard drops ([`Process`]). A test
//! that cannot have one says so on the terminal and skips, unless the
//! environment variable that names it is set (as `.ci/interop` does once
//! it installed the package): then a missing or failing server fails the
//! test.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Tells the terminal, past the test harness's output capture, that
/// `test` did not run, why, and how to have what it needs (`remedy`).
pub fn skip(test: &str, why: &str, remedy: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: {why}\n*** ({remedy})\n"
    );
}

/// Whether the environment variable `var` is set: what it names must be
/// there, and a test fails rather than skips without it.
pub fn required(var: &str) -> bool {
    std::env::var_os(var).is_some()
}

/// A server program from a Debian package, as the tests look for it.
pub struct Program {
    /// Its name on the path, e.g. `nginx`.
    pub name: &'static str,
    /// The environment variable that names its binary; set, the program
    /// is required.
    pub var: &'static str,
    /// How to have it, for the message of a skipped test.
    pub remedy: &'static str,
}

impl Program {
    pub fn skip(&self, test: &str, why: &str) {
        skip(test, why, self.remedy);
    }

    /// The binary: the path in [`Program::var`], else [`Program::name`] on
    /// the path or in `/usr/sbin`; or `None` after a loud skip.
    pub fn find(&self, test: &str) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(self.var) {
            return Some(PathBuf::from(path));
        }
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join(self.name))
            .find(|p| p.is_file());
        if found.is_none() {
            self.skip(test, &format!("{} is not installed", self.name));
        }
        found
    }

    /// `try_start()`'s server, tried three times (a port taken between
    /// [`free_ports`] and the server's bind fails one); or, when it does
    /// not start, a panic if the program is required, else `None` after a
    /// loud skip.
    pub fn start<T>(
        &self,
        test: &str,
        mut try_start: impl FnMut() -> Result<T, String>,
    ) -> Option<T> {
        let mut last_error = String::new();
        for _ in 0..3 {
            match try_start() {
                Ok(server) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        let why = format!("{} did not start: {last_error}", self.name);
        assert!(!required(self.var), "{why}");
        self.skip(test, &why);
        None
    }
}

/// `N` loopback ports that were free a moment ago.
pub fn free_ports<const N: usize>() -> [SocketAddr; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("local_addr"))
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// A server the test runs: a child process with its own temporary
/// directory (configuration, logs, what it wrote on stderr). On drop the
/// process is stopped (SIGTERM, so that a master stops its workers; SIGKILL
/// after 10 s) and the directory removed, unless the test is panicking: it
/// stays for a look.
pub struct Process {
    dir: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// A fresh directory `batch-fetch-{kind}-…` under the temporary one,
    /// for the files to write before [`Process::spawn`].
    pub fn new(kind: &str) -> Result<Process, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "batch-fetch-{kind}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Process { dir, child: None })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `command`, its stderr into `stderr.log` in the directory.
    pub fn spawn(&mut self, mut command: Command) -> Result<(), String> {
        let stderr =
            std::fs::File::create(self.dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("{:?}: {e}", command.get_program()))?;
        self.child = Some(child);
        Ok(())
    }

    /// The file `name` in the directory, empty if there is none (yet).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits (at most 10 s) until something accepts connections on each of
    /// `addrs`. `Err` says why not: the process exited (with its status),
    /// or time ran out.
    pub fn wait_listening(&mut self, addrs: &[SocketAddr]) -> Result<(), String> {
        let child = self.child.as_mut().expect("spawned");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if addrs.iter().all(|a| TcpStream::connect(a).is_ok()) {
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("not listening after 10 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most `limit`) for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut child = self.child.take().expect("running");
        while child.try_wait().expect("wait for the process").is_none() {
            assert!(Instant::now() < deadline, "the process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
