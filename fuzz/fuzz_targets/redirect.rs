//! Redirects (src/layers/redirect/policy.rs): resolving `Location`, the
//! next hop's method, and the checks on a chain of hops.
//!
//! Input: lines. `<status> <limit> <downgrade 0|1>`; the method; the URL
//! redirected from; the `Location` value (raw bytes); then the requests
//! made before, one `<method> <url>` per line.
//!
//! Checks, beyond "no panic": only the five redirect statuses are followed;
//! where they lead is an absolute `http`/`https` URL with a host that is a
//! valid input of its own, and resolves to itself from anywhere; the method
//! changes only to `GET`, dropping the body, as browsers do; a hop is
//! refused for a downgrade, a loop or too many hops exactly when those
//! happen, and the message names the whole chain without credentials.
#![no_main]

use batch_fetch::IntoRequest;
use batch_fetch::fuzzing::{
    RedirectRefusal, origin_key, redacted, redirect_check, redirect_location, redirect_next_method,
    same_origin,
};
use http::{Method, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;

const FOLLOWED: [u16; 5] = [301, 302, 303, 307, 308];

/// `uri` without any `user:password@`.
fn without_userinfo(uri: &Uri) -> Uri {
    let Some(authority) = uri.authority() else {
        return uri.clone();
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    let mut parts = uri.clone().into_parts();
    parts.authority = host_port.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let head = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut words = head.split_whitespace();
    let status = words
        .next()
        .and_then(|w| StatusCode::from_bytes(w.as_bytes()).ok())
        .unwrap_or(StatusCode::FOUND);
    let limit = words
        .next()
        .and_then(|w| w.parse::<usize>().ok())
        .unwrap_or(5)
        % 16;
    let allow_downgrade = words.next() == Some("1");
    let method = Method::from_bytes(lines.next().unwrap_or_default()).unwrap_or(Method::GET);
    let base = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let location = lines.next().unwrap_or_default();
    let chain: Vec<(Method, Uri)> = lines
        .take(10)
        .filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (m, u) = line.split_once(' ')?;
            let u: Uri = u.parse().ok()?;
            // Requests that went out: absolute http(s) URLs.
            u.clone().into_request().ok()?;
            Some((Method::from_bytes(m.as_bytes()).ok()?, u))
        })
        .collect();

    // The next method.
    let (next, keep_body) = redirect_next_method(status, &method);
    assert!(next == method || next == Method::GET, "{method} -> {next}");
    if keep_body {
        assert_eq!(next, method, "body kept for another method");
    } else {
        assert_eq!(next, Method::GET);
    }
    match status.as_u16() {
        303 => assert_eq!(keep_body, method == Method::HEAD, "303 {method}"),
        301 | 302 => assert_eq!(keep_body, method != Method::POST, "{status} {method}"),
        _ => assert_eq!((&next, keep_body), (&method, true), "{status} {method}"),
    }

    // Where the response leads. The URL redirected from is one that went
    // out, so an absolute http(s) URL with a host.
    let Ok(base) = base.parse::<Uri>() else {
        return;
    };
    if base.clone().into_request().is_err() {
        // Still nothing may panic.
        let _ = redirect_location(status, location, &base);
        return;
    }
    let to = redirect_location(status, location, &base);
    if !FOLLOWED.contains(&status.as_u16()) {
        assert_eq!(to, None, "{status} followed");
    }
    if let Some(to) = &to {
        assert!(matches!(to.scheme_str(), Some("http" | "https")), "{to}");
        assert!(to.host().is_some_and(|h| !h.is_empty()), "{to}");
        let req = to
            .clone()
            .into_request()
            .unwrap_or_else(|e| panic!("{base} -> {location:?} -> {to}: not a valid request: {e}"));
        assert_eq!(req.uri(), to);
        // An absolute URL resolves to itself, from anywhere.
        let shown = to.to_string();
        for from in [&base, to, &"https://other.test:8443/a/b?c".parse().unwrap()] {
            assert_eq!(
                redirect_location(StatusCode::FOUND, shown.as_bytes(), from).as_ref(),
                Some(to),
                "{shown:?} from {from}"
            );
        }
        assert_eq!(same_origin(&base, to), origin_key(&base) == origin_key(to));
    }

    // The checks on the hop to `to` (or to the base again: a loop).
    let next_uri = to.unwrap_or_else(|| base.clone());
    let verdict = redirect_check(limit, allow_downgrade, &chain, &next, &next_uri);
    let downgrade = !allow_downgrade
        && chain
            .last()
            .is_some_and(|(_, p)| p.scheme_str() == Some("https"))
        && next_uri.scheme_str() == Some("http");
    let looped = chain.iter().any(|(m, u)| *m == next && *u == next_uri);
    let too_many = chain.len() > limit;
    let message = match &verdict {
        Ok(()) => {
            assert!(
                !downgrade && !looped && !too_many,
                "{chain:?} -> {next_uri} passed"
            );
            return;
        }
        Err(RedirectRefusal::Downgrade(msg)) => {
            assert!(downgrade);
            msg
        }
        Err(RedirectRefusal::Loop(msg)) => {
            assert!(!downgrade && looped);
            msg
        }
        Err(RedirectRefusal::TooMany(msg)) => {
            assert!(!downgrade && !looped && too_many);
            msg
        }
    };
    // The message names every URL of the chain, next one included, as
    // shown without credentials.
    let shown: Vec<String> = chain
        .iter()
        .map(|(_, u)| redacted(u))
        .chain([redacted(&next_uri)])
        .collect();
    assert!(message.ends_with(&shown.join(" -> ")), "{message}");
    // Without credentials in any URL, the message is the same.
    let bare_chain: Vec<(Method, Uri)> = chain
        .iter()
        .map(|(m, u)| (m.clone(), without_userinfo(u)))
        .collect();
    let bare_next = without_userinfo(&next_uri);
    let bare = redirect_check(limit, allow_downgrade, &bare_chain, &next, &bare_next);
    let bare_message = match &bare {
        Err(
            RedirectRefusal::Downgrade(m) | RedirectRefusal::Loop(m) | RedirectRefusal::TooMany(m),
        ) => Some(m),
        Ok(()) => None,
    };
    let kind = |v: &Result<(), RedirectRefusal>| match v {
        Ok(()) => 0,
        Err(RedirectRefusal::Downgrade(_)) => 1,
        Err(RedirectRefusal::Loop(_)) => 2,
        Err(RedirectRefusal::TooMany(_)) => 3,
    };
    if kind(&verdict) == kind(&bare) {
        assert_eq!(Some(message), bare_message, "credentials shown");
    }
});
