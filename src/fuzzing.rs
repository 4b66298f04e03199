//! Entry points for the fuzz targets in `fuzz/`: thin wrappers around the
//! crate's own parsers, which are private. This module exists only when
//! the crate is built with `--cfg fuzzing`, as `cargo fuzz` builds it.
//!
//! Some of those parsers live in private modules that nothing outside
//! their parent may name (`retry::classify`, `layers::redirect::policy`,
//! `layers::collect`). Rather than widen their visibility for the fuzzer,
//! their source files (and what they name of their parent) are compiled a
//! second time here with `#[path]`: the fuzzer runs the very code the
//! client runs, and normal builds are unchanged.

use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use hyper_util::client::proxy::matcher::Matcher;

use crate::error::{BoxError, Error, ErrorKind, Redacted};
use crate::proxy::Proxy;

#[path = "retry/classify.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod classify;

#[path = "layers/redirect/policy.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod redirect_policy;

#[path = "layers/collect/mod.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod collect;

/// `parse_retry_after` (`retry/classify.rs`) on a `Retry-After` of `value`
/// at `now`; `None` also when `value` cannot be a header value at all.
pub fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, value);
    classify::parse_retry_after(&headers, now)
}

/// Where a `status` response with `Location: location` to a request for
/// `base` redirects to (`location` and `resolve` in
/// `layers/redirect/policy.rs`); `None` when it is not followed.
pub fn redirect_location(status: StatusCode, location: &[u8], base: &Uri) -> Option<Uri> {
    let mut res = http::Response::new(Bytes::new());
    *res.status_mut() = status;
    if let Ok(value) = HeaderValue::from_bytes(location) {
        res.headers_mut().insert(http::header::LOCATION, value);
    }
    redirect_policy::location(&res, base)
}

/// The next hop's method and whether it keeps the body.
pub fn redirect_next_method(status: StatusCode, method: &Method) -> (Method, bool) {
    redirect_policy::next_method(status, method)
}

/// Whether two URLs are one origin, as redirects decide whether
/// credentials may follow.
pub fn same_origin(a: &Uri, b: &Uri) -> bool {
    redirect_policy::same_origin(a, b)
}

/// Why [`redirect_check`] refused a hop, with the error's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRefusal {
    /// More hops than the limit.
    TooMany(String),
    /// The same method and URL twice.
    Loop(String),
    /// `https` to `http`.
    Downgrade(String),
}

/// `RedirectPolicy::check` for the hop to `method` `next` after `chain`.
pub fn redirect_check(
    limit: usize,
    allow_https_downgrade: bool,
    chain: &[(Method, Uri)],
    method: &Method,
    next: &Uri,
) -> Result<(), RedirectRefusal> {
    use redirect_policy::{RedirectError, RedirectPolicy};
    let policy = RedirectPolicy {
        limit,
        allow_https_downgrade,
    };
    policy.check(chain, method, next).map_err(|err| {
        let msg = err.to_string();
        match err {
            RedirectError::TooMany { .. } => RedirectRefusal::TooMany(msg),
            RedirectError::Loop { .. } => RedirectRefusal::Loop(msg),
            RedirectError::Downgrade { .. } => RedirectRefusal::Downgrade(msg),
        }
    })
}

/// The origin key (`origin.rs`): `scheme://host:port`, lowercased.
pub fn origin_key(uri: &Uri) -> String {
    crate::origin::key(uri)
}

/// The URL's port or its scheme's default.
pub fn origin_port(uri: &Uri) -> u16 {
    crate::origin::port(uri)
}

/// A URL as errors and redirect chains show it, without credentials.
pub fn redacted(uri: &Uri) -> String {
    Redacted(uri).to_string()
}

/// An input as errors show it (`redact_input`, `error.rs`): without the
/// `user:password@` of its authority.
pub fn redact_input(input: &str) -> String {
    crate::error::redact_input(input)
}

/// Moves a URL's `user:password@` into `Authorization: Basic`
/// (`move_credentials`, `request/mod.rs`), as the client does to every
/// request and redirect hop; refuses an authority that is no valid one
/// without its credentials.
pub fn move_credentials(req: &mut http::Request<Bytes>) -> Result<(), Error> {
    crate::request::move_credentials(req)
}

/// `Display` and `Debug` of an error about `uri`.
pub fn error_with_url(uri: &Uri) -> (String, String) {
    let err = Error::new(ErrorKind::Timeout, None).with_url(uri.clone());
    (err.to_string(), format!("{err:?}"))
}

/// The proxy matcher the client would build from `proxy`
/// (`Proxy::matcher`, with its URL checks and the `NO_PROXY` list).
pub fn proxy_matcher(proxy: &Proxy) -> Result<Option<Matcher>, Error> {
    proxy.matcher()
}

/// The `Proxy-Authorization` a plain `http` request to `dst` carries
/// through a forwarding proxy.
pub fn proxy_forward_auth(matcher: &Matcher, dst: &Uri) -> Option<HeaderValue> {
    crate::connect::forward_auth(matcher, dst)
}

/// The limits of [`collect`]: `max_body_size`, `max_response_headers`,
/// `max_response_header_size`.
#[derive(Debug, Clone, Copy)]
pub struct CollectLimits {
    /// Largest body accepted, in bytes.
    pub max_body_size: usize,
    /// Most header fields accepted.
    pub max_headers: usize,
    /// Most header bytes accepted (name, value and 4 per field).
    pub max_header_bytes: usize,
}

/// Runs a response with `headers` and `body` through the body-collecting
/// layer (`layers/collect/`: `limits::check_head` and the body limit), as if the connection had returned it, and gives the collected
/// response or the kind of its error.
pub fn collect(
    headers: HeaderMap,
    body: Bytes,
    limits: CollectLimits,
) -> Result<http::Response<Bytes>, ErrorKind> {
    use tower::{Service, ServiceExt};

    let inner = tower::service_fn(move |_req: http::Request<http_body_util::Full<Bytes>>| {
        let mut res = http::Response::new(http_body_util::Full::new(body.clone()));
        *res.headers_mut() = headers.clone();
        std::future::ready(Ok::<_, BoxError>(res))
    });
    let mut svc = collect::CollectBody::new(
        inner,
        crate::response::ResponseLimits {
            max_body_size: limits.max_body_size,
            max_headers: limits.max_headers,
            max_header_bytes: limits.max_header_bytes,
            read_timeout: None,
        },
    );
    let mut cx = Context::from_waker(Waker::noop());
    let req = http::Request::new(crate::layers::Payload::default());
    let mut fut = pin!(async move {
        let svc = svc.ready().await?;
        svc.call(req).await
    });
    // Nothing in it waits: the inner service answers at once.
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(result) => result.map_err(|err| crate::error::classify(&*err)),
        Poll::Pending => panic!("collecting a ready response returned Pending"),
    }
}

/// Where a download's answer goes (`placement` in `download/resume.rs`):
/// the answer's `status`, `Content-Range` and `Content-Length` to an
/// attempt that asked for the rest from `offset` of a body the first
/// answer said was `total` bytes. `Ok((at, complete))`: written from
/// `at`, or (`complete`) the file was whole already; `Err`: refused (the
/// next attempt starts over).
pub fn download_placement(
    status: StatusCode,
    content_range: &[u8],
    content_length: Option<u64>,
    offset: u64,
    total: u64,
) -> Result<(u64, bool), String> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_range) {
        headers.insert(http::header::CONTENT_RANGE, value);
    }
    if let Some(len) = content_length {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let start = crate::download::AttemptStart {
        generation: 1,
        offset,
        validator: Some(crate::download::Validator {
            if_range: HeaderValue::from_static("\"v\""),
            total,
        }),
    };
    match crate::download::placement(status, &headers, &start)? {
        crate::download::Placement::At(at) => Ok((at, false)),
        crate::download::Placement::Complete(len) => Ok((len, true)),
    }
}
