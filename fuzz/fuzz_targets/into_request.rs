//! URL inputs turned into requests (`IntoRequest` for `&str`, `String`,
//! `Url`, `http::Uri` and `http::Request<B>`, src/request/).
//!
//! Input: the URL, as bytes (read as UTF-8, lossily). Checks, beyond "no
//! panic": text is read as the `url` crate's WHATWG parser reads it (so
//! the shortcut for text already in normal form, request/normal_url.rs,
//! agrees with the parse), and a `Url` of it gives the same request; a
//! request is a `GET` of an absolute `http`/`https` URL with a host, and
//! reads back the same from its own URL; a refusal is an
//! `InvalidRequest` error; an `http::Uri`, alone or in an
//! `http::Request`, is taken exactly when it is an `http`/`https` URL
//! with a host.
#![no_main]

use batch_fetch::{ErrorKind, IntoRequest, Url};
use libfuzzer_sys::fuzz_target;

/// What a WHATWG parser makes of `input`, as the client sends it: an
/// `http`/`https` URL with a host, without its fragment.
fn whatwg(input: &str) -> Option<http::Uri> {
    let mut url = Url::parse(input).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    http::Uri::try_from(url.as_str()).ok()
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let input: &str = &input;

    let by_str = input.into_request();
    let by_string = input.to_owned().into_request();
    assert_eq!(
        by_str.as_ref().ok().map(|r| r.uri()),
        by_string.as_ref().ok().map(|r| r.uri()),
        "{input:?}"
    );
    let want = whatwg(input);
    assert_eq!(
        by_str.as_ref().ok().map(|r| r.uri()),
        want.as_ref(),
        "{input:?}: not as WHATWG reads it"
    );
    if let Ok(url) = Url::parse(input) {
        let by_url = (&url).into_request();
        assert_eq!(
            by_url.as_ref().ok().map(|r| r.uri()),
            want.as_ref(),
            "{input:?} as a Url"
        );
        if let Err(err) = by_url {
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{input:?}: {err}");
        }
    }

    match &by_str {
        Ok(req) => {
            assert_eq!(req.method(), http::Method::GET);
            assert!(req.body().is_empty());
            assert!(req.headers().is_empty());
            let uri = req.uri();
            assert!(
                matches!(uri.scheme_str(), Some("http" | "https")),
                "{input:?} gave {uri}"
            );
            assert!(uri.host().is_some_and(|h| !h.is_empty()), "{input:?}");
            // The request's own URL is a valid input that means the same.
            let shown = uri.to_string();
            let again = shown
                .as_str()
                .into_request()
                .unwrap_or_else(|e| panic!("{input:?} -> {shown:?} refused: {e}"));
            assert_eq!(again.uri(), uri, "{input:?}");
        }
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{input:?}: {err}");
            assert_eq!(err.index(), None);
            assert!(err.to_string().starts_with("invalid request"), "{err}");
        }
    }

    // The same text parsed by `http` instead, as an `http::Uri` or in an
    // `http::Request`: taken as it is when it is an http(s) URL with a host.
    if let Ok(uri) = input.parse::<http::Uri>() {
        let fetchable = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|h| !h.is_empty());
        match uri.clone().into_request() {
            Ok(req) => {
                assert!(fetchable, "{input:?}");
                assert_eq!(req.uri(), &uri);
            }
            Err(err) => {
                assert!(!fetchable, "{input:?}: {err}");
                assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            }
        }
        let body = data.to_vec();
        let req = http::Request::put(uri).body(body.clone()).unwrap();
        match req.into_request() {
            Ok(req) => {
                assert!(fetchable, "{input:?}");
                assert_eq!(req.method(), http::Method::PUT);
                assert_eq!(req.body().as_ref(), &body[..]);
            }
            Err(err) => {
                assert!(!fetchable, "{input:?}");
                assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            }
        }
    }
});
