//! An origin (scheme, host, port), as the per-host limit, redirects and
//! the connectors compare them.

use http::Uri;

/// The URL's port, or its scheme's default (443 for `https`, else 80).
pub(crate) fn port(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        })
}

/// `scheme://host:port`, lowercased and with the default port filled in,
/// so `HTTP://A` and `http://a:80` are one origin.
pub(crate) fn key(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or_default();
    format!("{scheme}://{host}:{}", port(uri)).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_case() {
        let key_of = |s: &str| key(&s.parse().unwrap());
        assert_eq!(key_of("HTTP://Example.test/a"), "http://example.test:80");
        assert_eq!(key_of("https://a.test/"), "https://a.test:443");
        assert_eq!(key_of("http://a.test:8080/"), "http://a.test:8080");
    }
}
