//! The `CONNECT` handshake that opens a tunnel through an HTTP proxy, and
//! the errors of talking to a proxy, which name it.
//!
//! Our own rather than hyper-util's `Tunnel`: that one reports any refusal
//! but 407 as "tunnel unsuccessful", without the status, so a proxy's 403
//! (a blocked site) and its 502 (the site is down) would read alike and
//! be retried alike. Here the status is kept, a refusal the proxy will repeat
//! (a 4xx but 408 and 429) is not retried, and every failure says which
//! proxy it was.

use std::io;
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{BoxError, ErrorKind, Raised};

/// The most a proxy's answer to `CONNECT` may take, head and all.
const MAX_HEAD: usize = 16 * 1024;

/// A failure reaching a target through a proxy. Proxies are named by host
/// and port only: their URL may carry credentials.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// No connection to the proxy itself.
    #[error("could not connect to the proxy {proxy}")]
    Unreachable {
        proxy: String,
        #[source]
        source: BoxError,
    },
    /// The TLS handshake with the proxy itself (an `https://` proxy)
    /// failed: most often its certificate is not trusted.
    #[error("TLS with the proxy {proxy} failed")]
    Tls {
        proxy: String,
        #[source]
        source: BoxError,
    },
    /// The proxy answered the `CONNECT` with something other than 2xx.
    #[error("the proxy {proxy} refused the tunnel to {target}: {status}")]
    Refused {
        proxy: String,
        target: String,
        status: StatusCode,
    },
    /// The proxy did not answer the `CONNECT` as HTTP says.
    #[error("the proxy {proxy} broke off the tunnel to {target}")]
    Handshake {
        proxy: String,
        target: String,
        #[source]
        source: BoxError,
    },
    /// A SOCKS proxy failed the connection.
    #[error("the SOCKS proxy {proxy} did not connect to {target}")]
    Socks {
        proxy: String,
        target: String,
        #[source]
        source: BoxError,
    },
}

impl ProxyError {
    /// Boxed for the stack as what it is: no connection to the target.
    pub(crate) fn raised(self) -> BoxError {
        let kind = match self {
            ProxyError::Tls { .. } => ErrorKind::Tls,
            _ => ErrorKind::Connect,
        };
        Raised::boxed(kind, self)
    }

    /// Whether trying again cannot help: the proxy refused the tunnel for a
    /// reason of the request's own (forbidden, credentials, a bad target),
    /// which it will give again. 408 and 429 say "later", not "no".
    pub(crate) fn is_final(&self) -> bool {
        match self {
            ProxyError::Refused { status, .. } => {
                status.is_client_error()
                    && *status != StatusCode::REQUEST_TIMEOUT
                    && *status != StatusCode::TOO_MANY_REQUESTS
            }
            _ => false,
        }
    }
}

/// How a proxy is named in errors: `host:port`.
pub(crate) fn proxy_name(proxy: &Uri) -> String {
    let host = proxy.host().unwrap_or("?");
    match proxy.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Asks the proxy on `io` for a tunnel to `target` (`host:port`), with
/// `auth` as its `Proxy-Authorization`, for a connect that began at
/// `began` and may take `patience` (the connect timeout). On success `io`
/// carries the tunnel.
pub(crate) async fn open(
    io: &mut (impl AsyncRead + AsyncWrite + Unpin),
    proxy: &str,
    target: &str,
    auth: Option<&HeaderValue>,
    (began, patience): (Instant, Duration),
) -> Result<(), ProxyError> {
    let handshake = async {
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
        if let Some(auth) = auth {
            request.extend_from_slice(b"Proxy-Authorization: ");
            request.extend_from_slice(auth.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        io.write_all(&request).await?;
        io.flush().await?;
        read_status(io).await
    };
    let broke = |source: BoxError| ProxyError::Handshake {
        proxy: proxy.to_owned(),
        target: target.to_owned(),
        source,
    };
    let status = match tokio::time::timeout_at((began + patience).into(), handshake).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(broke(e)),
        Err(_) => {
            return Err(broke(Box::new(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer to CONNECT within {patience:?} (the connect timeout)"),
            ))));
        }
    };
    if status.is_success() {
        Ok(())
    } else {
        Err(ProxyError::Refused {
            proxy: proxy.to_owned(),
            target: target.to_owned(),
            status,
        })
    }
}

/// Reads the proxy's answer head and returns its status. Nothing may
/// follow the head of a 2xx: the tunnel's first bytes are the target's,
/// and they come only after the client's (the TLS handshake) go out.
async fn read_status(io: &mut (impl AsyncRead + Unpin)) -> Result<StatusCode, BoxError> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    loop {
        match io.read(&mut buf[filled..]).await? {
            0 => return Err("the proxy closed the connection before answering CONNECT".into()),
            n => filled += n,
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut headers);
        match head.parse(&buf[..filled]) {
            Ok(httparse::Status::Complete(len)) => {
                let code = head.code.ok_or("no status in the proxy's answer")?;
                let status = StatusCode::from_u16(code)?;
                if status.is_success() && len < filled {
                    return Err("the proxy sent data after accepting CONNECT".into());
                }
                return Ok(status);
            }
            Ok(httparse::Status::Partial) if filled == buf.len() => {
                return Err(
                    format!("the proxy's answer to CONNECT is over {MAX_HEAD} bytes").into(),
                );
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(format!("the proxy's answer to CONNECT is not HTTP: {e}").into()),
        }
    }
}
