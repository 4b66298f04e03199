//! What the retry policy looks at in a result: is it worth another attempt,
//! and did the server say when.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

use crate::connect::{Lifecycle, ProxyError, SendFailed};
use crate::error::{self, ErrorKind};

/// Whether the request of a failed attempt is sent again at once, as the
/// same attempt: the server provably did not process it, or (for a method
/// that may be repeated) a keep-alive connection that had served earlier
/// requests was closed by the server as this one went out.
///
/// Provably not processed (RFC 9113 §8.7 and §6.8), whatever the method:
///
/// * an HTTP/2 stream the server refused (`REFUSED_STREAM`);
/// * an HTTP/2 stream cut off by the server's `GOAWAY`: the HTTP/2 client
///   fails only the streams above the GOAWAY's last stream id, which the
///   server says it never processed, and those it had not yet opened;
/// * a request that never left the client because its connection closed
///   first (hyper's "canceled"; the pool sends one that hyper gives back
///   on another connection itself, a few times);
/// * a request whose HTTP/2 connection ended while its stream was still
///   waiting for the server to allow one more (hyper then drops it
///   unanswered: "dispatch task is gone").
pub(super) fn redispatch(
    method: &Method,
    err: &(dyn StdError + Send + Sync + 'static),
) -> Option<Redispatch> {
    let err: &(dyn StdError + 'static) = err;
    if err.is::<error::BodyError>() || err.is::<error::Interrupted>() {
        return None;
    }
    let mut stale = false;
    let mut over_h2 = false;
    for e in error::chain(Some(err)) {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            if h2.is_remote()
                && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
            {
                return Some(if on_connection(err, Lifecycle::served_streams) {
                    Redispatch::Recycled
                } else {
                    Redispatch::Unprocessed
                });
            }
            over_h2 = true;
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_canceled() || error::is_dispatch_gone(h) {
                return Some(Redispatch::Unprocessed);
            }
            stale |= h.is_incomplete_message();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            stale |= matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            );
        }
    }
    // An HTTP/1.1 keep-alive connection that served earlier requests may
    // be closed by the server just as the next request goes out: idle
    // past its keep-alive timeout, or after each answer without saying so
    // (tinyproxy answers `HTTP/1.1` without `Connection: close`, then
    // closes). What was sent on it is lost unread. Repeated like this, on
    // a new connection, only for a method that may be repeated (as curl,
    // Go and browsers do); a new connection that fails is a failing
    // server, for the retry policy to judge.
    (stale && !over_h2 && is_idempotent(method) && on_connection(err, Lifecycle::answered_before))
        .then_some(Redispatch::StaleConnection)
}

/// Whether the pool error in `err` names the connection it happened on,
/// and that connection is `such`.
fn on_connection(err: &(dyn StdError + 'static), such: impl Fn(&Lifecycle) -> bool) -> bool {
    error::chain(Some(err)).any(|e| {
        e.downcast_ref::<SendFailed>()
            .is_some_and(|failed| such(failed.connected().lifecycle()))
    })
}

/// Why a request is sent again at once (see [`redispatch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Redispatch {
    /// The server provably did not process it.
    Unprocessed,
    /// The same, turned away by an HTTP/2 connection that served other
    /// streams: the server recycles its connections (nginx's
    /// `keepalive_requests`), and a busy client meets that several times
    /// in a row while the batch moves on.
    Recycled,
    /// A keep-alive connection that had served earlier requests closed
    /// before any of the response came: the server most likely closed it
    /// as the request went out, but may have failed while processing it,
    /// so this is done once per attempt only, on a new connection (another
    /// kept one may be closing the same way).
    StaleConnection,
}

/// Whether a finished attempt should be repeated, and after how long the
/// server asked us to wait.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    Done,
    Retry { retry_after: Option<Duration> },
}

/// A failed attempt: its error, and the kind it was classified as (once,
/// by the policy, for this decision and for what it tells the observer).
pub(super) struct Failure<'a> {
    pub(super) error: &'a (dyn StdError + Send + Sync + 'static),
    pub(super) kind: ErrorKind,
}

/// The verdict on an attempt of a `method` request that ended with
/// `outcome`.
pub(super) fn verdict(
    method: &Method,
    outcome: Result<&http::Response<bytes::Bytes>, Failure<'_>>,
    policy: &crate::retry::RetryPolicy,
) -> Verdict {
    let may_resend = policy.retry_non_idempotent || is_idempotent(method);
    let Failure { error: err, kind } = match outcome {
        Ok(res) => {
            return if may_resend && policy.retries_status(res.status()) {
                Verdict::Retry {
                    retry_after: parse_retry_after(res.headers(), SystemTime::now()),
                }
            } else {
                Verdict::Done
            };
        }
        Err(failure) => failure,
    };
    // The server did not process it (and sending it again at once did not
    // help): safe for any method.
    if refused_by_server(err) || goaway(err) {
        return Verdict::Retry { retry_after: None };
    }
    // A download cut off mid-body: the next attempt asks for the rest.
    if may_resend && interrupted(err) {
        return Verdict::Retry { retry_after: None };
    }
    // A proxy that refused the tunnel for good (403, 407...) says so again
    // to the next try.
    if proxy_refused_for_good(err) {
        return Verdict::Done;
    }
    match kind {
        // Nothing was sent, so even a POST can go again.
        ErrorKind::Connect => Verdict::Retry { retry_after: None },
        ErrorKind::Timeout if may_resend => Verdict::Retry { retry_after: None },
        ErrorKind::Protocol | ErrorKind::Cancelled if may_resend && closed_before_response(err) => {
            Verdict::Retry { retry_after: None }
        }
        _ => Verdict::Done,
    }
}

fn interrupted(err: &(dyn StdError + Send + Sync + 'static)) -> bool {
    let err: &(dyn StdError + 'static) = err;
    error::chain(Some(err)).any(|e| e.is::<error::Interrupted>())
}

fn proxy_refused_for_good(err: &(dyn StdError + Send + Sync + 'static)) -> bool {
    let err: &(dyn StdError + 'static) = err;
    error::chain(Some(err)).any(|e| {
        e.downcast_ref::<ProxyError>()
            .is_some_and(ProxyError::is_final)
    })
}

/// True if the server said it did not process the request: an HTTP/2
/// `REFUSED_STREAM` (RFC 9113 §8.7). Safe to resend whatever the method.
///
/// A `GOAWAY` is not counted here (see `goaway`): hyper also hands one
/// that arrives just after a request's HEADERS went out to that request,
/// which the server may have processed.
fn refused_by_server(err: &(dyn StdError + Send + Sync + 'static)) -> bool {
    let err: &(dyn StdError + 'static) = err;
    if err.is::<error::BodyError>() {
        return false;
    }
    error::chain(Some(err)).any(|e| {
        e.downcast_ref::<h2::Error>()
            .is_some_and(|h2| h2.is_remote() && h2.reason() == Some(h2::Reason::REFUSED_STREAM))
    })
}

/// True if an HTTP/2 `GOAWAY` from the server cut the request off before its
/// response.
fn goaway(err: &(dyn StdError + Send + Sync + 'static)) -> bool {
    let err: &(dyn StdError + 'static) = err;
    if err.is::<error::BodyError>() {
        return false;
    }
    error::chain(Some(err)).any(|e| {
        e.downcast_ref::<h2::Error>()
            .is_some_and(|h2| h2.is_go_away() && h2.is_remote())
    })
}

/// True if the error ended an attempt before any of the response arrived
/// because the connection could not be made or was closed first: the cases
/// the retry policy may repeat.
fn closed_before_response(err: &(dyn StdError + Send + Sync + 'static)) -> bool {
    let err: &(dyn StdError + 'static) = err;
    if err.is::<error::BodyError>() {
        return false;
    }
    error::chain(Some(err)).any(|e| {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message() || h.is_canceled() || h.is_closed();
        }
        // An HTTP/2 stream the server reset before its response head: the
        // HTTP/2 form of a connection closed before the response.
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_reset() && h2.is_remote();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        false
    })
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Reads `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past is ignored like anything unreadable, so the computed
/// backoff applies: taken as "now", it would send every retry at once to
/// a server whose clock runs behind ours.
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturate absurd values; the policy caps them by max_delay anyway.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    when.duration_since(now).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BoxError;
    use http::{HeaderValue, StatusCode};

    fn after(value: &'static str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static(value));
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        parse_retry_after(&headers, now)
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(after("120"), Some(Duration::from_secs(120)));
        assert_eq!(after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            after("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            after("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(after("Wed, 21 Oct 2015 07:00:00 GMT"), None);
        assert_eq!(after("-5"), None);
        assert_eq!(after("soon"), None);
        assert_eq!(after("1.5"), None);
        assert_eq!(after(""), None);
        assert_eq!(
            parse_retry_after(&HeaderMap::new(), SystemTime::now()),
            None
        );
    }

    fn policy(retry_non_idempotent: bool) -> crate::retry::RetryPolicy {
        crate::retry::RetryPolicy::default().retry_non_idempotent(retry_non_idempotent)
    }

    fn status(code: u16) -> http::Response<bytes::Bytes> {
        let mut res = http::Response::new(bytes::Bytes::new());
        *res.status_mut() = StatusCode::from_u16(code).unwrap();
        res
    }

    #[test]
    fn retried_statuses_for_idempotent_methods_only() {
        for code in [429, 502, 503, 504] {
            assert_ne!(
                verdict(&Method::GET, Ok(&status(code)), &policy(false)),
                Verdict::Done,
                "{code}"
            );
            assert_eq!(
                verdict(&Method::POST, Ok(&status(code)), &policy(false)),
                Verdict::Done,
                "{code}"
            );
            assert_ne!(
                verdict(&Method::POST, Ok(&status(code)), &policy(true)),
                Verdict::Done,
                "{code}"
            );
        }
        for code in [200, 301, 400, 404, 500, 501] {
            assert_eq!(
                verdict(&Method::GET, Ok(&status(code)), &policy(true)),
                Verdict::Done,
                "{code}"
            );
        }
    }

    #[test]
    fn timeouts_are_retried_for_idempotent_methods() {
        let elapsed = tower::timeout::error::Elapsed::new();
        let err = || {
            Err(Failure {
                error: &elapsed,
                kind: error::classify(&elapsed),
            })
        };
        assert_ne!(verdict(&Method::PUT, err(), &policy(false)), Verdict::Done);
        assert_eq!(
            verdict(&Method::PATCH, err(), &policy(false)),
            Verdict::Done
        );
    }

    /// hyper has no predicate for its "dispatch task is gone", so
    /// `error::is_dispatch_gone` reads its message: pinned here on a real
    /// one, made the only way a test can (a request written on an HTTP/1.1
    /// connection whose task is then dropped). In a running client hyper
    /// gives it for an HTTP/2 stream still waiting to open when its
    /// connection ended, which is why `redispatch` sends it again; the pool
    /// never drops an HTTP/2 connection's task of its own.
    #[tokio::test]
    async fn hyper_dispatch_gone_is_recognised() {
        use tokio::io::AsyncReadExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (read_tx, read_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request arrives whole");
                head.extend_from_slice(&buf[..n]);
            }
            let _ = read_tx.send(());
            // Holds the connection, never answering.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<
            _,
            http_body_util::Full<bytes::Bytes>,
        >(hyper_util::rt::TokioIo::new(tcp))
        .await
        .unwrap();
        let task = tokio::spawn(conn);
        let request = http::Request::get("/")
            .header(http::header::HOST, "127.0.0.1")
            .body(http_body_util::Full::default())
            .unwrap();
        let response = tokio::spawn(sender.send_request(request));
        tokio::time::timeout(Duration::from_secs(10), read_rx)
            .await
            .expect("the request is written")
            .unwrap();
        task.abort();
        let err = tokio::time::timeout(Duration::from_secs(10), response)
            .await
            .expect("the response future ends")
            .unwrap()
            .unwrap_err();
        assert!(error::is_dispatch_gone(&err), "{err}");
        let err: BoxError = Box::new(err);
        assert_eq!(error::classify(&*err), ErrorKind::Protocol);
        server.abort();
    }
}
