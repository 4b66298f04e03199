//! Credentials in URLs: `move_credentials` (src/request/mod.rs), which
//! moves a URL's `user:password@` into `Authorization: Basic` before a
//! request or redirect hop goes anywhere, and `redact_input`
//! (src/error.rs), which shows an unparsable input without them.
//!
//! Input: lines. The first is a URL; the second, when present, an
//! `Authorization` value the request already carries.
//!
//! Checks, beyond "no panic": after the move no credentials are left in
//! the URL, and nothing else of it changed; the header is the Basic
//! encoding of the percent-decoded user and password, marked sensitive,
//! unless the request had its own (which is kept); moving twice changes
//! nothing more. Shown inputs and `InvalidRequest` errors do not depend on
//! what the userinfo holds.
#![no_main]

use base64::Engine as _;
use batch_fetch::{IntoRequest, Url};
use batch_fetch::fuzzing::{move_credentials, redact_input};
use http::HeaderValue;
use http::header::AUTHORIZATION;
use libfuzzer_sys::fuzz_target;

/// Where the userinfo of `input` sits, as `redact_input` finds it: after
/// the scheme's `:` and any `/`, `\` (and tab or newline) for the special
/// schemes WHATWG reads without `//` too; else after a `://`.
fn userinfo(input: &str) -> Option<std::ops::Range<usize>> {
    let special = input.split_once(':').and_then(|(scheme, rest)| {
        let scheme: String = scheme
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect::<String>()
            .to_ascii_lowercase();
        let scheme = scheme.trim_start_matches(|c: char| c <= ' ');
        ["http", "https", "ws", "wss", "ftp", "file"]
            .contains(&scheme)
            .then(|| input.len() - rest.trim_start_matches(['/', '\\', '\t', '\n', '\r']).len())
    });
    let start = match special {
        Some(start) => start,
        None => match input.split_once(':') {
            Some((scheme, rest)) if rest.starts_with("//") => scheme.len() + 3,
            _ => input.find("://")? + 3,
        },
    };
    let rest = &input[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some(start..start + at)
}

/// `input` with every character of its userinfo but `:` replaced by a
/// letter: the same shape, other credentials.
fn other_credentials(input: &str, range: std::ops::Range<usize>) -> String {
    let swapped: String = input[range.clone()]
        .chars()
        .map(|c| match c {
            ':' => ':',
            'Z' => 'Y',
            _ => 'Z',
        })
        .collect();
    format!(
        "{}{}{}",
        &input[..range.start],
        swapped,
        &input[range.end..]
    )
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let input = lines.next().unwrap_or_default();
    let own_auth = lines.next().and_then(|v| HeaderValue::from_str(v).ok());

    // How inputs are shown.
    let shown = redact_input(input);
    match userinfo(input) {
        None => assert_eq!(shown, input),
        Some(range) => {
            assert_eq!(
                shown,
                format!("{}{}", &input[..range.start], &input[range.end + 1..])
            );
            let twin = other_credentials(input, range.clone());
            assert_eq!(redact_input(&twin), shown, "{input:?}");
            // An input refused shows the same whatever its credentials
            // (when these are plain enough that other ones parse alike,
            // and are credentials to the WHATWG parser: a URL of another
            // scheme it reads is shown as it reads it, where `u@` after a
            // `://` may be a path).
            let plain = input[range.clone()]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-._~".contains(&b));
            let whatwg_userinfo = Url::parse(input).map_or(true, |url| {
                ["http", "https", "ws", "wss", "ftp", "file"].contains(&url.scheme())
            });
            if plain && whatwg_userinfo && let (Err(a), Err(b)) = (input.into_request(), twin.as_str().into_request())
            {
                assert_eq!(a.to_string(), b.to_string(), "{input:?}");
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{input:?}");
            }
        }
    }

    // Moving credentials out of a URL the client accepted.
    let Ok(mut req) = input.into_request() else {
        return;
    };
    if let Some(value) = &own_auth {
        req.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    let before = req.uri().clone();
    // Refused exactly when what follows the last `@` is no authority of
    // its own although `http::Uri` took the whole (`http://u:p@[::1@h]/`,
    // host `h]`): sent as it is, the URL would show the password
    // (corpus/credentials/unparsable-host).
    let host_part_parses = before
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .is_none_or(|(_, host)| host.parse::<http::uri::Authority>().is_ok());
    if let Err(err) = move_credentials(&mut req) {
        assert_eq!(
            err.kind(),
            batch_fetch::ErrorKind::InvalidRequest,
            "{before}"
        );
        assert!(
            !host_part_parses,
            "{before}: refused, yet its authority parses"
        );
        return;
    }
    assert!(
        host_part_parses,
        "{before}: accepted with an authority that does not parse"
    );
    let after = req.uri().clone();
    let authority = after.authority().expect("an absolute URL").as_str();
    assert!(
        !authority.contains('@'),
        "{before} -> {after}: credentials left"
    );
    assert_eq!(after.scheme(), before.scheme());
    assert_eq!(after.host(), before.host(), "{before} -> {after}");
    assert_eq!(after.port_u16(), before.port_u16(), "{before} -> {after}");
    assert_eq!(after.path_and_query(), before.path_and_query());
    after
        .clone()
        .into_request()
        .unwrap_or_else(|e| panic!("{before} -> {after}: not a valid request: {e}"));

    let userinfo = before
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .map(|(userinfo, _)| userinfo.to_owned());
    match (&userinfo, &own_auth) {
        (None, _) => {
            assert_eq!(after, before);
            assert_eq!(req.headers().get(AUTHORIZATION), own_auth.as_ref());
        }
        (Some(_), Some(own)) => assert_eq!(req.headers().get(AUTHORIZATION), Some(own)),
        (Some(userinfo), None) => {
            let value = req.headers().get(AUTHORIZATION).expect("no Authorization");
            assert!(value.is_sensitive());
            let encoded = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Basic "))
                .unwrap_or_else(|| panic!("{value:?} is not Basic"));
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .expect("valid base64");
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let mut want = percent_decode(user);
            want.push(b':');
            want.extend(percent_decode(password));
            assert_eq!(decoded, want, "{userinfo:?}");
        }
    }

    // A second move changes nothing.
    let (uri, headers) = (req.uri().clone(), req.headers().clone());
    let _ = move_credentials(&mut req);
    assert_eq!(req.uri(), &uri);
    assert_eq!(req.headers(), &headers);
});

/// RFC 3986 percent-decoding: `%XX` with two hex digits, anything else as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
