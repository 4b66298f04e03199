//! Proxy settings: [`Proxy`], and how the environment is read.

use std::fmt;

use http::Uri;
use hyper_util::client::proxy::matcher::Matcher;

use crate::error::Error;

/// Which proxy to use for which requests, set with
/// [`BatchClientBuilder::proxy`](crate::BatchClientBuilder::proxy).
///
/// Without one, the client reads `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`
/// and `NO_PROXY` (or their lowercase forms) at
/// [`build()`](crate::BatchClientBuilder::build), as curl does;
/// [`no_proxy()`](crate::BatchClientBuilder::no_proxy) turns all proxies
/// off.
///
/// A proxy URL is `http://[user:password@]host:port` (an HTTP proxy:
/// `https` requests go through a `CONNECT` tunnel, so TLS is still
/// verified end to end against the target host; `http` requests are sent
/// to it in absolute form), `https://...` (the same, with the connection
/// to the proxy itself in TLS, its certificate verified against the
/// client's roots as any server's; port 443 unless given), or
/// `socks5://` / `socks5h://` (SOCKS5, names resolved here or by the
/// proxy). Credentials in the URL are sent as `Proxy-Authorization: Basic`
/// (or SOCKS5 authentication).
///
/// ```
/// use batch_fetch::{BatchClient, Proxy};
///
/// let client = BatchClient::builder()
///     .proxy(Proxy::all("http://user:secret@127.0.0.1:3128").no_proxy("localhost,.internal"))
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
#[derive(Clone, Default)]
pub struct Proxy {
    http: Option<String>,
    https: Option<String>,
    no_proxy: Option<String>,
}

impl Proxy {
    /// Sends `http` and `https` requests through `url`.
    pub fn all(url: impl Into<String>) -> Self {
        let url = url.into();
        Proxy {
            http: Some(url.clone()),
            https: Some(url),
            no_proxy: None,
        }
    }

    /// Sends `http` requests through `url`.
    pub fn http(url: impl Into<String>) -> Self {
        Proxy {
            http: Some(url.into()),
            ..Proxy::default()
        }
    }

    /// Sends `https` requests through `url`.
    pub fn https(url: impl Into<String>) -> Self {
        Proxy {
            https: Some(url.into()),
            ..Proxy::default()
        }
    }

    /// Hosts that bypass the proxy, comma-separated as in `NO_PROXY`:
    /// `example.test` (and its subdomains), `.example.test` (subdomains),
    /// IP addresses and CIDR blocks (`10.0.0.0/8`), or `*` for all.
    #[must_use]
    pub fn no_proxy(mut self, hosts: impl Into<String>) -> Self {
        self.no_proxy = Some(hosts.into());
        self
    }

    /// Adds `other`'s settings to these ones (the later wins where both set
    /// one).
    pub(crate) fn merge(&mut self, other: Proxy) {
        if other.http.is_some() {
            self.http = other.http;
        }
        if other.https.is_some() {
            self.https = other.https;
        }
        if other.no_proxy.is_some() {
            self.no_proxy = other.no_proxy;
        }
    }

    /// The proxies named by the environment, as curl reads them. A CGI
    /// program (one with `REQUEST_METHOD` set) ignores them, since a
    /// client's `Proxy:` header would arrive there as `HTTP_PROXY`.
    ///
    /// A value the client cannot use (`socks4://`, a typo) is
    /// skipped with a warning (with the `tracing` feature), as hyper-util
    /// skips what it cannot read: the environment is not this program's
    /// to fix, and [`BatchClient::new`](crate::BatchClient::new) must not
    /// fail over it. A proxy given to the builder is checked strictly.
    pub(crate) fn from_env() -> Self {
        if std::env::var_os("REQUEST_METHOD").is_some() {
            return Proxy::default();
        }
        Proxy::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over `var`, which reads one variable.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find_map(|n| var(n).map(|v| (n, v)))
                .filter(|(_, v)| !v.trim().is_empty())
        };
        let usable = |found: Option<(&'static str, String)>| {
            let (name, url) = found?;
            match check_url(&url) {
                Ok(_) => Some(url),
                Err(err) => {
                    #[cfg(feature = "tracing")]
                    tracing::warn!("{name} is ignored: {err}");
                    let _ = (name, err);
                    None
                }
            }
        };
        let all = usable(set(["ALL_PROXY", "all_proxy"]));
        let http = set(["HTTP_PROXY", "http_proxy"]);
        let https = set(["HTTPS_PROXY", "https_proxy"]);
        Proxy {
            // A variable that is set but unusable is skipped, not replaced
            // by ALL_PROXY: it was meant for these requests.
            http: if http.is_some() {
                usable(http)
            } else {
                all.clone()
            },
            https: if https.is_some() { usable(https) } else { all },
            no_proxy: set(["NO_PROXY", "no_proxy"]).map(|(_, v)| v),
        }
    }

    /// The matcher the connector consults, or `None` when no proxy is set.
    pub(crate) fn matcher(&self) -> Result<Option<Matcher>, Error> {
        if self.http.is_none() && self.https.is_none() {
            return Ok(None);
        }
        let mut builder = Matcher::builder();
        if let Some(url) = &self.http {
            builder = builder.http(check_url(url)?);
        }
        if let Some(url) = &self.https {
            builder = builder.https(check_url(url)?);
        }
        if let Some(no) = &self.no_proxy {
            // `*` means every host, IP addresses included, which
            // hyper-util's matcher only applies to names.
            if no.split(',').any(|entry| entry.trim() == "*") {
                return Ok(None);
            }
            builder = builder.no(no.as_str());
        }
        Ok(Some(builder.build()))
    }
}

/// Proxy URLs must say where to go; a typo should not silently mean "no
/// proxy".
fn check_url(url: &str) -> Result<String, Error> {
    let url = url.trim();
    // As curl does, `host:port` means an HTTP proxy.
    let url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::config(format!("proxy URL {:?}: {e}", redact(&url))))?;
    // hyper-util's matcher splits the user from the host at the first `@`,
    // `http` at the last: with an `@` in the user or password it would
    // drop the proxy without a word.
    if uri
        .authority()
        .is_some_and(|a| a.as_str().matches('@').count() > 1)
    {
        return Err(Error::config(format!(
            "proxy URL {:?}: an `@` in its user or password must be written %40",
            redact(&url)
        )));
    }
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https" | "socks5" | "socks5h"), Some(host)) if !host.is_empty() => {
            usable_by_hyper_util(url)
        }
        _ => Err(Error::config(format!(
            "proxy URL {:?} must be http://, https://, socks5:// or socks5h:// with a host",
            redact(&url)
        ))),
    }
}

/// hyper-util reads a proxy URL again, its own way, and drops one it
/// cannot read without a word (`http://1'[@]27.0.0.1:3128` has a host for
/// `http`, none for it once the user is split off): a typo must not mean
/// "no proxy", so ask it.
fn usable_by_hyper_util(url: String) -> Result<String, Error> {
    let alone = Matcher::builder().http(url.clone()).build();
    let probe = Uri::from_static("http://probe.invalid/");
    match alone.intercept(&probe) {
        Some(_) => Ok(url),
        None => Err(Error::config(format!(
            "proxy URL {:?}: its host does not parse once its user and password are taken out",
            redact(&url)
        ))),
    }
}

/// A proxy URL without its password, for messages. A URL without a
/// scheme counts as `http://`, as [`check_url`] reads it.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match crate::error::userinfo(url, start) {
        Some(range) => format!("{}***@{}", &url[..range.start], &url[range.end..]),
        None => url.to_owned(),
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("http", &self.http.as_deref().map(redact))
            .field("https", &self.https.as_deref().map(redact))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_proxy_urls_are_config_errors() {
        for bad in ["", "not a url", "ftp://h:1", "https://", "http://"] {
            let err = Proxy::all(bad).matcher().expect_err(bad);
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{bad}");
        }
        assert!(
            Proxy::all("http://127.0.0.1:3128")
                .matcher()
                .unwrap()
                .is_some()
        );
        assert!(Proxy::all("127.0.0.1:3128").matcher().unwrap().is_some());
        assert!(Proxy::all("https://p.test").matcher().unwrap().is_some());
        assert!(Proxy::default().matcher().unwrap().is_none());
    }

    #[test]
    fn passwords_never_show() {
        let proxy = Proxy::all("http://user:secret@127.0.0.1:3128");
        assert!(!format!("{proxy:?}").contains("secret"));
        let err = Proxy::all("ftp://user:secret@h:1").matcher().unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn schemeless_passwords_are_redacted() {
        let proxy = Proxy::all("user:s3cret@proxy.test:3128");
        let shown = format!("{proxy:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("***@proxy.test:3128"), "{shown}");
        assert_eq!(redact("http://u:p@h:1"), "http://***@h:1");
        assert_eq!(redact("h:1"), "h:1");
    }

    #[test]
    fn an_unescaped_at_in_the_userinfo_is_refused_not_dropped() {
        let err = Proxy::all("http://us@er:s3cret@proxy.test:3128")
            .matcher()
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.to_string().contains("%40"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = Proxy::all("1'[@]27.0.0.1:3128").matcher().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        let escaped = Proxy::all("http://us%40er:s3cret@proxy.test:3128");
        let matcher = escaped.matcher().unwrap().expect("a proxy is set");
        assert!(
            matcher
                .intercept(&"http://a.test/".parse().unwrap())
                .is_some()
        );
    }

    #[test]
    fn a_star_in_no_proxy_covers_ip_addresses_too() {
        let proxy = Proxy::all("http://p.test:1").no_proxy("a.test, *");
        assert!(proxy.matcher().unwrap().is_none());
    }

    #[test]
    fn matcher_follows_no_proxy() {
        let m = Proxy::all("http://127.0.0.1:3128")
            .no_proxy("skip.test")
            .matcher()
            .unwrap()
            .unwrap();
        assert!(m.intercept(&"http://a.test/".parse().unwrap()).is_some());
        assert!(m.intercept(&"https://a.test/".parse().unwrap()).is_some());
        assert!(m.intercept(&"http://skip.test/".parse().unwrap()).is_none());
        assert!(
            m.intercept(&"http://www.skip.test/".parse().unwrap())
                .is_none()
        );
    }

    fn from_vars(vars: &[(&str, &str)]) -> Proxy {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxy::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn unusable_environment_values_are_skipped() {
        for bad in [
            "socks4://127.0.0.1:1080",
            "http://us@er:pw@127.0.0.1:3128",
            "http://",
        ] {
            let proxy = from_vars(&[("HTTPS_PROXY", bad), ("HTTP_PROXY", "127.0.0.1:3128")]);
            assert_eq!(proxy.https, None, "{bad}");
            assert_eq!(proxy.http.as_deref(), Some("127.0.0.1:3128"), "{bad}");
            let matcher = proxy.matcher().expect("usable").expect("http set");
            assert!(
                matcher
                    .intercept(&"https://a.test/".parse().unwrap())
                    .is_none()
            );
            assert!(
                matcher
                    .intercept(&"http://a.test/".parse().unwrap())
                    .is_some()
            );
        }
        // Unusable, it is not replaced by ALL_PROXY either.
        let proxy = from_vars(&[
            ("https_proxy", "socks4://p.test:1"),
            ("ALL_PROXY", "http://all.test:1"),
        ]);
        assert_eq!(proxy.https, None);
        assert_eq!(proxy.http.as_deref(), Some("http://all.test:1"));
        let proxy = from_vars(&[("ALL_PROXY", "socks4://all.test:1")]);
        assert!(proxy.matcher().unwrap().is_none());
    }
}
