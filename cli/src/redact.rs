//! Credentials are sent, never shown: what the tool writes (JSON lines,
//! stderr, the report) has the `user:password@` of every URL replaced by
//! `***@`, and the values of headers whose name says they carry a secret
//! replaced by `***`.
//!
//! Redaction is by shape, not by a list of known secrets, so it holds for
//! URLs the tool only meets at run time (inputs, redirects, messages).

use std::borrow::Cow;

/// What stands where a secret was.
pub(crate) const MASK: &str = "***";

/// Header names whose values are secrets whatever their form.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Parts of a header name that say its value is a secret (`X-Api-Key`,
/// `X-Auth-Token`, `X-Client-Secret`, ...).
const SECRET_WORDS: [&str; 9] = [
    "auth",
    "token",
    "secret",
    "passw",
    "key",
    "cookie",
    "session",
    "credential",
    "signature",
];

/// `text` with the userinfo of every URL in it (`scheme://user:pw@host`)
/// replaced by `***@`; `text` itself when it has none.
pub(crate) fn userinfo(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let authority = from + found + 3;
        let rest = &text[authority..];
        // The authority ends where the path, query or fragment starts, or
        // where the URL does inside a longer text.
        let end = rest
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || "\"'<>`".contains(c)
            })
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.push_str(&text[copied..authority]);
            out.push_str(MASK);
            copied = authority + at;
        }
        from = authority + end;
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// An input's URL as written, its credentials masked: as [`userinfo`],
/// and also where the library's WHATWG parser finds credentials without
/// `//` after an `http:` or `https:` (`http:u:p@h`, `http:\\u:p@h`).
pub(crate) fn input_url(url: &str) -> Cow<'_, str> {
    let masked = userinfo(url);
    let Some(start) = slashless_authority(&masked) else {
        return masked;
    };
    let rest = &masked[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) if !rest[..at].ends_with(MASK) => {
            Cow::Owned(format!("{}{MASK}{}", &masked[..start], &rest[at..]))
        }
        _ => masked,
    }
}

/// Where the authority of an `http:` or `https:` URL starts when the
/// scheme's `:` is not followed by exactly `//`: past any `/` and `\\`
/// (and the tabs and newlines a WHATWG parser drops).
fn slashless_authority(url: &str) -> Option<usize> {
    let colon = url.find(':')?;
    let scheme: String = url[..colon]
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let scheme = scheme.trim_start_matches(|c: char| c <= ' ');
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let rest = &url[colon + 1..];
    let after = rest.trim_start_matches(['/', '\\', '\t', '\n', '\r']);
    let skipped = &rest[..rest.len() - after.len()];
    (skipped != "//").then_some(url.len() - after.len())
}

/// Whether a header of this name carries a secret.
pub(crate) fn is_secret_header(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    SECRET_HEADERS.contains(&name.as_str()) || SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// A `Name: value` header argument as it may be shown.
pub(crate) fn header_arg(arg: &str) -> Cow<'_, str> {
    match arg.split_once(':') {
        Some((name, _)) if is_secret_header(name) => Cow::Owned(format!("{name}: {MASK}")),
        Some(_) => userinfo(arg),
        // Not a header at all: which part would be the secret is unknown.
        None => Cow::Borrowed(MASK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_masked_wherever_a_url_is() {
        assert_eq!(userinfo("http://u:p@h.test/a@b"), "http://***@h.test/a@b");
        assert_eq!(userinfo("https://tok@h.test"), "https://***@h.test");
        assert_eq!(userinfo("http://h.test/x?u=a@b"), "http://h.test/x?u=a@b");
        assert_eq!(userinfo("no url here: a@b"), "no url here: a@b");
        assert_eq!(
            userinfo("for http://u:p@a.test/ and \"socks5://x:y@b.test:1\" then"),
            "for http://***@a.test/ and \"socks5://***@b.test:1\" then"
        );
        // A password that holds an `@` of its own.
        assert_eq!(userinfo("http://u:p@ss@h.test/"), "http://***@h.test/");
        assert!(matches!(userinfo("http://h.test/"), Cow::Borrowed(_)));
    }

    #[test]
    fn input_urls_lose_credentials_however_written() {
        assert_eq!(input_url("http://u:p@h.test/a@b"), "http://***@h.test/a@b");
        assert_eq!(input_url("http:u:p@h.test/x"), "http:***@h.test/x");
        assert_eq!(input_url("HTTPS:/u:p@h.test/"), "HTTPS:/***@h.test/");
        assert_eq!(input_url("http:\\\\u:p@h.test/"), "http:\\\\***@h.test/");
        assert_eq!(input_url("http:\t//u:p@h.test/"), "http:\t//***@h.test/");
        assert_eq!(input_url("http:h.test/a@b"), "http:h.test/a@b");
        assert_eq!(input_url("mailto:u@h.test"), "mailto:u@h.test");
        assert!(matches!(input_url("http://h.test/"), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_headers_are_known_by_name() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "Set-Cookie",
            "X-Api-Key",
            "X-Auth-Token",
            "x-client-secret",
            "X-Session-Id",
            "X-Amz-Signature",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in ["Accept", "User-Agent", "X-Request-Id", "Content-Type"] {
            assert!(!is_secret_header(name), "{name}");
        }
    }

    #[test]
    fn header_arguments_keep_their_name() {
        assert_eq!(
            header_arg("Authorization: Bearer abc"),
            "Authorization: ***"
        );
        assert_eq!(header_arg("Accept: text/plain"), "Accept: text/plain");
        assert_eq!(
            header_arg("Referer: http://u:p@h.test/"),
            "Referer: http://***@h.test/"
        );
        assert_eq!(header_arg("no colon, maybe a secret"), "***");
    }
}
