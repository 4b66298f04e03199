//! The pooled HTTP and HTTPS client under the stack: name resolution, TCP
//! with a connect timeout, proxies, rustls with ALPN (h2, http/1.1), and
//! the connection pool.

mod deadline;
mod descriptors;
mod frame_watch;
mod head;
mod pool;
mod record;
mod tcp;
mod transport;
mod tunnel;

use pool::Pool;
pub(crate) use pool::{NewConnection, OnConnection, ResponseBody, SendFailed, Sending};
use transport::Compact;

pub(crate) use record::{ConnectedAt, Lifecycle};
pub(crate) use tcp::{ProxyConnector, forward_auth};
pub(crate) use tunnel::ProxyError;

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::dns::DnsResolver;
use crate::error::Error;
use crate::response::ResponseLimits;

/// hyper's limit on HTTP/1 response header fields when none is set
/// (`DEFAULT_MAX_HEADERS` in hyper's h1 role).
const HYPER_MAX_HEADERS: usize = 100;

/// The pooled client all requests of a `BatchClient` (and its clones)
/// share, behind one `Arc`: tower clones a service for each call (the
/// stack per request, retry and the gate per attempt).
#[derive(Clone, Debug)]
pub(crate) struct HttpsClient(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    pool: Pool,
    /// To add `Proxy-Authorization` to requests a forwarding proxy carries.
    proxy: Option<Arc<hyper_util::client::proxy::matcher::Matcher>>,
    /// Plain `http` is always HTTP/1.1 (h2c is only by prior knowledge), so
    /// its `Host` can be set before a connection is had.
    http_is_http1: bool,
}

impl tower::Service<http::Request<Full<bytes::Bytes>>> for HttpsClient {
    type Response = http::Response<ResponseBody>;
    type Error = crate::error::BoxError;
    type Future = Sending;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Always ready: a request waits for its connection in the response
        // future.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<Full<bytes::Bytes>>) -> Self::Future {
        head::complete(&mut req, self.0.proxy.as_deref(), self.0.http_is_http1);
        self.0.pool.send(req)
    }
}

/// How connections are kept alive, and found dead: TCP keep-alive probes,
/// and HTTP/2 PINGs (see the builder's settings of these names).
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeepAlive {
    pub(crate) tcp: Option<Duration>,
    pub(crate) http2_interval: Option<Duration>,
    pub(crate) http2_timeout: Duration,
    pub(crate) http2_while_idle: bool,
}

/// Connection and pool settings.
pub(crate) struct ConnectConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) pool_max_idle_per_host: usize,
    /// HTTP/1.1 connections open or opening per origin: as many as
    /// requests may run there at once.
    pub(crate) max_connections_per_origin: usize,
    pub(crate) keep_alive: KeepAlive,
    /// Every TLS setting but ALPN, which is set here for each use.
    pub(crate) tls: rustls::ClientConfig,
    pub(crate) http1_only: bool,
    pub(crate) http2_prior_knowledge: bool,
    /// hyper's own header limits are set from these; the body layer makes
    /// them exact (see `layers::collect`).
    pub(crate) limits: ResponseLimits,
    pub(crate) resolver: DnsResolver,
    pub(crate) proxy: Option<Arc<hyper_util::client::proxy::matcher::Matcher>>,
}

pub(crate) fn client(cfg: ConnectConfig) -> Result<HttpsClient, Error> {
    let mut http = HttpConnector::new_with_resolver(cfg.resolver);
    // The TLS wrapper below handles https; let it through.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(cfg.keep_alive.tcp);
    http.set_keepalive_interval(cfg.keep_alive.tcp);
    http.set_keepalive_retries(cfg.keep_alive.tcp.map(|_| 3));
    http.set_connect_timeout(Some(cfg.connect_timeout));
    // Happy eyeballs stays at hyper-util's default (300 ms to the next
    // address family).
    // Running out of file descriptors makes connects wait, for as long as
    // a connect may take.
    let descriptors = Arc::new(descriptors::Descriptors::new(cfg.connect_timeout));
    // Proxies are spoken to in HTTP/1.1, over TLS for `https://` ones.
    let mut proxy_tls = cfg.tls.clone();
    proxy_tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = ProxyConnector::new(
        http,
        cfg.proxy.clone(),
        descriptors.clone(),
        cfg.connect_timeout,
        Arc::new(proxy_tls),
    );

    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg.tls)
        .https_or_http();
    // ALPN offers what the client will speak.
    let https = if cfg.http1_only {
        https.enable_http1().wrap_connector(tcp)
    } else if cfg.http2_prior_knowledge {
        https.enable_http2().wrap_connector(tcp)
    } else {
        https.enable_http1().enable_http2().wrap_connector(tcp)
    };

    let mut http1 = hyper::client::conn::http1::Builder::new();
    http1.max_buf_size(cfg.limits.max_header_bytes);
    // hyper's own limit is 100 fields, in an array on the stack; naming a
    // limit makes it fill a vector of that size for every response head
    // (about 1,500 instructions), so it is named only when it differs.
    if cfg.limits.max_headers != HYPER_MAX_HEADERS {
        http1.max_headers(cfg.limits.max_headers);
    }
    let mut http2 = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .keep_alive_interval(cfg.keep_alive.http2_interval)
        .keep_alive_timeout(cfg.keep_alive.http2_timeout)
        .keep_alive_while_idle(cfg.keep_alive.http2_while_idle)
        .max_header_list_size(h2_header_list_limit(&cfg.limits));
    let alpn_may_pick_h2 = !cfg.http1_only && !cfg.http2_prior_knowledge;
    let pool = Pool::new(
        deadline::within(
            Compact::new(https, cfg.http2_prior_knowledge),
            cfg.connect_timeout,
        ),
        pool::Protocols {
            http1,
            http2,
            alpn_offers_http2: alpn_may_pick_h2 || cfg.http2_prior_knowledge,
            prior_knowledge: cfg.http2_prior_knowledge,
        },
        // Below the 60–75 s keep-alive of common servers and load
        // balancers: reusing a connection the server is about to close is
        // the usual cause of resets on pooled connections.
        cfg.pool_idle_timeout,
        cfg.pool_max_idle_per_host,
        cfg.max_connections_per_origin,
    );
    descriptors.evict_with(pool.closer_of_oldest_idle());
    Ok(HttpsClient(Arc::new(Shared {
        pool,
        proxy: cfg.proxy,
        http_is_http1: !cfg.http2_prior_knowledge,
    })))
}

/// The header list size given to h2. h2 resets a response whose header
/// list is over it with `PROTOCOL_ERROR`, which says nothing of why; so it
/// gets room to spare (twice the limit, plus the 32 bytes h2 counts per
/// field), and the body layer applies the exact limit, as
/// `HeadersTooLarge`. A list past even this is a protocol error.
fn h2_header_list_limit(limits: &ResponseLimits) -> u32 {
    let spare = limits
        .max_header_bytes
        .saturating_mul(2)
        .saturating_add(limits.max_headers.saturating_mul(32));
    u32::try_from(spare).unwrap_or(u32::MAX)
}
