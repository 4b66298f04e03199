//! URL inputs read as browsers and reqwest read them: the WHATWG URL
//! Standard (the `url` crate), then handed to `http::Uri`.
//!
//! WHATWG parsing accepts what people paste and normalises it: leading
//! and trailing spaces and control characters are trimmed, tabs and
//! newlines dropped; a space or another character a URL cannot hold is
//! percent-encoded (`/a b` goes out as `/a%20b`); an internationalised
//! host becomes punycode (`bücher.test` is `xn--bcher-kva.test`); scheme
//! and host are lowercased, a default port dropped, `.` and `..` segments
//! resolved. What comes out is ASCII, which `http::Uri` takes as it is.
//! Where WHATWG and RFC 3986 disagree WHATWG wins, as in browsers:
//! `http:///x` and `http:x` are `http://x/`.
//!
//! Text already in the form WHATWG gives back skips the `url` crate's
//! parse (see [`normal_url`](super::normal_url)).

use http::Uri;
use url::Url;

use super::normal_url::already_normal;
use crate::error::Error;

/// The `http::Uri` of a URL given as text, read as WHATWG reads it, with
/// `query` (form-encoded pairs) appended to its query.
pub(super) fn to_uri(input: &str, query: Option<&str>) -> Result<Uri, Error> {
    if let Some(normal) = already_normal(input) {
        let uri = match query {
            None => Uri::try_from(normal),
            // Form-encoded pairs hold only bytes WHATWG leaves alone in a
            // query: appended as they are, the text stays in normal form.
            Some(query) => {
                let sep = match normal.split_once('?') {
                    Some((_, own)) if !own.is_empty() => "&",
                    Some(_) => "",
                    None => "?",
                };
                Uri::try_from(format!("{normal}{sep}{query}"))
            }
        };
        // On an error, the parse below says what is wrong.
        if let Ok(uri) = uri {
            return Ok(uri);
        }
    }
    let mut url = Url::parse(input).map_err(|e| Error::invalid_request(input, e))?;
    if let Some(query) = query {
        let query = match url.query() {
            Some(own) if !own.is_empty() => format!("{own}&{query}"),
            _ => query.to_owned(),
        };
        url.set_query(Some(&query));
    }
    uri_of(&url)
}

/// Accepts only absolute `http`/`https` URLs with a host (WHATWG gives
/// these schemes a non-empty host, or refuses).
fn check(url: &Url) -> Result<(), Error> {
    match super::not_fetchable(Some(url.scheme()), url.host_str()) {
        None => Ok(()),
        Some(reason) => Err(Error::invalid_request(url.as_str(), reason)),
    }
}

/// The `http::Uri` of `url`, once [`check`]ed, without its fragment
/// (which is never sent).
///
/// # Errors
///
/// The few URLs WHATWG accepts and `http` does not: longer than 64 KiB,
/// or with a host of characters such as `{` or `"`.
pub(super) fn uri_of(url: &Url) -> Result<Uri, Error> {
    check(url)?;
    let sent = &url[..url::Position::AfterQuery];
    Uri::try_from(sent).map_err(|e| Error::invalid_request(sent, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(input: &str) -> String {
        let uri = to_uri(input, None).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let parsed = uri_of(&Url::parse(input).unwrap()).unwrap();
        assert_eq!(uri, parsed, "{input:?}: the two ways differ");
        uri.to_string()
    }

    #[test]
    fn normalises_as_browsers_do() {
        for (input, want) in [
            ("http://a.test/a b", "http://a.test/a%20b"),
            (
                "http://a.test/?q=a b&r=é",
                "http://a.test/?q=a%20b&r=%C3%A9",
            ),
            (
                "http://bücher.test:8080/",
                "http://xn--bcher-kva.test:8080/",
            ),
            ("http://Bücher.TEST/", "http://xn--bcher-kva.test/"),
            ("  http://a.test/x \n", "http://a.test/x"),
            ("http://a.\ttest/\n", "http://a.test/"),
            ("HTTP://A.Test:80/", "http://a.test/"),
            ("https://a.test:443/", "https://a.test/"),
            ("http://a.test", "http://a.test/"),
            ("http://a.test/x/../y/./z", "http://a.test/y/z"),
            ("http://a.test\\x\\y", "http://a.test/x/y"),
            ("http://127.1/", "http://127.0.0.1/"),
            ("http://[0:0::1]:9/", "http://[::1]:9/"),
            ("http:///x", "http://x/"),
            ("http:x", "http://x/"),
            ("http://a.test/p#frag", "http://a.test/p"),
            ("http://u:p%40ss@a.test/", "http://u:p%40ss@a.test/"),
            ("http://a.test/x?y=1", "http://a.test/x?y=1"),
            ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/"),
        ] {
            assert_eq!(normalised(input), want, "{input:?}");
        }
    }

    #[test]
    fn refusals_are_invalid_request_without_credentials() {
        for bad in [
            "",
            "/relative",
            "a.test",
            "http://",
            "http://a b.test/",
            "http://a.test:99999/",
            "ftp://u:s3cret@a.test/",
            "mailto:someone@a.test",
        ] {
            let err = to_uri(bad, None).expect_err(bad);
            assert_eq!(err.kind(), crate::ErrorKind::InvalidRequest, "{bad:?}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        // WHATWG takes these hosts; `http` does not.
        let err = to_uri("http://u:s3cret@a{b}.test/", None).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidRequest);
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn appends_a_query_either_way() {
        for (input, want) in [
            ("http://a.test/x", "http://a.test/x?q=1"),
            ("http://a.test/x?", "http://a.test/x?q=1"),
            ("http://a.test/x?y=2#f", "http://a.test/x?y=2&q=1"),
            ("HTTP://a.test/x?y=2#f", "http://a.test/x?y=2&q=1"),
            ("http://a.test/x b?", "http://a.test/x%20b?q=1"),
        ] {
            let uri = to_uri(input, Some("q=1")).unwrap();
            assert_eq!(uri.to_string(), want, "{input:?}");
        }
    }
}
