//! Proxy settings (src/proxy.rs): the proxy URL checks, the `NO_PROXY`
//! list, and which proxy each request then goes through.
//!
//! Input: lines. The first byte of the first line picks `Proxy::http`
//! (`h`), `Proxy::https` (`s`) or `Proxy::all` (anything else), and the
//! rest of that line is the proxy URL; the second line, when present, is
//! the `NO_PROXY` list; each further line is a request URL.
//!
//! Checks, beyond "no panic": a refused proxy URL is a `Config` error
//! whose message does not depend on the password in it; an accepted one is
//! `http`, `https`, `socks5` or `socks5h` with a host, and is then really used (no
//! typo may silently mean "no proxy"): a request of a proxied scheme that
//! no `NO_PROXY` entry names goes to that proxy's host and port, with the
//! URL's credentials as `Proxy-Authorization` for an HTTP proxy (`http`
//! or `https`, TLS to the proxy); `*`, a
//! listed domain or its subdomains, and a listed IP address bypass it.
#![no_main]

use std::net::IpAddr;

use batch_fetch::Proxy;
use batch_fetch::fuzzing::{proxy_forward_auth, proxy_matcher};
use http::Uri;
use libfuzzer_sys::fuzz_target;

/// The URL as `check_url` reads it: trimmed, `http://` when no scheme.
fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

fn make(kind: u8, url: &str, no_proxy: Option<&str>) -> Proxy {
    let proxy = match kind {
        b'h' => Proxy::http(url),
        b's' => Proxy::https(url),
        _ => Proxy::all(url),
    };
    match no_proxy {
        Some(list) => proxy.no_proxy(list),
        None => proxy,
    }
}

/// The host as `NO_PROXY` matching sees it (no IPv6 brackets).
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The password in `url`'s userinfo, when there is a plain one
/// (alphanumeric, so that replacing it cannot change how the URL parses).
fn password(url: &str) -> Option<(usize, usize)> {
    let uri: Uri = url.parse().ok()?;
    let authority = uri.authority()?.as_str();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    if pw.is_empty() || !pw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // Where it sits in the URL: after the scheme and the user.
    let start = url.find("://")? + 3 + userinfo.len() - pw.len();
    (url.get(start..start + pw.len()) == Some(pw)).then_some((start, start + pw.len()))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let (kind, url) = match first.as_bytes().first() {
        Some(&k) if k.is_ascii() => (k, &first[1..]),
        _ => (b'a', first),
    };
    let no_proxy = lines.next();
    let targets: Vec<Uri> = lines.take(8).filter_map(|l| l.parse().ok()).collect();

    let proxy = make(kind, url, no_proxy);
    let result = proxy_matcher(&proxy);

    // Nothing shown depends on the password: the same settings with
    // another one of the same length give the same messages.
    let full = with_scheme(url);
    if let Some((start, end)) = password(&full) {
        // Back to where it sits in the URL as given.
        let shift = url.len() - url.trim_start().len();
        let added = full.len() - url.trim().len();
        let (start, end) = (start + shift - added, end + shift - added);
        let mut other = url.to_owned();
        let replacement: String = url[start..end]
            .bytes()
            .map(|b| if b == b'Z' { 'Y' } else { 'Z' })
            .collect();
        other.replace_range(start..end, &replacement);
        let twin = make(kind, &other, no_proxy);
        // Also for a URL without a scheme, `user:secret@host:3128`, which
        // `check_url` reads as `http://` (corpus/proxy/schemeless-password).
        assert_eq!(format!("{proxy:?}"), format!("{twin:?}"), "Debug shows it");
        match (&result, proxy_matcher(&twin)) {
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "error shows it"),
            (Ok(_), Ok(_)) => {}
            (a, b) => panic!("the password changed the outcome: {a:?} vs {b:?}"),
        }
    }

    let matcher = match result {
        Err(err) => {
            assert_eq!(err.kind(), batch_fetch::ErrorKind::Config, "{err}");
            return;
        }
        // `*` in NO_PROXY: every host bypasses the proxy, so none is used.
        Ok(None) => {
            let star = no_proxy.is_some_and(|list| list.split(',').any(|e| e.trim() == "*"));
            assert!(star, "a proxy was set, yet no matcher");
            return;
        }
        Ok(Some(matcher)) => matcher,
    };
    let configured: Uri = full.parse().expect("accepted, so it parses");
    let scheme = configured.scheme_str().unwrap_or_default();
    assert!(
        matches!(scheme, "http" | "https" | "socks5" | "socks5h"),
        "{full:?} accepted"
    );
    let host = configured.host().unwrap_or_default();
    assert!(!host.is_empty(), "{full:?} accepted without a host");
    let has_credentials = configured.authority().unwrap().as_str().contains('@');
    // Both speak HTTP to the proxy; `https` over TLS.
    let http_proxy = matches!(scheme, "http" | "https");

    let entries: Vec<&str> = no_proxy
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();

    for target in &targets {
        let Some(target_host) = target.host() else {
            continue;
        };
        let intercept = matcher.intercept(target);
        let proxied_scheme = match target.scheme_str() {
            Some("http") => kind != b's',
            Some("https") => kind != b'h',
            _ => false,
        };
        if !proxied_scheme {
            assert!(intercept.is_none(), "{target} proxied");
            continue;
        }
        let name = bare(target_host);
        let target_ip = name.parse::<IpAddr>().ok();
        let bypass = entries.iter().any(|&entry| {
            // `*` is every host, IP addresses included
            // (corpus/proxy/star-ip).
            if entry == "*" {
                return true;
            }
            match (target_ip, entry.parse::<IpAddr>()) {
                (Some(ip), Ok(listed)) => ip == listed,
                (None, Err(_)) => {
                    let domain = entry.strip_prefix('.').unwrap_or(entry);
                    name.eq_ignore_ascii_case(domain)
                        || (name.len() > domain.len()
                            && name.is_char_boundary(name.len() - domain.len() - 1)
                            && name[name.len() - domain.len() - 1..]
                                .eq_ignore_ascii_case(&format!(".{domain}")))
                }
                _ => false,
            }
        });
        if bypass {
            assert!(intercept.is_none(), "{target} is in NO_PROXY {entries:?}");
            continue;
        }
        if !entries.is_empty() {
            // Other entries (CIDR blocks) may still match: not judged here.
            if intercept.is_none() {
                continue;
            }
        }
        let intercept =
            intercept.unwrap_or_else(|| panic!("{full:?} accepted but {target} goes direct"));
        let via = intercept.uri();
        assert!(
            via.host()
                .is_some_and(|h| h.eq_ignore_ascii_case(bare(host)) || h.eq_ignore_ascii_case(host)),
            "{full:?}: {target} goes to {via}"
        );
        assert_eq!(via.port_u16(), configured.port_u16(), "{full:?}: {via}");
        if http_proxy && has_credentials {
            let auth = intercept.basic_auth().expect("credentials dropped");
            assert!(auth.is_sensitive());
            if target.scheme_str() == Some("http") {
                assert_eq!(proxy_forward_auth(&matcher, target).as_ref(), Some(auth));
            }
        }
        if target.scheme_str() != Some("http") || !http_proxy {
            assert_eq!(proxy_forward_auth(&matcher, target), None);
        }
    }
});
