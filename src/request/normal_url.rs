//! Recognising a URL that WHATWG parsing would give back unchanged, so
//! that it can go to `http::Uri` without the `url` crate's parse.
//!
//! The WHATWG parse costs several thousand instructions a URL (the host
//! alone goes through IDNA processing, and an IPv4 address is printed
//! anew), several times what `http::Uri` spends, yet most URLs in a batch
//! are already in the form it produces. The test here is one pass over
//! the bytes, and conservative: anything it is unsure of (credentials, a
//! trailing dot, punycode labels, dot segments, a character WHATWG might
//! encode) takes the full parse, so both ways give the same URL for every
//! input. The tests below and the `into_request` fuzz target check that
//! they do.

/// The text of `input` to send, when WHATWG parsing would give `input`
/// back as it is but for its fragment (which is never sent): the part
/// before any `#`. `None` means "parse it".
pub(super) fn already_normal(input: &str) -> Option<&str> {
    let bytes = input.as_bytes();
    let (scheme_len, default_port): (usize, &[u8]) = if bytes.starts_with(b"http://") {
        (7, b"80")
    } else if bytes.starts_with(b"https://") {
        (8, b"443")
    } else {
        return None;
    };
    let rest = &bytes[scheme_len..];
    // The authority ends at the path's `/`; WHATWG would add the `/` of
    // an empty path, and anything else there is no host of ours.
    let authority_len = rest.iter().position(|&b| !HOST_OR_PORT[usize::from(b)])?;
    let (authority, tail) = rest.split_at(authority_len);
    if tail.first() != Some(&b'/') {
        return None;
    }
    let (host, port) = match authority.iter().position(|&b| b == b':') {
        Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
        None => (authority, None),
    };
    if !normal_host(host) || !port.is_none_or(|port| normal_port(port, default_port)) {
        return None;
    }
    let sent = normal_path_and_query(tail)?;
    // All ASCII up to here, so this is a char boundary.
    input.get(..scheme_len + authority_len + sent)
}

/// A byte of a host name or port the test takes: lowercase letters,
/// digits, `-`, `.` and `:`.
const HOST_OR_PORT: [bool; 256] = table(b"abcdefghijklmnopqrstuvwxyz0123456789-.:");

/// A byte WHATWG leaves alone in a path and in a query: RFC 3986's
/// unreserved and reserved characters and `%`, but for `'` (encoded in
/// the query of an http URL), `#` (the fragment, handled apart) and `[`,
/// `]`.
const PATH_OR_QUERY: [bool; 256] =
    table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@/?%");

const fn table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// Labels of lowercase letters, digits and `-`, none empty or punycode
/// (`xn--`), the last starting with a letter (one ending in a number is
/// read as an IPv4 address); or an IPv4 address in dotted decimal without
/// leading zeros.
fn normal_host(host: &[u8]) -> bool {
    let mut label_start = true;
    for (i, &b) in host.iter().enumerate() {
        match b {
            b'.' if !label_start => label_start = true,
            b'a'..=b'z' | b'0'..=b'9' | b'-' => {
                if label_start && host[i..].starts_with(b"xn--") {
                    return false;
                }
                label_start = false;
            }
            _ => return false,
        }
    }
    // Empty, or ending in a dot.
    if label_start {
        return false;
    }
    let last = host
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(0, |dot| dot + 1);
    host[last].is_ascii_lowercase() || canonical_ipv4(host)
}

/// Four decimal octets of at most 255, without leading zeros.
fn canonical_ipv4(host: &[u8]) -> bool {
    let mut octets = 0;
    host.split(|&b| b == b'.').all(|octet| {
        octets += 1;
        match octet {
            [b'0'] => true,
            [b'1'..=b'9', more @ ..] if more.len() <= 2 => decimal(octet).is_some_and(|n| n <= 255),
            _ => false,
        }
    }) && octets == 4
}

/// A port WHATWG writes as it is: digits without a leading zero, at most
/// 65535, and not the scheme's default (which it drops).
fn normal_port(port: &[u8], default_port: &[u8]) -> bool {
    port != default_port
        && matches!(port, [b'1'..=b'9', more @ ..] if more.len() <= 4)
        && decimal(port).is_some_and(|n| n <= 65535)
}

/// The value of ASCII digits (at most five, so no overflow).
fn decimal(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// How much of `tail` (from the path's `/`) is sent, when WHATWG leaves
/// it as it is: up to any `#`, of [`PATH_OR_QUERY`] bytes, and without a
/// path segment that may be `.` or `..` (which WHATWG removes) in any
/// spelling (`%2e` is a dot there too): a segment starting with one.
fn normal_path_and_query(tail: &[u8]) -> Option<usize> {
    let mut in_query = false;
    let mut segment_start = false;
    for (i, &b) in tail.iter().enumerate() {
        if b == b'#' {
            return Some(i);
        }
        if !PATH_OR_QUERY[usize::from(b)] {
            return None;
        }
        if !in_query {
            let dot = b == b'.'
                || (b == b'%'
                    && tail[i + 1..]
                        .get(..2)
                        .is_some_and(|h| h.eq_ignore_ascii_case(b"2e")));
            if segment_start && dot {
                return None;
            }
            in_query = b == b'?';
            segment_start = b == b'/';
        }
    }
    Some(tail.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `url` crate makes of `input`, without the fragment.
    fn whatwg(input: &str) -> Option<String> {
        let mut url = url::Url::parse(input).ok()?;
        url.set_fragment(None);
        Some(url.into())
    }

    #[test]
    fn takes_only_what_whatwg_leaves_alone() {
        for normal in [
            "http://a.test/",
            "https://a.test:8443/x/y.z?q=1&r=a+b%20c;d=e,f*~!$()@:/?x",
            "http://127.0.0.1:3000/fast?i=1",
            "http://10.0.0.255/",
            "http://a-b.c1.test/%zz?%",
            "http://1.2.3.a/",
            "http://a.test/x#frag ment",
            "http://a.test/..x",
        ] {
            let want = whatwg(normal).unwrap();
            let fast = already_normal(normal);
            // `..x` starts with a dot: parsed, to be sure.
            if normal.ends_with("..x") {
                assert_eq!(fast, None);
                continue;
            }
            assert_eq!(fast, Some(want.as_str()), "{normal:?}");
        }
        for parsed in [
            "HTTP://a.test/",
            "http://A.test/",
            "http://a.test",
            "http://a.test?x",
            "http://a.test:80/",
            "https://a.test:443/",
            "http://a.test:080/",
            "http://a.test:/",
            "http://a.test:99999/",
            "http://a.test./",
            "http://a..test/",
            "http://xn--bcher-kva.test/",
            "http://bücher.test/",
            "http://u:p@a.test/",
            "http://127.1/",
            "http://127.0.0.01/",
            "http://0x7f.0.0.1/",
            "http://1.2.3.4.5/",
            "http://a.1/",
            "http://[::1]/",
            "http://a.test/./x",
            "http://a.test/x/..",
            "http://a.test/%2e%2E/x",
            "http://a.test/a b",
            "http://a.test/?q='",
            "http://a.test/a|b",
            "http://a.test\\x",
            " http://a.test/",
            "http://a.test/\t",
            "ftp://a.test/",
        ] {
            assert_eq!(already_normal(parsed), None, "{parsed:?}");
        }
    }

    /// URLs mostly in normal form, with now and then a part WHATWG would
    /// change.
    fn near_normal() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let scheme = prop_oneof![
            8 => Just("http://"),
            4 => Just("https://"),
            1 => Just("HTTP://"),
            1 => Just("http:/"),
            1 => Just("http:///"),
            1 => Just("ftp://"),
        ];
        let label = prop_oneof![
            12 => r"[a-z][a-z0-9-]{0,4}",
            4 => r"[0-9]{1,3}",
            1 => r"0[0-9]{1,2}|0x[0-9a-f]{1,2}|256|[0-9][a-z]",
            1 => r"[A-Z][a-z]{0,2}|xn--[a-z]{1,4}|xn--bcher-kva|[a-z]_[a-z]|[a-z]-",
            1 => Just(String::new()),
        ];
        let host = prop_oneof![
            12 => proptest::collection::vec(label, 1..5).prop_map(|l| l.join(".")),
            1 => r"\[::1\]|bücher\.test|a\.test\.|u:p@a|a b|a%41",
        ];
        let port = prop_oneof![
            4 => Just(String::new()),
            4 => r"[1-9][0-9]{0,3}".prop_map(|p| format!(":{p}")),
            1 => r":(80|443|0|08080|65535|65536|99999|)",
        ];
        let segment = prop_oneof![
            16 => r"([a-z0-9_~!$&()*+,;=:@%-]([a-z0-9._~!$&()*+,;=:@%-]|%2e|%41){0,5})?",
            2 => r"(%2e|%2E|\.\.?)([a-z.]|%2e){0,2}",
            1 => r"[ '|^`{}\\\t\u{e9}<>\[\]]",
        ];
        let path = proptest::collection::vec(segment, 1..4)
            .prop_map(|segments| segments.iter().map(|s| format!("/{s}")).collect::<String>());
        let query = prop_oneof![
            3 => Just(String::new()),
            3 => r"\?([a-z0-9=&%/?+.:@-]|%2e){0,8}",
            1 => r"\?[a-z ']{0,4}",
        ];
        let fragment = prop_oneof![3 => Just(""), 1 => Just("#f"), 1 => Just("#a b")];
        (scheme, host, port, path, query, fragment)
            .prop_map(|(s, h, p, path, q, f)| format!("{s}{h}{p}{path}{q}{f}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Whatever the input, the fast way agrees with WHATWG.
        #[test]
        fn agrees_with_whatwg(input in near_normal()) {
            if let Some(fast) = already_normal(&input) {
                proptest::prop_assert_eq!(Some(fast.to_owned()), whatwg(&input), "{:?}", input);
            }
        }

        /// Dotted decimal hosts, near the edges of what is canonical.
        #[test]
        fn agrees_on_ipv4(parts in proptest::collection::vec("0|00|1|01|9|10|99|100|255|256|0x1|1a|a", 1..6)) {
            let input = format!("http://{}/", parts.join("."));
            if let Some(fast) = already_normal(&input) {
                proptest::prop_assert_eq!(Some(fast.to_owned()), whatwg(&input), "{:?}", input);
            }
        }
    }
}
