//! What the retry policy looks at in a result: is it worth another attempt,
//! and did the server say when.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};

use crate::error::{self, BoxError, ErrorKind};

/// Whether a finished attempt should be repeated, and after how long the
/// server asked us to wait.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    Done,
    Retry { retry_after: Option<Duration> },
}

/// The verdict on an attempt of a `method` request, which carried a body
/// when `has_body`, that ended with `result`.
pub(super) fn verdict(
    method: &Method,
    has_body: bool,
    result: &Result<http::Response<bytes::Bytes>, BoxError>,
    retry_non_idempotent: bool,
) -> Verdict {
    let may_resend = retry_non_idempotent || is_idempotent(method);
    match result {
        Ok(res) => match res.status() {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
                if may_resend =>
            {
                Verdict::Retry {
                    retry_after: parse_retry_after(res.headers(), SystemTime::now()),
                }
            }
            _ => Verdict::Done,
        },
        // The server said it never processed it: safe for any method.
        Err(err) if error::refused_by_server(&**err) => Verdict::Retry { retry_after: None },
        // A stream cut off by an HTTP/2 GOAWAY was not processed, except in
        // one case: hyper also fails a request whose HEADERS just went out
        // when the GOAWAY lands, before any DATA. A request with a body
        // was then incomplete at the server, so it is safe to resend; one
        // without (a complete request in one HEADERS frame) only if its
        // method may be resent.
        Err(err) if error::goaway(&**err) && (may_resend || has_body) => {
            Verdict::Retry { retry_after: None }
        }
        Err(err) => match error::classify(&**err) {
            // Nothing was sent, so even a POST can go again.
            ErrorKind::Connect => Verdict::Retry { retry_after: None },
            ErrorKind::Timeout if may_resend => Verdict::Retry { retry_after: None },
            ErrorKind::Protocol | ErrorKind::Cancelled
                if may_resend && error::closed_before_response(&**err) =>
            {
                Verdict::Retry { retry_after: None }
            }
            _ => Verdict::Done,
        },
    }
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
    use http::HeaderValue;

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

    fn status(code: u16) -> Result<http::Response<bytes::Bytes>, BoxError> {
        let mut res = http::Response::new(bytes::Bytes::new());
        *res.status_mut() = StatusCode::from_u16(code).unwrap();
        Ok(res)
    }

    #[test]
    fn retried_statuses_for_idempotent_methods_only() {
        for code in [429, 502, 503, 504] {
            assert_ne!(
                verdict(&Method::GET, false, &status(code), false),
                Verdict::Done,
                "{code}"
            );
            assert_eq!(
                verdict(&Method::POST, false, &status(code), false),
                Verdict::Done,
                "{code}"
            );
            assert_ne!(
                verdict(&Method::POST, false, &status(code), true),
                Verdict::Done,
                "{code}"
            );
        }
        for code in [200, 301, 400, 404, 500, 501] {
            assert_eq!(
                verdict(&Method::GET, false, &status(code), true),
                Verdict::Done,
                "{code}"
            );
        }
    }

    #[test]
    fn timeouts_are_retried_for_idempotent_methods() {
        let err = || -> Result<http::Response<bytes::Bytes>, BoxError> {
            Err(Box::new(tower::timeout::error::Elapsed::new()))
        };
        assert_ne!(verdict(&Method::PUT, false, &err(), false), Verdict::Done);
        assert_eq!(verdict(&Method::PATCH, false, &err(), false), Verdict::Done);
    }
}
