//! The rules for following a redirect, and the errors when one is refused.

use std::fmt;

use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use http::{HeaderMap, Method, StatusCode, Uri};

/// How redirects are followed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RedirectPolicy {
    /// Most hops followed; 0 turns redirects off.
    pub(crate) limit: usize,
    /// Whether an `https` URL may redirect to an `http` one.
    pub(crate) allow_https_downgrade: bool,
}

impl RedirectPolicy {
    pub(crate) fn enabled(&self) -> bool {
        self.limit > 0
    }
}

/// A redirect that was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedirectError {
    #[error("too many redirects (more than {limit}): {chain}")]
    TooMany { limit: usize, chain: Chain },
    #[error("redirect loop: {chain}")]
    Loop { chain: Chain },
    #[error(
        "redirect from https to http refused (enable it with redirect_https_downgrade): {chain}"
    )]
    Downgrade { chain: Chain },
}

/// The URLs of a redirect chain, shown as `a -> b -> c` without
/// credentials.
#[derive(Clone, Default)]
pub(crate) struct Chain(pub(crate) Vec<Uri>);

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(crate::error::Redacted))
            .finish()
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, uri) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{}", crate::error::Redacted(uri))?;
        }
        Ok(())
    }
}

/// Where a response redirects to, if it is a redirect we follow.
pub(super) fn location(res: &http::Response<bytes::Bytes>, base: &Uri) -> Option<Uri> {
    if !matches!(
        res.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let raw = std::str::from_utf8(res.headers().get(http::header::LOCATION)?.as_bytes()).ok()?;
    resolve(raw.trim(), base)
}

/// Resolves a `Location` against the URL it came from, as a browser does
/// (WHATWG, as inputs are read: a space is percent-encoded, an
/// internationalised host becomes punycode), and keeps it only if it is
/// an `http`/`https` URL.
fn resolve(location: &str, base: &Uri) -> Option<Uri> {
    let base = url::Url::parse(&base.to_string()).ok()?;
    let next = base.join(location).ok()?;
    if !matches!(next.scheme(), "http" | "https") || next.host_str().is_none() {
        return None;
    }
    // The fragment is not sent.
    let mut next = next;
    next.set_fragment(None);
    next.as_str().parse().ok()
}

/// The method and whether the body is kept for the next hop, as browsers
/// do: 303 turns anything but HEAD into GET; 301 and 302 turn POST into
/// GET; 307 and 308 keep both.
pub(super) fn next_method(status: StatusCode, method: &Method) -> (Method, bool) {
    match status {
        StatusCode::SEE_OTHER if *method != Method::HEAD => (Method::GET, false),
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND if *method == Method::POST => {
            (Method::GET, false)
        }
        _ => (method.clone(), true),
    }
}

/// Headers that describe a body no longer sent.
pub(super) fn drop_payload_headers(headers: &mut HeaderMap) {
    for name in [
        http::header::CONTENT_TYPE,
        http::header::CONTENT_LENGTH,
        http::header::CONTENT_ENCODING,
        http::header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
}

/// Credentials go only to the origin they were given for.
pub(super) fn drop_credentials(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
        headers.remove(name);
    }
}

pub(super) fn same_origin(a: &Uri, b: &Uri) -> bool {
    crate::origin::key(a) == crate::origin::key(b)
}

impl RedirectPolicy {
    /// Checks a hop before it is followed. `chain` holds the requests made
    /// so far, the first one included. A loop is the same method and URL
    /// twice: `POST /form` answered by `303` to `GET /form` is not one.
    pub(super) fn check(
        &self,
        chain: &[(Method, Uri)],
        method: &Method,
        next: &Uri,
    ) -> Result<(), RedirectError> {
        let with_next = || {
            Chain(
                chain
                    .iter()
                    .map(|(_, uri)| uri)
                    .chain([next])
                    .cloned()
                    .collect(),
            )
        };
        let previous = chain.last().map(|(_, uri)| uri);
        if !self.allow_https_downgrade
            && previous.is_some_and(|p| p.scheme_str() == Some("https"))
            && next.scheme_str() == Some("http")
        {
            return Err(RedirectError::Downgrade { chain: with_next() });
        }
        if chain.iter().any(|(m, uri)| m == method && uri == next) {
            return Err(RedirectError::Loop { chain: with_next() });
        }
        if chain.len() > self.limit {
            return Err(RedirectError::TooMany {
                limit: self.limit,
                chain: with_next(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn resolves_relative_locations() {
        let base = uri("http://a.test/x/y?q=1");
        let cases = [
            ("/z", "http://a.test/z"),
            ("z", "http://a.test/x/z"),
            ("../z", "http://a.test/z"),
            ("?p=2", "http://a.test/x/y?p=2"),
            ("//b.test/w", "http://b.test/w"),
            ("https://c.test:8443/v#frag", "https://c.test:8443/v"),
            // Read as WHATWG URLs, as inputs are.
            ("/a b", "http://a.test/a%20b"),
            ("http://bücher.test/é", "http://xn--bcher-kva.test/%C3%A9"),
            ("//Bücher.test:80/", "http://xn--bcher-kva.test/"),
        ];
        for (location, want) in cases {
            assert_eq!(resolve(location, &base), Some(uri(want)), "{location}");
        }
        assert_eq!(resolve("ftp://x.test/", &base), None);
        assert_eq!(resolve("mailto:a@b", &base), None);
    }

    #[test]
    fn methods_change_as_browsers_do() {
        use StatusCode as S;
        assert_eq!(
            next_method(S::SEE_OTHER, &Method::POST),
            (Method::GET, false)
        );
        assert_eq!(
            next_method(S::SEE_OTHER, &Method::PUT),
            (Method::GET, false)
        );
        assert_eq!(
            next_method(S::SEE_OTHER, &Method::HEAD),
            (Method::HEAD, true)
        );
        assert_eq!(next_method(S::FOUND, &Method::POST), (Method::GET, false));
        assert_eq!(
            next_method(S::MOVED_PERMANENTLY, &Method::POST),
            (Method::GET, false)
        );
        assert_eq!(next_method(S::FOUND, &Method::PUT), (Method::PUT, true));
        assert_eq!(
            next_method(S::TEMPORARY_REDIRECT, &Method::POST),
            (Method::POST, true)
        );
        assert_eq!(
            next_method(S::PERMANENT_REDIRECT, &Method::POST),
            (Method::POST, true)
        );
    }

    #[test]
    fn refuses_loops_downgrades_and_long_chains() {
        let policy = RedirectPolicy {
            limit: 2,
            allow_https_downgrade: false,
        };
        let get = |s: &str| (Method::GET, uri(s));
        let (a, b, c, d) = (
            get("http://a/"),
            get("http://b/"),
            get("http://c/"),
            uri("http://d/"),
        );
        let m = Method::GET;
        assert!(policy.check(std::slice::from_ref(&a), &m, &b.1).is_ok());
        assert!(policy.check(&[a.clone(), b.clone()], &m, &c.1).is_ok());
        let err = policy
            .check(&[a.clone(), b.clone(), c.clone()], &m, &d)
            .unwrap_err();
        assert!(matches!(err, RedirectError::TooMany { .. }));
        assert_eq!(
            err.to_string(),
            "too many redirects (more than 2): http://a/ -> http://b/ -> http://c/ -> http://d/"
        );
        let err = policy.check(&[a.clone(), b.clone()], &m, &a.1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "redirect loop: http://a/ -> http://b/ -> http://a/"
        );
        // POST then 303 to GET the same URL is not a loop.
        assert!(
            policy
                .check(&[(Method::POST, a.1.clone())], &m, &a.1)
                .is_ok()
        );
        let err = policy.check(&[get("https://s/")], &m, &a.1).unwrap_err();
        assert!(matches!(err, RedirectError::Downgrade { .. }));
        let lenient = RedirectPolicy {
            allow_https_downgrade: true,
            ..policy
        };
        assert!(lenient.check(&[get("https://s/")], &m, &a.1).is_ok());
    }

    #[test]
    fn origins() {
        assert!(same_origin(
            &uri("http://A.test/x"),
            &uri("http://a.test:80/y")
        ));
        assert!(!same_origin(
            &uri("http://a.test/"),
            &uri("https://a.test/")
        ));
        assert!(!same_origin(
            &uri("http://a.test/"),
            &uri("http://a.test:8080/")
        ));
        assert!(!same_origin(&uri("http://a.test/"), &uri("http://b.test/")));
    }
}
