//! URL inputs turned into requests (`IntoRequest` for `&str`, `String`,
//! `http::Uri` and `http::Request<B>`, src/request/mod.rs).
//!
//! Input: the URL, as bytes (read as UTF-8, lossily). Checks, beyond "no
//! panic": a request is a `GET` of an absolute `http`/`https` URL with a
//! host, and reads back the same from its own URL; a refusal is an
//! `InvalidRequest` error; every input form agrees with the others.
#![no_main]

use batch_fetch::{ErrorKind, IntoRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let input: &str = &input;

    let by_str = input.into_request();
    let by_string = input.to_owned().into_request();
    assert_eq!(by_str.is_ok(), by_string.is_ok(), "{input:?}");

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

    // The same URL given as an `http::Uri`, or in an `http::Request`.
    match input.parse::<http::Uri>() {
        Ok(uri) => {
            let by_uri = uri.clone().into_request();
            assert_eq!(by_uri.is_ok(), by_str.is_ok(), "{input:?}");
            if let (Ok(a), Ok(b)) = (&by_uri, &by_str) {
                assert_eq!(a.uri(), b.uri());
            }
            if let Err(err) = &by_uri {
                assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            }
            let body = data.to_vec();
            let req = http::Request::put(uri).body(body.clone()).unwrap();
            match req.into_request() {
                Ok(req) => {
                    assert!(by_str.is_ok(), "{input:?}");
                    assert_eq!(req.method(), http::Method::PUT);
                    assert_eq!(req.body().as_ref(), &body[..]);
                }
                Err(err) => {
                    assert!(by_str.is_err(), "{input:?}");
                    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
                }
            }
        }
        Err(_) => assert!(by_str.is_err(), "{input:?} is no URI, yet accepted"),
    }
});
