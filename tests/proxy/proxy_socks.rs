//! SOCKS5 proxies: `socks5://` (names resolved by the client) and
//! `socks5h://` (by the proxy), with and without username/password, for
//! http and https targets. The proxy is a small SOCKS5 server on loopback
//! that only ever connects to 127.0.0.1.

use std::sync::{Arc, Mutex};

use crate::support::clients::{builder, trusting};
use crate::support::listen::{LOOPBACK, Listening};
use crate::support::{TestPki, TestServer, bounded, expect_err};
use batch_fetch::{ErrorKind, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the SOCKS5 server was asked.
#[derive(Default)]
struct Seen {
    /// CONNECT targets as `host:port` (a name for socks5h, an IP for socks5).
    targets: Vec<String>,
    /// Credentials offered, if any.
    auth: Vec<(String, String)>,
}

struct Socks5 {
    listening: Listening,
    seen: Arc<Mutex<Seen>>,
}

impl Socks5 {
    /// `credentials`: required user and password, or `None` for no auth.
    async fn start(credentials: Option<(&'static str, &'static str)>) -> Socks5 {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        let listening = Listening::start(LOOPBACK, None, move |sock| {
            let record = record.clone();
            async move {
                let _ = serve(sock, credentials, record).await;
            }
        })
        .await;
        Socks5 { listening, seen }
    }

    fn url(&self, scheme: &str, userinfo: &str) -> String {
        format!(
            "{scheme}://{userinfo}127.0.0.1:{}",
            self.listening.addr().port()
        )
    }
}

async fn serve(
    mut client: TcpStream,
    credentials: Option<(&str, &str)>,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    // Greeting: VER, NMETHODS, METHODS.
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods).await?;
    match credentials {
        None => client.write_all(&[5, 0]).await?,
        Some((user, pass)) => {
            if !methods.contains(&2) {
                return client.write_all(&[5, 0xff]).await;
            }
            client.write_all(&[5, 2]).await?;
            // RFC 1929: VER, ULEN, UNAME, PLEN, PASSWD.
            let mut ver_len = [0u8; 2];
            client.read_exact(&mut ver_len).await?;
            let mut u = vec![0u8; ver_len[1] as usize];
            client.read_exact(&mut u).await?;
            let mut plen = [0u8; 1];
            client.read_exact(&mut plen).await?;
            let mut p = vec![0u8; plen[0] as usize];
            client.read_exact(&mut p).await?;
            let (u, p) = (
                String::from_utf8_lossy(&u).into_owned(),
                String::from_utf8_lossy(&p).into_owned(),
            );
            let ok = u == user && p == pass;
            seen.lock().unwrap().auth.push((u, p));
            client.write_all(&[1, if ok { 0 } else { 1 }]).await?;
            if !ok {
                return Ok(());
            }
        }
    }
    // Request: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT.
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; len[0] as usize];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await,
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    seen.lock().unwrap().targets.push(format!("{host}:{port}"));
    // Whatever the name, only loopback is ever a target here.
    let mut upstream = TcpStream::connect(("127.0.0.1", port)).await?;
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5h_sends_the_name_to_the_proxy() {
    let server = TestServer::start().await;
    let socks = Socks5::start(None).await;
    let client = builder()
        .proxy(Proxy::all(socks.url("socks5h", "")))
        .build()
        .unwrap();
    // No resolver knows this name; only the proxy sees it.
    let url = format!("http://target.test:{}/id/7", server.port());
    let res = bounded("socks5h", client.fetch(url)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().unwrap(), "7");
    assert_eq!(
        socks.seen.lock().unwrap().targets,
        [format!("target.test:{}", server.port())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_with_credentials_reaches_an_https_target() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let socks = Socks5::start(Some(("alice", "s3cret"))).await;
    let client = trusting(&pki)
        .proxy(Proxy::all(socks.url("socks5", "alice:s3cret@")))
        .build()
        .unwrap();
    // Several requests, one batch: TLS runs end to end through the proxy.
    let urls: Vec<String> = (0..5).map(|i| server.url(&format!("/id/{i}"))).collect();
    let resps = bounded("socks5 + TLS", client.fetch_all(urls))
        .await
        .unwrap();
    for (i, res) in resps.iter().enumerate() {
        assert_eq!(res.text().unwrap(), i.to_string());
    }
    let seen = socks.seen.lock().unwrap();
    assert!(!seen.targets.is_empty());
    assert!(
        seen.targets
            .iter()
            .all(|t| *t == format!("127.0.0.1:{}", server.port())),
        "{:?}",
        seen.targets
    );
    assert!(seen.auth.iter().all(|(u, p)| u == "alice" && p == "s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_socks5_credentials_are_a_connect_error() {
    let server = TestServer::start().await;
    let socks = Socks5::start(Some(("alice", "s3cret"))).await;
    let client = builder()
        .proxy(Proxy::all(socks.url("socks5", "alice:wrong@")))
        .build()
        .unwrap();
    let err = expect_err(
        bounded("bad socks auth", client.fetch(server.url("/id/1"))).await,
        "the proxy refuses these credentials",
    );
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(server.total_hits(), 0);
    assert!(!err.to_string().contains("wrong"), "password shown: {err}");
}
