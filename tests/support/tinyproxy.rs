//! A real forward proxy on loopback: Debian's tinyproxy, which tunnels
//! `CONNECT host:port` and forwards absolute-form requests, spoken to in
//! plain TCP (behind [`super::nginx::NginxSettings::tls_front`] for an
//! `https://` proxy).
//!
//! Each [`Tinyproxy`] is its own process, run in the foreground with its
//! own configuration and log in a temporary directory, on a free loopback
//! port, stopped on drop. It takes clients from 127.0.0.1 only, allows
//! `CONNECT` to any port (no `ConnectPort` line: Debian's stock
//! configuration allows only 443 and 563), and optionally requires Basic
//! credentials. Its log says which requests it was asked for
//! ([`Tinyproxy::requests`]).
//!
//! tinyproxy comes from Debian (`apt-get install tinyproxy`; `.ci/interop`
//! installs it). Where it cannot be had, [`Tinyproxy::start`] says so on
//! the terminal and returns `None`, so the test skips loudly. With
//! `BATCH_FETCH_TINYPROXY` set (as `.ci/interop` does once it installed
//! tinyproxy), a missing or failing tinyproxy fails the test instead.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::external::{Process, Program, free_ports};

const TINYPROXY: Program = Program {
    name: "tinyproxy",
    var: "BATCH_FETCH_TINYPROXY",
    remedy: "install Debian's tinyproxy, or set BATCH_FETCH_TINYPROXY to a tinyproxy binary",
};

/// A running tinyproxy; stopped on drop.
pub struct Tinyproxy {
    process: Process,
    /// Where it listens (plain TCP).
    pub addr: SocketAddr,
}

/// One request tinyproxy read, from its log (written as it reads the
/// request line, before it checks credentials or connects anywhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    /// `CONNECT` or the forwarded method.
    pub method: String,
    /// `host:port` for `CONNECT`, the absolute URI otherwise.
    pub target: String,
}

impl Tinyproxy {
    /// Starts tinyproxy, requiring `credentials` (user, password) when
    /// given, or returns `None` (after saying so on the terminal) when no
    /// tinyproxy can be had and none is required.
    pub fn start(test: &str, credentials: Option<(&str, &str)>) -> Option<Tinyproxy> {
        let bin = TINYPROXY.find(test)?;
        TINYPROXY.start(test, || Tinyproxy::try_start(&bin, credentials))
    }

    fn try_start(bin: &Path, credentials: Option<(&str, &str)>) -> Result<Tinyproxy, String> {
        let mut process = Process::new("tinyproxy")?;
        let dir = process.dir().to_owned();
        let [addr] = free_ports();
        std::fs::write(dir.join("tinyproxy.conf"), config(&dir, addr, credentials))
            .map_err(|e| e.to_string())?;
        // In the foreground (-d).
        let mut command = Command::new(bin);
        command.arg("-d").arg("-c").arg(dir.join("tinyproxy.conf"));
        process.spawn(command)?;
        let mut proxy = Tinyproxy { process, addr };
        match proxy.process.wait_listening(&[addr]) {
            Ok(()) => Ok(proxy),
            Err(e) => Err(format!("{e}: {}", proxy.log())),
        }
    }

    /// `http://127.0.0.1:PORT`: the proxy URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:pass@127.0.0.1:PORT`.
    pub fn url_with_auth(&self, user: &str, pass: &str) -> String {
        format!("http://{user}:{pass}@{}", self.addr)
    }

    /// Every request tinyproxy read so far, in order.
    pub fn requests(&self) -> Vec<Requested> {
        self.log()
            .lines()
            .filter_map(|line| {
                let (_, request) = line.split_once("]: Request (file descriptor ")?;
                let (_, request_line) = request.split_once("): ")?;
                let mut parts = request_line.split(' ');
                Some(Requested {
                    method: parts.next()?.to_owned(),
                    target: parts.next()?.to_owned(),
                })
            })
            .collect()
    }

    /// Targets of the `CONNECT` requests it read.
    pub fn connects(&self) -> Vec<String> {
        self.filtered(|r| r.method == "CONNECT")
    }

    /// Absolute URIs of the requests it was asked to forward.
    pub fn forwards(&self) -> Vec<String> {
        self.filtered(|r| r.method != "CONNECT")
    }

    fn filtered(&self, keep: impl Fn(&Requested) -> bool) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(keep)
            .map(|r| r.target)
            .collect()
    }

    /// What it wrote on stderr, then its log, for a failure's message.
    pub fn log(&self) -> String {
        let read = |name| self.process.read(name);
        format!("{}{}", read("stderr.log"), read("tinyproxy.log"))
    }
}

/// Debian's stock tinyproxy.conf, reduced to what these tests use: no user
/// switch or pid file (it runs as whoever runs the test), its log in
/// `dir`, loopback only.
fn config(dir: &Path, addr: SocketAddr, credentials: Option<(&str, &str)>) -> String {
    let auth = credentials.map_or_else(String::new, |(user, pass)| {
        format!("BasicAuth {user} {pass}\n")
    });
    format!(
        "Listen {ip}\nPort {port}\nTimeout 30\nLogFile \"{log}\"\nLogLevel Info\n\
         MaxClients 200\nAllow 127.0.0.1\nViaProxyName \"tinyproxy\"\n{auth}",
        ip = addr.ip(),
        port = addr.port(),
        log = dir.join("tinyproxy.log").display(),
    )
}
