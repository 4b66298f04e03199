//! Origin keys (src/origin.rs), which the per-host limit, redirects and
//! the connectors compare, and URLs as errors show them (`Redacted`,
//! src/error.rs).
//!
//! Input: a URL, as bytes (read as UTF-8, lossily).
//!
//! Checks, beyond "no panic": a key is lowercase `scheme://host:port` with
//! the URL's port or its scheme's default; it ignores case, credentials,
//! path and query; for an http(s) URL it is itself a URL with the same
//! key. An error about a URL shows it without its credentials: the same
//! text as for the URL without them.
#![no_main]

use batch_fetch::fuzzing::{error_with_url, origin_key, origin_port, redacted};
use http::Uri;
use libfuzzer_sys::fuzz_target;

fn without_userinfo(uri: &Uri) -> Option<Uri> {
    let authority = uri.authority()?;
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(host_port.parse().ok()?);
    Uri::from_parts(parts).ok()
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let Ok(uri) = input.parse::<Uri>() else {
        return;
    };
    let key = origin_key(&uri);
    let port = origin_port(&uri);

    assert!(!key.bytes().any(|b| b.is_ascii_uppercase()), "{key:?}");
    let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    assert_eq!(key, format!("{scheme}://{host}:{port}"), "{input:?}");
    match uri.port_u16() {
        Some(p) => assert_eq!(port, p),
        None if scheme == "https" => assert_eq!(port, 443),
        None => assert_eq!(port, 80),
    }

    // Case does not matter.
    if let Ok(upper) = input.to_ascii_uppercase().parse::<Uri>() {
        assert_eq!(origin_key(&upper), key, "{input:?} upper-cased");
    }
    // Nor do credentials, path or query.
    if let Some(bare) = without_userinfo(&uri) {
        assert_eq!(origin_key(&bare), key, "{input:?} without credentials");
    }
    if let Some(authority) = uri.authority() {
        let elsewhere = format!("{scheme}://{}/elsewhere?x=1", authority.as_str());
        if let Ok(other) = elsewhere.parse::<Uri>() {
            assert_eq!(origin_key(&other), key, "{elsewhere:?}");
        }
    }
    // For a URL the client fetches, the key is a URL with the same key,
    // and spelling the default port out changes nothing.
    // (`http::Uri` lets odd hosts through, `h[~::0]` read as host `h[~`:
    // those need not make a URL again.)
    let plain_host = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        || (host.starts_with('[') && host.ends_with(']'));
    if matches!(uri.scheme_str(), Some("http" | "https")) && !host.is_empty() && plain_host {
        let again: Uri = key
            .parse()
            .unwrap_or_else(|e| panic!("{input:?}: key {key:?} is no URL: {e}"));
        assert_eq!(origin_key(&again), key);
        let explicit = format!("{scheme}://{}:{port}/", uri.host().unwrap());
        if let Ok(explicit) = explicit.parse::<Uri>() {
            assert_eq!(origin_key(&explicit), key);
        }
    }

    // Errors show the URL without credentials.
    let shown = redacted(&uri);
    let (display, debug) = error_with_url(&uri);
    assert!(display.contains(&shown), "{display:?} lacks {shown:?}");
    if let Some(bare) = without_userinfo(&uri)
        && uri.scheme().is_some()
    {
        assert_eq!(shown, redacted(&bare), "{input:?}");
        assert_eq!((display, debug), error_with_url(&bare), "{input:?}");
    }
});
