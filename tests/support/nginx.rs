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
//! It can also be a TLS front for a plain-TCP service
//! ([`NginxSettings::tls_front`]): its stream module terminates TLS and
//! passes the bytes on, as a TLS proxy in front of a forward proxy does.
//!
//! nginx comes from Debian (`apt-get install nginx-light`, and
//! `libnginx-mod-stream` for the TLS front; `.ci/interop` installs both).
//! Where it cannot be had, [`Nginx::start`] says so on the terminal (past
//! the test harness's capture) and returns `None`, so the test skips
//! loudly. With `BATCH_FETCH_NGINX` set (as `.ci/interop` does once it
//! installed nginx), a missing or failing nginx fails the test instead;
//! `BATCH_FETCH_NGINX_STREAM` does the same for the stream module.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::TestPki;
use super::external::{self, Process, Program, free_ports, is_root, required};

const NGINX: Program = Program {
    name: "nginx",
    var: "BATCH_FETCH_NGINX",
    remedy: "install Debian's nginx-light, or set BATCH_FETCH_NGINX to an nginx binary",
};
/// Names nginx's stream module; set, it is required.
const STREAM: &str = "BATCH_FETCH_NGINX_STREAM";
/// Where Debian's `libnginx-mod-stream` puts it.
const DEBIAN_STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

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
    /// Also a stream listener ([`Nginx::tls_front`]) that terminates TLS
    /// (this nginx's certificate, ALPN `http/1.1` only) and passes the
    /// bytes to this address: a TLS front for a plain-TCP service, logged
    /// per session ([`Nginx::sessions`]). Needs the stream module.
    pub tls_front: Option<SocketAddr>,
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
    process: Process,
    pki: TestPki,
    /// TLS with ALPN `h2`, `http/1.1`.
    pub https: SocketAddr,
    /// HTTP/2 over plain TCP (h2c by prior knowledge).
    pub h2c: SocketAddr,
    /// HTTP/1.1 over plain TCP.
    pub http1: SocketAddr,
    /// TLS with HTTP/1.1 only.
    pub https1: SocketAddr,
    /// The TLS front, when [`NginxSettings::tls_front`] asked for one.
    pub tls_front: Option<SocketAddr>,
}

/// One session of the TLS front, from its access log (written when the
/// session ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `TLSv1.3`, `TLSv1.2`.
    pub tls: String,
    /// The protocol agreed by ALPN, `-` for none.
    pub alpn: String,
    /// nginx's session status: 200 when it ended well, 502 when the
    /// upstream could not be reached, 500 when the handshake failed.
    pub status: u16,
}

/// The stream module to load for a TLS front: `BATCH_FETCH_NGINX_STREAM`,
/// else Debian's, if it is there.
fn stream_module() -> Option<PathBuf> {
    let path = std::env::var_os(STREAM).map_or_else(|| DEBIAN_STREAM_MODULE.into(), PathBuf::from);
    path.is_file().then_some(path)
}

impl Nginx {
    /// Starts nginx with `settings`, or returns `None` (after saying so on
    /// the terminal) when no nginx can be had and none is required.
    pub fn start(test: &str, settings: NginxSettings) -> Option<Nginx> {
        let bin = NGINX.find(test)?;
        let module = match (settings.tls_front, stream_module()) {
            (None, _) => None,
            (Some(_), Some(module)) => Some(module),
            (Some(_), None) => {
                assert!(!required(STREAM), "{STREAM} names no stream module");
                external::skip(
                    test,
                    "nginx's stream module is not installed",
                    "install Debian's libnginx-mod-stream, or set BATCH_FETCH_NGINX_STREAM to ngx_stream_module.so",
                );
                return None;
            }
        };
        NGINX.start(test, || {
            Nginx::try_start(&bin, &settings, module.as_deref())
        })
    }

    fn try_start(
        bin: &Path,
        settings: &NginxSettings,
        stream_module: Option<&Path>,
    ) -> Result<Nginx, String> {
        let mut process = Process::new("nginx")?;
        let dir = process.dir().to_owned();
        let io = |e: std::io::Error| e.to_string();
        std::fs::create_dir_all(dir.join("logs")).map_err(io)?;
        std::fs::create_dir_all(dir.join("tmp")).map_err(io)?;
        let pki = TestPki::generate();
        std::fs::write(dir.join("chain.pem"), &pki.chain_pem).map_err(io)?;
        std::fs::write(dir.join("key.pem"), &pki.leaf_key_pem).map_err(io)?;
        if let Some((size, _)) = settings.big_body {
            std::fs::create_dir_all(dir.join("www")).map_err(io)?;
            std::fs::write(dir.join("www/big"), vec![b'x'; size]).map_err(io)?;
        }
        let [https, h2c, http1, https1, front] = free_ports();
        let tls_front = settings.tls_front.map(|upstream| (front, upstream));
        let mut conf = config(&dir, settings, https, h2c, http1, https1);
        if let (Some(module), Some((front, upstream))) = (stream_module, tls_front) {
            conf = format!(
                "load_module {};\n{conf}{}",
                module.display(),
                stream_config(&dir, front, upstream)
            );
        }
        std::fs::write(dir.join("nginx.conf"), conf).map_err(io)?;

        let mut command = Command::new(bin);
        command
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"));
        process.spawn(command)?;
        let mut nginx = Nginx {
            process,
            pki,
            https,
            h2c,
            http1,
            https1,
            tls_front: tls_front.map(|(front, _)| front),
        };
        // Not the TLS front: nginx opens every listening socket before it
        // starts its workers, and a probe there would be a session in its
        // log that no client made.
        match nginx.process.wait_listening(&[https, h2c, http1, https1]) {
            Ok(()) => Ok(nginx),
            Err(e) => Err(format!("{e}: {}", nginx.error_log())),
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

    /// This nginx's CA, as the client takes it: what a client needs to
    /// trust the TLS front.
    pub fn certificate(&self) -> batch_fetch::Certificate {
        self.pki.certificate()
    }

    /// `https://localhost:PORT` of the TLS front: a proxy URL.
    pub fn tls_front_url(&self) -> String {
        let front = self.tls_front.expect("started with a TLS front");
        format!("https://localhost:{}", front.port())
    }

    /// `https://user:pass@localhost:PORT` of the TLS front.
    pub fn tls_front_url_with_auth(&self, user: &str, pass: &str) -> String {
        let front = self.tls_front.expect("started with a TLS front");
        format!("https://{user}:{pass}@localhost:{}", front.port())
    }

    /// The TLS front's sessions that ended, failed handshakes included.
    pub fn sessions(&self) -> Vec<Session> {
        self.process
            .read("logs/stream.log")
            .lines()
            .map(|line| parse_session(line).unwrap_or_else(|| panic!("stream log line {line:?}")))
            .collect()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.process.pid().to_string())
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
        self.process.wait_exit(Duration::from_secs(20));
    }

    /// Every request nginx processed so far, from its access log.
    pub fn log(&self) -> Vec<Logged> {
        self.process
            .read("logs/access.log")
            .lines()
            .map(|line| parse(line).unwrap_or_else(|| panic!("access log line {line:?}")))
            .collect()
    }

    /// Empties the access log (nginx keeps writing to the same file).
    pub fn clear_log(&self) {
        std::fs::write(self.process.dir().join("logs/access.log"), b"")
            .expect("truncate the access log");
    }

    /// nginx's error log and what it wrote on stderr (before its error
    /// log was open), for a failure's message.
    pub fn error_log(&self) -> String {
        let read = |name| self.process.read(name);
        format!("{}{}", read("stderr.log"), read("logs/error.log"))
    }
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

/// The TLS front: a stream server on `front` that terminates TLS with the
/// certificate of [`config`]'s servers and passes the bytes to `upstream`.
/// ALPN `http/1.1` only, the protocol spoken to a proxy: a client that
/// offers only `h2` is refused (`no_application_protocol`), one that offers
/// nothing is taken.
fn stream_config(dir: &Path, front: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "stream {{\n    \
         log_format session '$ssl_protocol $ssl_alpn_protocol $status';\n    \
         access_log {d}/logs/stream.log session;\n    \
         server {{\n        listen {front} ssl;\n        \
         ssl_certificate {d}/chain.pem;\n        ssl_certificate_key {d}/key.pem;\n        \
         ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_alpn http/1.1;\n        \
         proxy_pass {upstream};\n    }}\n}}\n"
    )
}

fn parse_session(line: &str) -> Option<Session> {
    let mut f = line.split(' ');
    Some(Session {
        tls: f.next()?.to_owned(),
        alpn: f.next()?.to_owned(),
        status: f.next()?.parse().ok()?,
    })
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
