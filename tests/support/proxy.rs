//! A small HTTP proxy on loopback: `CONNECT host:port` tunnels, and
//! absolute-form requests (`GET http://host:port/path`) forwarded to the
//! target. It only ever connects to loopback: IP literals in 127.0.0.0/8 or
//! `::1`, and `localhost` (as 127.0.0.1); anything else gets a 502.
//!
//! It optionally requires `Proxy-Authorization: Basic base64(user:pass)`
//! (407 otherwise), optionally speaks TLS to its clients (an `https://`
//! proxy), and records what it saw. One request per client
//! connection (forwarded requests get `Connection: close`).
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use super::listen::{LOOPBACK, Listening};
use super::raw::{read_more, read_until_head};

/// How long any proxied connection may live at most.
const CONN_CAP: Duration = Duration::from_secs(30);

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHit {
    /// `CONNECT` or the forwarded method.
    pub method: String,
    /// The request target: `host:port` for CONNECT, the absolute URI otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub auth: Option<String>,
    /// What the proxy answered itself (407, 502), or 0 when it tunnelled
    /// or forwarded.
    pub refused_with: u16,
}

#[derive(Debug, Default)]
pub struct ProxyStats {
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    hits: Mutex<Vec<ProxyHit>>,
}

/// `Basic base64(user:pass)`.
fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

impl ProxyStats {
    /// TLS handshakes completed with clients (a TLS proxy only).
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Client connections accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every request, in order.
    pub fn hits(&self) -> Vec<ProxyHit> {
        self.hits.lock().unwrap().clone()
    }

    /// Targets of CONNECT requests.
    pub fn connects(&self) -> Vec<String> {
        self.filtered(|h| h.method == "CONNECT")
    }

    /// Absolute URIs of forwarded requests.
    pub fn forwards(&self) -> Vec<String> {
        self.filtered(|h| h.method != "CONNECT")
    }

    fn filtered(&self, f: impl Fn(&ProxyHit) -> bool) -> Vec<String> {
        self.hits()
            .into_iter()
            .filter(|h| f(h))
            .map(|h| h.target)
            .collect()
    }
}

/// Guard of a running proxy on 127.0.0.1:0.
pub struct ProxyServer {
    listening: Listening,
    stats: Arc<ProxyStats>,
    tls: bool,
}

impl ProxyServer {
    /// A proxy that requires no credentials.
    pub async fn start() -> ProxyServer {
        Self::spawn(None, None).await
    }

    /// A proxy spoken to over TLS (an `https://` proxy) with `config`'s
    /// certificate, requiring `Proxy-Authorization: Basic` of `auth`
    /// (`(user, pass)`) if given. [`handshakes`](ProxyStats::handshakes)
    /// counts the TLS handshakes it completed.
    pub async fn start_tls(config: Arc<ServerConfig>, auth: Option<(&str, &str)>) -> ProxyServer {
        let auth = auth.map(|(user, pass)| basic(user, pass));
        Self::spawn(auth, Some(TlsAcceptor::from(config))).await
    }

    /// A proxy that requires `Proxy-Authorization: Basic` of `user:pass`.
    pub async fn with_auth(user: &str, pass: &str) -> ProxyServer {
        Self::spawn(Some(basic(user, pass)), None).await
    }

    async fn spawn(auth: Option<String>, tls: Option<TlsAcceptor>) -> ProxyServer {
        let stats = Arc::new(ProxyStats::default());
        let st = stats.clone();
        let auth = Arc::new(auth);
        let is_tls = tls.is_some();
        let listening = Listening::start(LOOPBACK, Some(CONN_CAP), move |stream| {
            st.accepted.fetch_add(1, Ordering::SeqCst);
            let st = st.clone();
            let auth = auth.clone();
            let tls = tls.clone();
            async move {
                match tls {
                    None => handle(stream, &auth, &st).await,
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        st.handshakes.fetch_add(1, Ordering::SeqCst);
                        handle(stream, &auth, &st).await
                    }
                }
            }
        })
        .await;
        ProxyServer {
            listening,
            stats,
            tls: is_tls,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    /// `http://127.0.0.1:PORT` (`https://` for a TLS proxy)
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr())
    }

    /// `http://user:pass@127.0.0.1:PORT` (`https://` for a TLS proxy)
    pub fn url_with_auth(&self, user: &str, pass: &str) -> String {
        format!("{}://{user}:{pass}@{}", self.scheme(), self.addr())
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    pub fn stats(&self) -> &Arc<ProxyStats> {
        &self.stats
    }
}

impl std::ops::Deref for ProxyServer {
    type Target = ProxyStats;

    fn deref(&self) -> &ProxyStats {
        &self.stats
    }
}

/// A request head: request line parts and headers (name, value), plus any
/// bytes read past the head.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> Option<Head> {
    let mut buf = Vec::new();
    let end = read_until_head(stream, &mut buf, Duration::from_secs(10)).await?;
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Head {
        method,
        target,
        headers,
        rest: buf[end..].to_vec(),
    })
}

/// Where the proxy may connect: loopback only.
fn loopback_target(host: &str, port: u16) -> Option<SocketAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>().ok()?
    };
    ip.is_loopback().then_some(SocketAddr::new(ip, port))
}

/// Splits `host:port` (or `[v6]:port`).
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default_port)),
    }
}

async fn refuse(stream: &mut (impl AsyncWrite + Unpin), status: u16) {
    let reason = match status {
        407 => "Proxy Authentication Required",
        403 => "Forbidden",
        400 => "Bad Request",
        _ => "Bad Gateway",
    };
    let extra = if status == 407 {
        "Proxy-Authenticate: Basic realm=\"test\"\r\n"
    } else {
        ""
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn handle(
    mut client: impl AsyncRead + AsyncWrite + Unpin,
    auth: &Option<String>,
    stats: &ProxyStats,
) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let mut hit = ProxyHit {
        method: head.method.clone(),
        target: head.target.clone(),
        auth: head.header("proxy-authorization").map(str::to_string),
        refused_with: 0,
    };
    let authorized = match auth {
        None => true,
        Some(expected) => hit.auth.as_deref() == Some(expected.as_str()),
    };
    let connect = head.method.eq_ignore_ascii_case("CONNECT");
    // Where to go, and (for forwarding) the origin-form path.
    let dest = if connect {
        split_host_port(&head.target, 443).map(|(h, p)| (h, p, String::new()))
    } else {
        head.target.strip_prefix("http://").and_then(|rest| {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            split_host_port(authority, 80).map(|(h, p)| (h, p, path.to_string()))
        })
    };
    let status = if !authorized {
        407
    } else {
        match &dest {
            None => 400,
            // A site the proxy's policy blocks.
            Some((h, _, _)) if h.starts_with("forbidden.") => 403,
            Some((h, p, _)) if loopback_target(h, *p).is_none() => 502,
            Some(_) => 0,
        }
    };
    hit.refused_with = status;
    stats.hits.lock().unwrap().push(hit);
    if status != 0 {
        refuse(&mut client, status).await;
        return;
    }
    let (host, port, path) = dest.expect("checked above");
    let target = loopback_target(&host, port).expect("checked above");
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        refuse(&mut client, 502).await;
        return;
    };
    if connect {
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        if !head.rest.is_empty() && upstream.write_all(&head.rest).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    // Forward: origin-form request line, hop-by-hop and proxy headers
    // dropped, `Connection: close` so that one request uses one connection.
    let mut out = format!("{} {} HTTP/1.1\r\n", head.method, path);
    for (k, v) in &head.headers {
        let k_lower = k.to_ascii_lowercase();
        if matches!(
            k_lower.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection" | "keep-alive"
        ) {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    let content_length: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = head.rest.clone();
    while body.len() < content_length {
        if !read_more(&mut client, &mut body, Duration::from_secs(10)).await {
            return;
        }
    }
    if upstream.write_all(out.as_bytes()).await.is_err() || upstream.write_all(&body).await.is_err()
    {
        return;
    }
    // The target closes after its answer (Connection: close): relay it all.
    let _ = tokio::io::copy(&mut upstream, &mut client).await;
    let _ = client.shutdown().await;
}
