//! [`BatchClientBuilder`]: every setting of a client, with its default.
//! The TLS settings are in `tls.rs` beside this file.

mod downloads;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{ACCEPT, HeaderValue, USER_AGENT};

use super::{BatchClient, Inner};
use crate::connect::{self, ConnectConfig, KeepAlive};
use crate::dns::{Backend, DnsResolver, Resolve};
use crate::download::DownloadSettings;
use crate::error::{BoxError, Error};
use crate::layers::{self, AttemptLayer, AttemptService, GateConfig, RedirectPolicy, StackConfig};
use crate::proxy::Proxy;
use crate::response::ResponseLimits;
use crate::retry::RetryPolicy;
use crate::tls::TlsSettings;

const DEFAULT_USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// Configures a [`BatchClient`].
///
/// Every setter takes and returns the builder; a setting that is invalid is
/// reported by [`build()`](Self::build), not by the setter.
///
/// | setting | default |
/// |---|---|
/// | [`concurrency`](Self::concurrency) | 100 |
/// | [`per_host_concurrency`](Self::per_host_concurrency) | unlimited |
/// | [`rate_limit`](Self::rate_limit) / [`per_host_rate_limit`](Self::per_host_rate_limit) | none |
/// | [`batch_deadline`](Self::batch_deadline) | none |
/// | [`error_for_status`](Self::error_for_status) | off: every status is a response |
/// | [`timeout`](Self::timeout) (per attempt) | 30 s |
/// | [`connect_timeout`](Self::connect_timeout) | 10 s |
/// | [`read_timeout`](Self::read_timeout) | none (a download's body: the attempt timeout) |
/// | [`retry`](Self::retry) | [`RetryPolicy::default()`]: 3 retries, 100 ms → 10 s, full jitter |
/// | [`max_body_size`](Self::max_body_size) | 32 MiB |
/// | [`max_download_size`](Self::max_download_size) | unlimited (a download's body goes to its file) |
/// | [`download_checksum`](Self::download_checksum) | off |
/// | [`user_agent`](Self::user_agent) | `batch-fetch/<version>` |
/// | [`default_headers`](Self::default_headers) | `Accept: */*` (a request's own `Accept`, or one set here, wins) |
/// | [`tls_built_in_root_certs`](Self::tls_built_in_root_certs) | on: the operating system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` on Linux) and the bundled web PKI roots |
/// | [`add_root_certificate`](Self::add_root_certificate) / [`identity`](Self::identity) | none |
/// | [`pool_idle_timeout`](Self::pool_idle_timeout) | 30 s |
/// | [`pool_max_idle_per_host`](Self::pool_max_idle_per_host) | unlimited |
/// | [`tcp_keepalive`](Self::tcp_keepalive) | 15 s |
/// | [`http2_keep_alive_interval`](Self::http2_keep_alive_interval) / [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout) | 10 s / 10 s, while requests are open |
/// | [`redirect_limit`](Self::redirect_limit) | 10 hops |
/// | [`redirect_https_downgrade`](Self::redirect_https_downgrade) | refused |
/// | [`decompress`](Self::decompress) | on (gzip, deflate, br, zstd: as features allow) |
/// | [`http1_only`](Self::http1_only) / [`http2_prior_knowledge`](Self::http2_prior_knowledge) | neither: HTTP/2 when ALPN picks it, else HTTP/1.1 |
/// | [`max_response_headers`](Self::max_response_headers) | 100 |
/// | [`max_response_header_size`](Self::max_response_header_size) | 64 KiB |
/// | [`resolve`](Self::resolve) | none |
/// | [`dns_resolver`](Self::dns_resolver) | the system's getaddrinfo |
/// | [`proxy`](Self::proxy) / [`no_proxy`](Self::no_proxy) | `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` |
/// | [`layer`](Self::layer) | none: your own tower layers around each attempt |
#[must_use]
pub struct BatchClientBuilder {
    concurrency: usize,
    per_host_concurrency: Option<usize>,
    rate_limit: Option<(u32, Duration)>,
    per_host_rate_limit: Option<(u32, Duration)>,
    batch_deadline: Option<Duration>,
    error_for_status: bool,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    limits: ResponseLimits,
    downloads: DownloadSettings,
    /// Set explicitly; wins over a `User-Agent` in `default_headers`.
    user_agent: Option<String>,
    default_headers: HeaderMap,
    tls: TlsSettings,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    keep_alive: KeepAlive,
    redirect_limit: usize,
    redirect_https_downgrade: bool,
    decompress: bool,
    http1_only: bool,
    http2_prior_knowledge: bool,
    dns_overrides: HashMap<String, Vec<SocketAddr>>,
    dns_resolver: Option<Arc<dyn Resolve>>,
    #[cfg(feature = "hickory-dns")]
    hickory_dns: bool,
    proxy: ProxySetting,
    /// The caller's own layers around each attempt, the first outermost.
    layers: Vec<AttemptLayer>,
}

/// Where proxies come from.
#[derive(Debug)]
enum ProxySetting {
    Environment,
    Explicit(Proxy),
    Off,
}

impl Default for BatchClientBuilder {
    fn default() -> Self {
        BatchClientBuilder {
            concurrency: 100,
            per_host_concurrency: None,
            rate_limit: None,
            per_host_rate_limit: None,
            batch_deadline: None,
            error_for_status: false,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            limits: ResponseLimits {
                max_body_size: 32 * 1024 * 1024,
                max_headers: 100,
                max_header_bytes: 64 * 1024,
                read_timeout: None,
            },
            downloads: DownloadSettings::default(),
            user_agent: None,
            default_headers: HeaderMap::new(),
            tls: TlsSettings::default(),
            pool_idle_timeout: Duration::from_secs(30),
            pool_max_idle_per_host: usize::MAX,
            keep_alive: KeepAlive {
                tcp: Some(Duration::from_secs(15)),
                http2_interval: Some(Duration::from_secs(10)),
                http2_timeout: Duration::from_secs(10),
                http2_while_idle: false,
            },
            redirect_limit: 10,
            redirect_https_downgrade: false,
            decompress: true,
            http1_only: false,
            http2_prior_knowledge: false,
            dns_overrides: HashMap::new(),
            dns_resolver: None,
            #[cfg(feature = "hickory-dns")]
            hickory_dns: false,
            proxy: ProxySetting::Environment,
            layers: Vec::new(),
        }
    }
}

impl BatchClientBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most requests in flight at once, across the client and all
    /// its clones. A request holds its place from sending until the last
    /// byte of its body, but not while it waits to retry.
    ///
    /// Default is 100. Zero is a [`Config`](crate::ErrorKind::Config) error.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the most requests in flight at once to one origin (scheme, host
    /// and port).
    ///
    /// It also bounds the HTTP/1.1 connections open (or opening) to an
    /// origin: at most this many, or [`concurrency`](Self::concurrency)
    /// when that is lower or this is unset. A request finding all of them
    /// busy waits for one to come free.
    ///
    /// Default is unlimited. Zero is a [`Config`](crate::ErrorKind::Config)
    /// error.
    pub fn per_host_concurrency(mut self, n: usize) -> Self {
        self.per_host_concurrency = Some(n);
        self
    }

    /// Limits the whole client (all its clones, all batches) to `n`
    /// requests per `per`, like `rate_limit(50, Duration::from_secs(1))`.
    ///
    /// Requests are spaced evenly, one every `per / n` (GCRA, by governor).
    /// Up to 50 requests a second there is no burst: no window of length
    /// `per` ever holds more than `n`, which is what a server counting
    /// requests per window sees. Faster than that, a request the timer
    /// wakes late may be followed at once by the next (up to 20 ms of
    /// lateness is made up), so the rate asked for is the rate achieved
    /// and a window holds at most `n × (1 + 20 ms / per)`: 2 % more for a
    /// per-second limit.
    ///
    /// Every attempt takes a slot, retries and redirect hops included.
    /// Waiting requests queue first come, first served, holding no
    /// concurrency permit; their batch starts other inputs meanwhile.
    ///
    /// Default is none. `n` or `per` zero is a
    /// [`Config`](crate::ErrorKind::Config) error.
    pub fn rate_limit(mut self, n: u32, per: Duration) -> Self {
        self.rate_limit = Some((n, per));
        self
    }

    /// Limits each origin (scheme, host and port) to `n` requests per
    /// `per`, spaced evenly as [`rate_limit`](Self::rate_limit) does.
    ///
    /// Default is none. `n` or `per` zero is a
    /// [`Config`](crate::ErrorKind::Config) error.
    pub fn per_host_rate_limit(mut self, n: u32, per: Duration) -> Self {
        self.per_host_rate_limit = Some((n, per));
        self
    }

    /// Sets a deadline for every batch of this client, counted from when
    /// the batch starts. What is unfinished then ends with an error of
    /// kind [`Cancelled`](crate::ErrorKind::Cancelled); see
    /// [`Batch::deadline`](crate::Batch::deadline), which overrides it for
    /// one batch.
    ///
    /// Default is none. Zero is a [`Config`](crate::ErrorKind::Config)
    /// error.
    pub fn batch_deadline(mut self, deadline: Duration) -> Self {
        self.batch_deadline = Some(deadline);
        self
    }

    /// Takes a final `4xx` or `5xx` response (after its retries) for a
    /// failure: an error of kind [`Status`](crate::ErrorKind::Status),
    /// whose [`status()`](crate::Error::status) says which, in the input's
    /// place. A fail-fast `fetch_all` then stops at it, and
    /// `fetch_all_settled` keeps it in place. As aiohttp's
    /// `raise_for_status=True`, or reqwest's `error_for_status()` on every
    /// response.
    ///
    /// Default is off: any status is a response, as in reqwest.
    pub fn error_for_status(mut self, enabled: bool) -> Self {
        self.error_for_status = enabled;
        self
    }

    /// Sets the timeout of each attempt, from connecting to the last byte of
    /// the body (of a download: to the response head, see
    /// [`read_timeout`](Self::read_timeout)). Waiting for a permit or a
    /// retry backoff does not count.
    /// An input may set its own with
    /// [`Request::timeout`](crate::Request::timeout).
    ///
    /// Default is 30 seconds.
    pub fn timeout(mut self, dur: Duration) -> Self {
        self.timeout = dur;
        self
    }

    /// Sets the read timeout: the longest a response body may stay silent.
    /// Each read resets it, so a body may take any time as long as its
    /// bytes keep coming (reqwest's `read_timeout`, aria2's `--timeout`).
    /// A body silent that long fails with an error of kind
    /// [`Timeout`](crate::ErrorKind::Timeout), retried like an attempt
    /// that timed out; a download resumes where it stopped when the
    /// server allows it.
    ///
    /// A download's body is bounded by this, not by
    /// [`timeout`](Self::timeout), which then covers its attempt only up
    /// to the response head: a large file must not fail for taking more
    /// than 30 seconds. Unset, a download's body may be silent for the
    /// attempt timeout.
    ///
    /// Default is none: the attempt timeout bounds a fetch's body.
    pub fn read_timeout(mut self, dur: Duration) -> Self {
        self.limits.read_timeout = Some(dur);
        self
    }

    /// Sets the timeout for establishing a connection: the name lookup,
    /// the TCP connect (each address tried), a proxy's handshake and the
    /// TLS handshake, as a whole. A connect that runs out of it fails with
    /// [`ErrorKind::Connect`](crate::ErrorKind::Connect) (and
    /// [`Error::is_timeout`](crate::Error::is_timeout)), which the retry
    /// policy retries.
    ///
    /// Default is 10 seconds.
    pub fn connect_timeout(mut self, dur: Duration) -> Self {
        self.connect_timeout = dur;
        self
    }

    /// Sets how failed attempts are retried.
    ///
    /// Default is [`RetryPolicy::default()`]; use [`RetryPolicy::none()`] to
    /// turn retries off. An input may set its own with
    /// [`Request::retry`](crate::Request::retry), and still draws on this
    /// policy's retry budget.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the largest response body accepted, in bytes. A larger body ends
    /// the attempt with [`BodyTooLarge`](crate::ErrorKind::BodyTooLarge)
    /// without the rest being read; a `Content-Length` over the limit is
    /// refused before reading any of it.
    ///
    /// Default is 32 MiB.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.limits.max_body_size = bytes;
        self
    }

    /// Sets the `User-Agent` sent with requests that have none.
    ///
    /// Default is `batch-fetch/<version>`.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// Sets headers sent with every request that does not set them itself.
    ///
    /// Default is none but `Accept: */*` (as curl and reqwest send), which
    /// an `Accept` here or on a request replaces.
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// Sets how long an idle pooled connection is kept for reuse.
    ///
    /// Default is 30 seconds, below the 60–75 s keep-alive of common
    /// servers, so the client closes idle connections before they do.
    pub fn pool_idle_timeout(mut self, dur: Duration) -> Self {
        self.pool_idle_timeout = dur;
        self
    }

    /// Sets the most idle connections kept per origin.
    ///
    /// Default is unlimited.
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool_max_idle_per_host = n;
        self
    }

    /// Sets how long a connection may be idle before TCP keep-alive probes
    /// start (then one every same period, 3 unanswered ending it), or
    /// `None` for no probes.
    ///
    /// Default is 15 seconds, as reqwest: it keeps NAT and firewall
    /// mappings of long quiet responses alive, and finds a peer that went
    /// away without a word.
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.keep_alive.tcp = idle;
        self
    }

    /// Sets how long an HTTP/2 connection may go without receiving a frame
    /// before the client sends a PING to check it, or `None` for no PINGs.
    /// A PING unanswered within
    /// [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout) closes
    /// the connection, and its requests fail (and are retried by the retry
    /// policy) instead of waiting out their attempt timeout on a dead
    /// connection that the pool would hand to the retries too.
    ///
    /// Default is 10 seconds, only while the connection has requests open
    /// (see [`http2_keep_alive_while_idle`](Self::http2_keep_alive_while_idle)),
    /// so that a silent connection is found dead within 20 s, inside the
    /// default 30 s attempt timeout. A server that answers is never pinged
    /// while it sends.
    pub fn http2_keep_alive_interval(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive.http2_interval = interval;
        self
    }

    /// Sets how long the client waits for the answer to an HTTP/2 keep-alive
    /// PING before it closes the connection. Default is 10 seconds.
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.keep_alive.http2_timeout = timeout;
        self
    }

    /// Sends the HTTP/2 keep-alive PINGs on idle pooled connections too, so
    /// that a dead one is found before a request is handed to it. Default
    /// is off: PINGs only while requests are open.
    pub fn http2_keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.keep_alive.http2_while_idle = enabled;
        self
    }

    /// Sets the most redirects followed for one input; 0 turns following
    /// off (a `3xx` is then returned as the response).
    ///
    /// `301`, `302`, `303`, `307` and `308` with a `Location` are followed.
    /// `303` turns the request into a `GET` (a `HEAD` stays one), and so do
    /// `301` and `302` for a `POST`, as browsers do; `307` and `308` keep
    /// method and body. `Authorization`, `Cookie` and `Proxy-Authorization`
    /// are not sent to an origin other than the input's. A loop or a longer
    /// chain is an error of kind [`Redirect`](crate::ErrorKind::Redirect)
    /// that names the chain; [`Response::url()`](crate::Response::url) is
    /// the final URL.
    ///
    /// Default is 10.
    pub fn redirect_limit(mut self, hops: usize) -> Self {
        self.redirect_limit = hops;
        self
    }

    /// Allows a redirect from an `https` URL to an `http` one, which sends
    /// the rest of the exchange in clear text.
    ///
    /// Default is `false`: such a redirect is a
    /// [`Redirect`](crate::ErrorKind::Redirect) error.
    pub fn redirect_https_downgrade(mut self, allow: bool) -> Self {
        self.redirect_https_downgrade = allow;
        self
    }

    /// Turns decoding of compressed responses on or off. When on, requests
    /// without an `Accept-Encoding` of their own announce the encodings
    /// this build can decode (the `gzip`, `deflate`, `brotli` and `zstd`
    /// features, all on by default), and bodies arrive decoded, with the
    /// `Content-Encoding` and `Content-Length` headers removed.
    /// [`max_body_size`](Self::max_body_size) counts decoded bytes, so a
    /// compression bomb ends in [`BodyTooLarge`](crate::ErrorKind::BodyTooLarge).
    ///
    /// Default is `true`.
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Speaks only HTTP/1.1, even to HTTPS servers that offer HTTP/2.
    ///
    /// Default: HTTP/2 when the server chooses it by ALPN, else HTTP/1.1.
    pub fn http1_only(mut self) -> Self {
        self.http1_only = true;
        self
    }

    /// Speaks HTTP/2 from the first byte, also over plain `http` (h2c), to
    /// servers known to support it. Requests to one origin then share a
    /// single connection from the start.
    ///
    /// Default: HTTP/2 only when an HTTPS server chooses it by ALPN.
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.http2_prior_knowledge = true;
        self
    }

    /// Sets the most header fields accepted in a response head (HTTP/1).
    /// More is an error of kind
    /// [`HeadersTooLarge`](crate::ErrorKind::HeadersTooLarge).
    ///
    /// Default is 100.
    pub fn max_response_headers(mut self, n: usize) -> Self {
        self.limits.max_headers = n;
        self
    }

    /// Sets the most bytes accepted in a response head: the status line and
    /// headers in HTTP/1, the decoded header list in HTTP/2. More is an
    /// error of kind [`HeadersTooLarge`](crate::ErrorKind::HeadersTooLarge).
    /// It also caps the HTTP/1 read buffer. At least 8 KiB.
    ///
    /// Default is 64 KiB.
    pub fn max_response_header_size(mut self, bytes: usize) -> Self {
        self.limits.max_header_bytes = bytes;
        self
    }

    /// Sends requests for `host` to `addr` instead of resolving it, like
    /// curl's `--resolve`. TLS is still verified against `host`. The port of
    /// `addr` is used when the URL names none (an explicit URL port wins; a
    /// port of 0 means the URL's). Call it again to add addresses, for the
    /// same host or others. `host` is read as a URL's host is: any case,
    /// an internationalised name as it is written or in punycode.
    ///
    /// Default is none.
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        let host = crate::dns::override_key(&host.into());
        self.dns_overrides.entry(host).or_default().push(addr);
        self
    }

    /// Resolves host names with `resolver` instead of the system's
    /// getaddrinfo. [`resolve`](Self::resolve) overrides still come first.
    ///
    /// Default is the system resolver, run on Tokio's blocking threads (up
    /// to 512 lookups at once).
    pub fn dns_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.dns_resolver = Some(resolver);
        self
    }

    /// Resolves host names with hickory's async resolver, configured from
    /// the system (`/etc/resolv.conf`) and caching answers for their TTL,
    /// instead of getaddrinfo: no blocking thread per lookup, which helps
    /// batches over thousands of hosts.
    ///
    /// Default is `false`. Requires the `hickory-dns` feature.
    #[cfg(feature = "hickory-dns")]
    #[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
    pub fn hickory_dns(mut self, on: bool) -> Self {
        self.hickory_dns = on;
        self
    }

    /// Uses `proxy` instead of the environment's proxies. Several calls
    /// combine (e.g. one [`Proxy::http`] and one [`Proxy::https`]).
    ///
    /// Default: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (or
    /// lowercase) from the environment, read at `build()`.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        match &mut self.proxy {
            ProxySetting::Explicit(current) => current.merge(proxy),
            _ => self.proxy = ProxySetting::Explicit(proxy),
        }
        self
    }

    /// Uses no proxy at all, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
        self
    }

    /// Wraps each attempt in a tower layer of your own: to sign every
    /// attempt, refresh a token, count or time attempts, or answer in
    /// place of the network in a test.
    ///
    /// # What the layer sees
    ///
    /// Its service is called once for every request the client sends: each
    /// attempt, each retry, each redirect hop (a request of its own), and
    /// each request sent again because the server did not process it. It
    /// takes an `http::Request<`[`Bytes`](bytes::Bytes)`>`: the method, the
    /// absolute URL of that hop, the headers (the request's own and the
    /// client's [`default_headers`](Self::default_headers) and
    /// `User-Agent`), the whole body, and the request's extensions. It
    /// gives back an `http::Response<Bytes>` whose body is complete and
    /// already decoded (`Content-Encoding` and `Content-Length` removed
    /// when decoded), or an error of a type that converts into a
    /// [`BoxError`](crate::BoxError). It wraps a
    /// `tower::util::BoxCloneSyncService<http::Request<Bytes>,
    /// http::Response<Bytes>, BoxError>` that sends the request and reads
    /// the response.
    ///
    /// It does not see what is added under it: `Accept-Encoding` (with
    /// [`decompress`](Self::decompress) on), `Host` and a forwarding
    /// proxy's credentials; nor the bytes on the wire, the connection, or
    /// the response before its body is read and checked against
    /// [`max_body_size`](Self::max_body_size) and the header limits. So a
    /// signature over headers must leave those out.
    ///
    /// # Where it sits
    ///
    /// Inside the retries and redirects, the concurrency and rate limits
    /// and the per-attempt [`timeout`](Self::timeout); over the body
    /// collection, decompression and the connection pool. So its time,
    /// from the call to the response, counts in the attempt's timeout, and
    /// the attempt holds its permits meanwhile. Its `poll_ready` is awaited
    /// before each attempt, with the permits held and before the timeout
    /// starts.
    ///
    /// What it answers is judged like a server's: a response of a
    /// [retried status](RetryPolicy::retry_statuses) is retried, a redirect
    /// followed. What it answers without calling the service below is not
    /// checked against the size or header limits. An error it raises ends
    /// the attempt; tower's `Elapsed` counts as a
    /// [`Timeout`](crate::ErrorKind::Timeout) (retried), anything else
    /// that is not an error of the client's own as a
    /// [`Protocol`](crate::ErrorKind::Protocol) error (not retried).
    ///
    /// A [streaming](crate::BatchClient::fetch_stream_bodies) request's
    /// `2xx` answer reaches it with an empty body: the body streams past
    /// it to the caller, from the response's extensions (a response made
    /// anew without them loses it).
    ///
    /// The service is cloned for each attempt: keep shared state behind an
    /// `Arc`.
    ///
    /// The input's record (what [`Response::timings`](crate::Response::timings)
    /// and [`remote_addr`](crate::Response::remote_addr) are read from)
    /// rides in a private request extension through the layer; a service
    /// that drops or replaces the extensions loses those for its attempt,
    /// and nothing else.
    ///
    /// # Order
    ///
    /// Several calls compose, the first call outermost, as
    /// `tower::ServiceBuilder` orders layers: with `.layer(a).layer(b)`, a
    /// request goes through `a`, then `b`, then out; a response comes back
    /// through `b`, then `a`.
    ///
    /// Default is none; a client without layers of its own pays nothing
    /// for this.
    ///
    /// ```
    /// use batch_fetch::BatchClient;
    /// use http::HeaderValue;
    ///
    /// // Stamps every attempt, retries included, as it leaves.
    /// let client = BatchClient::builder()
    ///     .layer(tower::util::MapRequestLayer::new(|mut req: http::Request<bytes::Bytes>| {
    ///         req.headers_mut()
    ///             .insert("x-sent-at", HeaderValue::from_static("now"));
    ///         req
    ///     }))
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<AttemptService> + Send + Sync + 'static,
        L::Service: tower::Service<http::Request<Bytes>, Response = http::Response<Bytes>>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<Bytes>>>::Error: Into<BoxError>,
        <L::Service as tower::Service<http::Request<Bytes>>>::Future: Send + 'static,
    {
        use tower::ServiceExt;

        self.layers
            .push(AttemptLayer::new(tower::layer::layer_fn(move |inner| {
                layer.layer(inner).map_err(Into::<BoxError>::into)
            })));
        self
    }

    /// Every check `build` makes before it builds anything (the rate limits
    /// are checked as `stack_config` turns them into spacings).
    fn validate(&self) -> Result<(), Error> {
        if self.concurrency == 0 {
            return Err(Error::config("concurrency must be at least 1"));
        }
        if self.per_host_concurrency == Some(0) {
            return Err(Error::config("per_host_concurrency must be at least 1"));
        }
        // tokio's semaphores hold at most this many permits.
        let max_permits = tokio::sync::Semaphore::MAX_PERMITS;
        if self.concurrency > max_permits || self.per_host_concurrency > Some(max_permits) {
            return Err(Error::config(format!(
                "concurrency limits must be at most {max_permits}"
            )));
        }
        if self.batch_deadline.is_some_and(|d| d.is_zero()) {
            return Err(Error::config("batch_deadline must be longer than zero"));
        }
        if self.http1_only && self.http2_prior_knowledge {
            return Err(Error::config(
                "http1_only and http2_prior_knowledge exclude each other",
            ));
        }
        if self.limits.max_headers == 0 {
            return Err(Error::config("max_response_headers must be at least 1"));
        }
        // hyper's HTTP/1 read buffer cannot be smaller than this.
        if !(8 * 1024..=u32::MAX as usize).contains(&self.limits.max_header_bytes) {
            return Err(Error::config(
                "max_response_header_size must be at least 8 KiB and fit in 32 bits",
            ));
        }
        let keep_alive = &self.keep_alive;
        if keep_alive.tcp.is_some_and(|d| d.is_zero())
            || keep_alive.http2_interval.is_some_and(|d| d.is_zero())
            || keep_alive.http2_timeout.is_zero()
        {
            return Err(Error::config(
                "keep-alive periods must be longer than zero (None turns one off)",
            ));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config("timeouts must be longer than zero"));
        }
        self.retry.validate().map_err(Error::config)?;

        Ok(())
    }

    /// What the tower stack needs of these settings.
    pub(crate) fn stack_config(&self) -> Result<StackConfig, Error> {
        Ok(StackConfig {
            redirect: RedirectPolicy {
                limit: self.redirect_limit,
                allow_https_downgrade: self.redirect_https_downgrade,
            },
            decompress: self.decompress,
            retry: self.retry,
            gate: GateConfig {
                concurrency: self.concurrency,
                per_host_concurrency: self.per_host_concurrency,
                rate_spacing: spacing("rate_limit", self.rate_limit)?,
                host_rate_spacing: spacing("per_host_rate_limit", self.per_host_rate_limit)?,
            },
            timeout: self.timeout,
            limits: self.limits,
            layers: self.layers.clone(),
        })
    }

    /// Builds the client.
    ///
    /// It needs no runtime to build; requests must run on a Tokio runtime.
    ///
    /// # Errors
    ///
    /// An error of kind [`Config`](crate::ErrorKind::Config) if a setting is
    /// invalid: a zero concurrency, a retry policy whose `max_delay` is below
    /// its `base_delay`, a user agent that is not a valid header value, no
    /// root certificate to trust (the built-in ones off and none added), an
    /// identity whose key does not fit its certificate, both `http1_only`
    /// and `http2_prior_knowledge`, header limits out of range, or a rate
    /// limit or deadline of zero.
    pub fn build(self) -> Result<BatchClient, Error> {
        self.validate()?;
        let stack_config = self.stack_config()?;

        let mut default_headers = self.default_headers;
        match self.user_agent {
            Some(agent) => {
                let agent = HeaderValue::try_from(agent)
                    .map_err(|e| Error::config(format!("user agent: {e}")))?;
                default_headers.insert(USER_AGENT, agent);
            }
            None if !default_headers.contains_key(USER_AGENT) => {
                default_headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
            }
            None => {}
        }
        // As curl and reqwest: some servers refuse a request without one.
        if !default_headers.contains_key(ACCEPT) {
            default_headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }

        let backend = match self.dns_resolver {
            Some(custom) => Backend::Custom(custom),
            None => Backend::system(),
        };
        // A resolver of the caller's own wins over hickory.
        #[cfg(feature = "hickory-dns")]
        let backend = match backend {
            Backend::System(_) if self.hickory_dns => Backend::hickory()?,
            backend => backend,
        };
        let proxy = match self.proxy {
            ProxySetting::Environment => Proxy::from_env().matcher()?,
            ProxySetting::Explicit(proxy) => proxy.matcher()?,
            ProxySetting::Off => None,
        }
        .map(Arc::new);

        let client = connect::client(ConnectConfig {
            connect_timeout: self.connect_timeout,
            pool_idle_timeout: self.pool_idle_timeout,
            pool_max_idle_per_host: self.pool_max_idle_per_host,
            // The gate lets no more run at once to an origin; a connection
            // more could only sit idle.
            max_connections_per_origin: self
                .per_host_concurrency
                .map_or(self.concurrency, |n| n.min(self.concurrency)),
            keep_alive: self.keep_alive,
            tls: self.tls.client_config()?,
            http1_only: self.http1_only,
            http2_prior_knowledge: self.http2_prior_knowledge,
            limits: self.limits,
            resolver: DnsResolver::new(self.dns_overrides, backend),
            proxy,
        })?;
        let stack = layers::stack(&stack_config, client);
        Ok(BatchClient::from_inner(Inner {
            stack,
            default_headers,
            concurrency: self.concurrency,
            batch_deadline: self.batch_deadline,
            error_for_status: self.error_for_status,
            downloads: self.downloads,
        }))
    }
}

impl std::fmt::Debug for BatchClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials; show their names only.
        f.debug_struct("BatchClientBuilder")
            .field("concurrency", &self.concurrency)
            .field("per_host_concurrency", &self.per_host_concurrency)
            .field("rate_limit", &self.rate_limit)
            .field("per_host_rate_limit", &self.per_host_rate_limit)
            .field("batch_deadline", &self.batch_deadline)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.limits.read_timeout)
            .field("retry", &self.retry)
            .field("max_body_size", &self.limits.max_body_size)
            .field("downloads", &self.downloads)
            .field("user_agent", &self.user_agent)
            .field(
                "default_headers",
                &self.default_headers.keys().collect::<Vec<_>>(),
            )
            .field("tls", &self.tls)
            .field("redirect_limit", &self.redirect_limit)
            .field("decompress", &self.decompress)
            .field("dns_overrides", &self.dns_overrides)
            .field("custom_dns_resolver", &self.dns_resolver.is_some())
            .field("proxy", &self.proxy)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

/// The time between two requests under a limit of `n` per `per`.
fn spacing(name: &str, limit: Option<(u32, Duration)>) -> Result<Option<Duration>, Error> {
    let Some((n, per)) = limit else {
        return Ok(None);
    };
    if n == 0 {
        return Err(Error::config(format!(
            "{name} must allow at least 1 request"
        )));
    }
    let spacing = per / n;
    if spacing.is_zero() {
        return Err(Error::config(format!(
            "{name} of {n} per {per:?} is not a usable rate"
        )));
    }
    Ok(Some(spacing))
}
