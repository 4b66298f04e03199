//! A minimal HTTP proxy on loopback, playing a company's proxy: `CONNECT`
//! only (the client speaks TLS through the tunnel, end to end with the
//! service; the proxy sees neither the requests nor the certificates), and
//! to loopback only: the host names it was given routes for, or loopback
//! IP literals. Anything else is refused. It counts the tunnels it opened.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most a request head may take.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a tunnel may live at most.
const TUNNEL_CAP: Duration = Duration::from_secs(120);

/// A tunnel the proxy opened.
#[derive(Clone, Debug)]
pub struct Tunnel {
    /// Where the client asked to go: `host:port`.
    pub target: String,
    /// The proxy's own address on its connection to the target: the peer
    /// the target sees.
    pub from: SocketAddr,
}

/// The tunnels a proxy opened, in order.
#[derive(Default, Debug)]
pub struct Tunnels(Mutex<Vec<Tunnel>>);

impl Tunnels {
    pub fn all(&self) -> Vec<Tunnel> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A running proxy.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    pub tunnels: Arc<Tunnels>,
}

/// Starts a proxy on a free port of 127.0.0.1 that knows `routes` (host
/// name, loopback address it stands for); it runs until the process ends.
pub async fn start(routes: Vec<(String, IpAddr)>) -> std::io::Result<ConnectProxy> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let tunnels = Arc::new(Tunnels::default());
    let (counted, routes) = (tunnels.clone(), Arc::new(routes));
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let (counted, routes) = (counted.clone(), routes.clone());
            tokio::spawn(async move {
                let _ = tokio::time::timeout(TUNNEL_CAP, tunnel(client, &routes, &counted)).await;
            });
        }
    });
    Ok(ConnectProxy { addr, tunnels })
}

/// Reads one `CONNECT`, opens the tunnel and carries bytes both ways until
/// either side closes.
async fn tunnel(mut client: TcpStream, routes: &[(String, IpAddr)], tunnels: &Tunnels) {
    let Some((head, early)) = read_head(&mut client).await else {
        return refuse(&mut client, "400 Bad Request").await;
    };
    let mut words = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "CONNECT" {
        return refuse(&mut client, "405 Method Not Allowed").await;
    }
    let Some(dest) = destination(target, routes) else {
        return refuse(&mut client, "403 Forbidden").await;
    };
    let Ok(Ok(mut upstream)) = tokio::time::timeout(HEAD_TIMEOUT, TcpStream::connect(dest)).await
    else {
        return refuse(&mut client, "502 Bad Gateway").await;
    };
    let Ok(from) = upstream.local_addr() else {
        return refuse(&mut client, "502 Bad Gateway").await;
    };
    tunnels
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Tunnel {
            target: target.to_owned(),
            from,
        });
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
        || upstream.write_all(&early).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// The request head, and any bytes the client sent after it.
async fn read_head(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Some(end + 4);
            }
            if buf.len() > MAX_HEAD {
                return None;
            }
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let end = tokio::time::timeout(HEAD_TIMEOUT, read).await.ok()??;
    let head = String::from_utf8(buf[..end].to_vec()).ok()?;
    Some((head, buf[end..].to_vec()))
}

/// Where `host:port` leads: a routed name or a loopback IP literal, else
/// nowhere.
fn destination(target: &str, routes: &[(String, IpAddr)]) -> Option<SocketAddr> {
    let (host, port) = target.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match routes
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(host))
    {
        Some((_, ip)) => *ip,
        None => host.parse::<IpAddr>().ok()?,
    };
    ip.is_loopback().then_some(SocketAddr::new(ip, port))
}

async fn refuse(client: &mut TcpStream, status: &str) {
    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = client.write_all(answer.as_bytes()).await;
    let _ = client.shutdown().await;
}
