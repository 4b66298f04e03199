//! A real nginx on loopback, for what servers nobody here wrote do:
//! recycle connections (`keepalive_requests`, `keepalive_timeout`), send
//! HTTP/2 GOAWAY, reload and quit gracefully.
//!
//! Each [`Nginx`] is its own master process with its own configuration,
//! certificates (made at test time by [`TestPki`]), logs and ports in a
//! temporary directory, stopped on drop. Its access log counts every
//! request nginx processed, with the connection that carried it, so a test
//! can count attempts as the server saw them.
//!
//! nginx comes from Debian (`apt-get install nginx-light`; `.ci/run`
//! installs it). Where it cannot be had, [`Nginx::start`] says so on the
//! terminal (past the test harness's capture) and returns `None`, so the
//! test skips loudly. With `BATCH_FETCH_NGINX` set (as `.ci/run` does once
//! it installed nginx), a missing or failing nginx fails the test instead.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestPki;

/// What differs from nginx's stock settings (Debian's nginx.conf and
/// nginx's compiled-in defaults): `None` keeps the stock value.
#[derive(Clone, Debug, Default)]
pub struct NginxSettings {
    /// Requests one connection serves before nginx closes it (HTTP/1.1:
    /// `Connection: close` on the last response; HTTP/2: GOAWAY). Stock
    /// 1000.
    pub keepalive_requests: Option<u32>,
    /// How long an idle keep-alive connection stays open, e.g. `"1s"`.
    /// Stock 75s.
    pub keepalive_timeout: Option<&'static str>,
    /// A body of this many bytes at `/big`, sent at `limit_rate` (bytes a
    /// second) so that requests are in flight when a test acts.
    pub big_body: Option<(usize, u32)>,
}

/// One line of the access log: one request nginx processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// nginx's serial number of the connection that carried it.
    pub connection: u64,
    /// Its position on that connection, from 1.
    pub connection_request: u64,
    /// The port it came in on (which of the listeners).
    pub port: u16,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub protocol: String,
    pub method: String,
    pub uri: String,
    pub status: u16,
}

/// A running nginx master; stopped (fast shutdown) on drop.
pub struct Nginx {
    dir: PathBuf,
    child: Option<Child>,
    pki: TestPki,
    /// TLS with ALPN `h2`, `http/1.1`.
    pub https: SocketAddr,
    /// HTTP/2 over plain TCP (h2c by prior knowledge).
    pub h2c: SocketAddr,
    /// HTTP/1.1 over plain TCP.
    pub http1: SocketAddr,
    /// TLS with HTTP/1.1 only.
    pub https1: SocketAddr,
}

/// The nginx binary: `BATCH_FETCH_NGINX`, else `nginx` on the path or in
/// `/usr/sbin`.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BATCH_FETCH_NGINX") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// Whether a missing nginx fails the test rather than skipping it.
fn required() -> bool {
    std::env::var_os("BATCH_FETCH_NGINX").is_some()
}

/// Tells the terminal, past the test harness's output capture, that
/// `test` did not run and why.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: {why}\n*** (install Debian's nginx-light, or set BATCH_FETCH_NGINX to an nginx binary)\n"
    );
}

/// Four loopback ports that were free a moment ago.
fn free_ports() -> [SocketAddr; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    [addrs[0], addrs[1], addrs[2], addrs[3]]
}

impl Nginx {
    /// Starts nginx with `settings`, or returns `None` (after saying so on
    /// the terminal) when no nginx can be had and none is required.
    pub fn start(test: &str, settings: NginxSettings) -> Option<Nginx> {
        let Some(bin) = binary() else {
            assert!(
                !required(),
                "BATCH_FETCH_NGINX is set but names no nginx binary"
            );
            skip(test, "nginx is not installed");
            return None;
        };
        // A port taken between `free_ports` and nginx's bind: try anew.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Nginx::try_start(&bin, &settings) {
                Ok(nginx) => return Some(nginx),
                Err(e) => last_error = e,
            }
        }
        if required() {
            panic!("nginx did not start: {last_error}");
        }
        skip(test, &format!("nginx did not start: {last_error}"));
        None
    }

    fn try_start(bin: &Path, settings: &NginxSettings) -> Result<Nginx, String> {
        let dir = temp_dir();
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| e.to_string())?;
        let pki = TestPki::generate();
        std::fs::write(dir.join("chain.pem"), &pki.chain_pem).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("key.pem"), &pki.leaf_key_pem).map_err(|e| e.to_string())?;
        if let Some((size, _)) = settings.big_body {
            std::fs::create_dir_all(dir.join("www")).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("www/big"), vec![b'x'; size]).map_err(|e| e.to_string())?;
        }
        let [https, h2c, http1, https1] = free_ports();
        std::fs::write(
            dir.join("nginx.conf"),
            config(&dir, settings, https, h2c, http1, https1),
        )
        .map_err(|e| e.to_string())?;

        let stderr =
            std::fs::File::create(dir.join("logs/stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut nginx = Nginx {
            dir,
            child: Some(child),
            pki,
            https,
            h2c,
            http1,
            https1,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if [https, h2c, http1, https1]
                .iter()
                .all(|a| TcpStream::connect(a).is_ok())
            {
                return Ok(nginx);
            }
            let exited = nginx
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                return Err(format!("{exited:?}: {}", nginx.error_log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The CA that signed the server's certificate (DER).
    pub fn ca_der(&self) -> &[u8] {
        &self.pki.ca_der
    }

    /// The same CA, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// `https://localhost:PORT{path}` on the TLS listener (h2 by ALPN).
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.port())
    }

    /// `https://localhost:PORT{path}` on the TLS listener that speaks only
    /// HTTP/1.1.
    pub fn https1_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https1.port())
    }

    /// `http://127.0.0.1:PORT{path}` on the h2c listener.
    pub fn h2c_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.h2c)
    }

    /// `http://127.0.0.1:PORT{path}` on the HTTP/1.1 listener.
    pub fn http1_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http1)
    }

    /// The master's process id.
    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} nginx");
    }

    /// `nginx -s reload`: new workers with the configuration read anew;
    /// the old ones finish what they carry and close their connections.
    pub fn reload(&self) {
        self.signal("HUP");
    }

    /// `nginx -s quit`: stop accepting, finish what is in flight, exit.
    pub fn quit(&self) {
        self.signal("QUIT");
    }

    /// Waits (at most 20 s) for the master to exit, after [`Nginx::quit`].
    pub fn wait_exit(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let child = self.child.as_mut().expect("running");
        while child.try_wait().expect("wait nginx").is_none() {
            assert!(Instant::now() < deadline, "nginx did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = None;
    }

    /// Every request nginx processed so far, from its access log.
    pub fn log(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default();
        text.lines()
            .map(|line| parse(line).unwrap_or_else(|| panic!("access log line {line:?}")))
            .collect()
    }

    /// Empties the access log (nginx keeps writing to the same file).
    pub fn clear_log(&self) {
        std::fs::write(self.dir.join("logs/access.log"), b"").expect("truncate the access log");
    }

    /// nginx's error log and what it wrote on stderr (before its error
    /// log was open), for a failure's message.
    pub fn error_log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("logs/stderr.log"), read("logs/error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fast shutdown of the master and its workers (a SIGKILL to the
            // master alone would leave the workers running).
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

fn temp_dir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "batch-fetch-nginx-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ))
}

/// Debian's stock nginx.conf, reduced to what these tests use, with the
/// listeners on loopback and everything else in `dir`.
fn config(
    dir: &Path,
    settings: &NginxSettings,
    https: SocketAddr,
    h2c: SocketAddr,
    http1: SocketAddr,
    https1: SocketAddr,
) -> String {
    let d = dir.display();
    let mut http = String::new();
    if let Some(n) = settings.keepalive_requests {
        writeln!(http, "    keepalive_requests {n};").unwrap();
    }
    if let Some(t) = settings.keepalive_timeout {
        writeln!(http, "    keepalive_timeout {t};").unwrap();
    }
    let big = match settings.big_body {
        Some((_, rate)) => {
            format!("        location = /big {{ root {d}/www; limit_rate {rate}; }}\n")
        }
        None => String::new(),
    };
    let server = |listen: String| {
        format!(
            "    server {{\n        listen {listen};\n        server_name localhost;\n        \
             ssl_certificate {d}/chain.pem;\n        ssl_certificate_key {d}/key.pem;\n\
             {big}        location / {{ return 200 \"$request_uri\\n\"; }}\n    }}\n"
        )
    };
    // As root, the workers would run as www-data, which may not read the
    // temporary directory; they stay root here (loopback only).
    let user = if is_root() { "user root;\n" } else { "" };
    format!(
        "{user}daemon off;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n    \
         log_format probe '$connection $connection_requests $server_port $server_protocol $request_method $request_uri $status';\n    \
         access_log {d}/logs/access.log probe;\n    \
         client_body_temp_path {d}/tmp/body;\n    proxy_temp_path {d}/tmp/proxy;\n    \
         fastcgi_temp_path {d}/tmp/fastcgi;\n    uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n    \
         sendfile on;\n    tcp_nopush on;\n    types_hash_max_size 2048;\n    default_type text/plain;\n    \
         ssl_protocols TLSv1.2 TLSv1.3;\n{http}{}{}{}{}}}\n",
        server(format!("{https} ssl http2")),
        server(format!("{h2c} http2")),
        server(format!("{http1}")),
        server(format!("{https1} ssl")),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn parse(line: &str) -> Option<Logged> {
    let mut f = line.split(' ');
    Some(Logged {
        connection: f.next()?.parse().ok()?,
        connection_request: f.next()?.parse().ok()?,
        port: f.next()?.parse().ok()?,
        protocol: f.next()?.to_owned(),
        method: f.next()?.to_owned(),
        uri: f.next()?.to_owned(),
        status: f.next()?.parse().ok()?,
    })
}
