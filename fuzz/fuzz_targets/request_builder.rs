//! The `Request` builder (src/request/builder.rs) with arbitrary header
//! names and values, query pairs, credentials and bodies.
//!
//! Input: lines. The first is the method (`GET` when not a valid one), the
//! second the URL, each further line one call, named by its first byte:
//!
//! * `H<name>:<value>` `.header(&[u8], &[u8])`; `h` the same with `String`s
//! * `Q<k>=<v>&<k>=<v>...` `.query(&[(k, v)])` (pairs as given, not decoded)
//! * `B<user>:<password>` `.basic_auth(user, Some(password))`; `b<user>`
//!   `.basic_auth(user, None)`
//! * `T<token>` `.bearer_auth(token)`
//! * `D<bytes>` `.body(bytes)`
//! * `M<name>:<value>` `.headers(map)` with that one field, when valid
//!
//! Checks, beyond "no panic": a bad header makes the request an
//! `InvalidRequest` error, and every error is one; a request keeps its
//! method, body and headers, has an absolute `http`/`https` URL ending in
//! the form-encoded query pairs, and carries credentials that decode back
//! to what was given, marked sensitive and never shown by `Debug`.
#![no_main]

use base64::Engine as _;
use batch_fetch::{ErrorKind, IntoRequest, Request};
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fn split_once(line: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == sep) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn valid_field(name: &[u8], value: &[u8]) -> bool {
    HeaderName::from_bytes(name).is_ok() && HeaderValue::from_bytes(value).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let method = Method::from_bytes(lines.next().unwrap_or_default()).unwrap_or(Method::GET);
    let url = text(lines.next().unwrap_or_default());

    let mut req = Request::new(method.clone(), url.clone());
    let mut must_fail = false;
    let mut body: &[u8] = &[];
    let mut names: Vec<HeaderName> = Vec::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    // The Authorization the builder's own methods set last, unless a later
    // header call may have added to it: (value, what it encodes).
    let mut auth: Option<(String, Option<String>)> = None;

    for line in lines.take(32) {
        let Some((&tag, rest)) = line.split_first() else {
            continue;
        };
        match tag {
            b'H' | b'h' | b'M' => {
                let (name, value) = split_once(rest, b':');
                let valid = valid_field(name, value);
                if let Ok(name) = HeaderName::from_bytes(name) {
                    if name == AUTHORIZATION {
                        auth = None;
                    }
                    if valid {
                        names.push(name);
                    }
                }
                match tag {
                    b'H' => {
                        req = req.header(name, value);
                        must_fail |= !valid;
                    }
                    b'h' => {
                        // `String`s must be UTF-8: judge what is passed.
                        let (name, value) = (text(name), text(value));
                        must_fail |= !valid_field(name.as_bytes(), value.as_bytes());
                        if valid_field(name.as_bytes(), value.as_bytes()) && !valid {
                            names.push(HeaderName::from_bytes(name.as_bytes()).unwrap());
                        }
                        req = req.header(name, value);
                    }
                    _ => {
                        if valid {
                            let mut map = http::HeaderMap::new();
                            map.insert(
                                HeaderName::from_bytes(name).unwrap(),
                                HeaderValue::from_bytes(value).unwrap(),
                            );
                            req = req.headers(map);
                        }
                    }
                }
            }
            b'Q' => {
                let query: Vec<(String, String)> = rest
                    .split(|&b| b == b'&')
                    .map(|pair| {
                        let (k, v) = split_once(pair, b'=');
                        (text(k), text(v))
                    })
                    .collect();
                req = req.query(&query);
                pairs.extend(query);
            }
            b'B' => {
                let (user, password) = split_once(rest, b':');
                let (user, password) = (text(user), text(password));
                let pair = format!("{user}:{password}");
                req = req.basic_auth(user, Some(password));
                auth = Some((String::new(), Some(pair)));
            }
            b'b' => {
                let user = text(rest);
                let pair = format!("{user}:");
                req = req.basic_auth(user, None::<&str>);
                auth = Some((String::new(), Some(pair)));
            }
            b'T' => {
                let token = text(rest);
                let value = format!("Bearer {token}");
                if HeaderValue::try_from(value.as_str()).is_ok() {
                    auth = Some((value, None));
                } else {
                    must_fail = true;
                }
                req = req.bearer_auth(token);
            }
            b'D' => {
                body = rest;
                req = req.body(bytes::Bytes::copy_from_slice(rest));
            }
            _ => {}
        }
    }
    if let Some((value, Some(pair))) = &mut auth {
        *value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        );
    }

    // Debug shows header names only: never the credentials.
    let shown = format!("{req:?}");
    if let Some((value, _)) = &auth
        && !url.contains(value.as_str())
    {
        assert!(!shown.contains(value.as_str()), "{shown}");
    }

    let result = req.into_request();
    let req = match result {
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
            return;
        }
        Ok(req) => req,
    };
    assert!(!must_fail, "a bad header was accepted: {req:?}");
    assert_eq!(req.method(), method);
    assert_eq!(req.body().as_ref(), body);
    let uri = req.uri();
    assert!(matches!(uri.scheme_str(), Some("http" | "https")), "{uri}");
    assert!(uri.host().is_some_and(|h| !h.is_empty()), "{uri}");
    for name in &names {
        assert!(req.headers().contains_key(name), "{name} lost");
    }
    if let Some((value, pair)) = &auth {
        let got = req.headers().get(AUTHORIZATION).expect("credentials lost");
        assert_eq!(got, value.as_str());
        assert!(got.is_sensitive(), "credentials not marked sensitive");
        if let Some(pair) = pair {
            let encoded = value.strip_prefix("Basic ").unwrap();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap();
            assert_eq!(decoded, pair.as_bytes());
        }
    }
    let appended = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        s.finish()
    };
    if appended.is_empty() {
        // Without a query the URL is taken as given.
        let alone = url.as_str().into_request().expect("URL alone refused");
        assert_eq!(alone.uri(), uri);
    } else {
        let query = uri.query().unwrap_or_default();
        assert!(
            query.ends_with(&appended),
            "{url:?} with {pairs:?}: query {query:?}, want ...{appended:?}"
        );
        // And the pairs read back from it.
        let tail = &query[query.len() - appended.len()..];
        let read: Vec<(String, String)> = form_urlencoded::parse(tail.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let want: Vec<(String, String)> = form_urlencoded::parse(appended.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(read, want);
    }
});
