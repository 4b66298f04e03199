//! What the connection side adds to a request's head before it goes out:
//! `Host` for plain HTTP/1.1, and `Proxy-Authorization` for a request a
//! forwarding proxy carries (tunnels and SOCKS carry their credentials in
//! their own handshake).

use hyper_util::client::proxy::matcher::Matcher;

use super::forward_auth;

/// Adds to `req` what its connection needs: `Proxy-Authorization` when
/// `proxy` forwards it with credentials, and `Host` when `http_is_http1`
/// (no h2c by prior knowledge).
pub(super) fn complete<B>(
    req: &mut http::Request<B>,
    proxy: Option<&Matcher>,
    http_is_http1: bool,
) {
    if let Some(auth) = proxy.and_then(|m| forward_auth(m, req.uri())) {
        req.headers_mut()
            .entry(http::header::PROXY_AUTHORIZATION)
            .or_insert(auth);
    }
    if http_is_http1 {
        set_host(req);
    }
}

/// Sets the `Host` of a plain `http` request (HTTP/1.1 here) that has
/// none, before a connection is had. `https` is left to the pool, which
/// knows only after the handshake whether the connection speaks HTTP/2
/// (no `Host` there).
fn set_host<B>(req: &mut http::Request<B>) {
    if req.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
        set_host_from_authority(req);
    }
}

/// Sets the `Host` of an HTTP/1.1 request that has none: its authority's
/// text, without its scheme's default port. hyper-util formats
/// `host:port` anew for each request (about 2,500 instructions); the
/// authority already is that text. Credentials still in the URL (they
/// never are by then) give no `Host`.
pub(super) fn set_host_from_authority<B>(req: &mut http::Request<B>) {
    // Checked first: plain `http` has it already when the pool asks again.
    if req.headers().contains_key(http::header::HOST) {
        return;
    }
    let uri = req.uri();
    let Some(authority) = uri.authority() else {
        return;
    };
    if authority.as_str().contains('@') {
        return;
    }
    let default_port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        ":443"
    } else {
        ":80"
    };
    let text = authority.as_str();
    if let Ok(value) = http::HeaderValue::from_str(text.strip_suffix(default_port).unwrap_or(text))
    {
        req.headers_mut().insert(http::header::HOST, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str, own: Option<&'static str>) -> Option<String> {
        let mut req = http::Request::new(());
        *req.uri_mut() = url.parse().unwrap();
        if let Some(own) = own {
            req.headers_mut()
                .insert(http::header::HOST, http::HeaderValue::from_static(own));
        }
        set_host(&mut req);
        let all: Vec<_> = req.headers().get_all(http::header::HOST).iter().collect();
        assert!(all.len() <= 1, "{all:?}");
        all.first().map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn host_is_the_authority_without_a_default_port() {
        let host = |url| host_of(url, None);
        assert_eq!(
            host("http://127.0.0.1:8080/a").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host("http://example.test/").as_deref(),
            Some("example.test")
        );
        assert_eq!(
            host("http://example.test:80/").as_deref(),
            Some("example.test")
        );
        assert_eq!(
            host("http://example.test:8080/").as_deref(),
            Some("example.test:8080")
        );
        assert_eq!(
            host("http://example.test:180/").as_deref(),
            Some("example.test:180")
        );
        assert_eq!(host("http://[::1]:80/").as_deref(), Some("[::1]"));
        assert_eq!(host("http://[::1]:3000/").as_deref(), Some("[::1]:3000"));
        // Left to hyper-util: https (maybe HTTP/2), and credentials still
        // in the URL (they never are by then; hyper-util shows no userinfo).
        assert_eq!(host("https://example.test/"), None);
        assert_eq!(host("http://u:p@example.test/"), None);
        // The request's own wins.
        assert_eq!(
            host_of("http://example.test/", Some("other.test")).as_deref(),
            Some("other.test")
        );
    }
}
