//! Name resolution: `resolve()` overrides first, then the chosen resolver
//! (the system's getaddrinfo by default, a caller's own, or hickory).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};

use crate::error::BoxError;

/// The future a [`Resolve`] returns: the addresses of a host name.
pub type Resolving = Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, BoxError>> + Send>>;

/// A DNS resolver the client can use instead of the system's, set with
/// [`BatchClientBuilder::dns_resolver`](crate::BatchClientBuilder::dns_resolver).
///
/// An address whose port is 0 gets the URL's port (or its scheme's
/// default); another port is used as it is when the URL names none. IP
/// literals in URLs never reach the resolver.
///
/// ```
/// use std::net::SocketAddr;
/// use std::sync::Arc;
/// use batch_fetch::{BatchClient, Resolve, Resolving};
///
/// /// Sends every name to one address, as a test double would.
/// struct Fixed(SocketAddr);
///
/// impl Resolve for Fixed {
///     fn resolve(&self, _host: &str) -> Resolving {
///         let addr = self.0;
///         Box::pin(async move { Ok(vec![addr]) })
///     }
/// }
///
/// let client = BatchClient::builder()
///     .dns_resolver(Arc::new(Fixed("127.0.0.1:0".parse().unwrap())))
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// Looks up `host` (lowercase, without brackets or port).
    fn resolve(&self, host: &str) -> Resolving;
}

/// The resolver under the connector.
#[derive(Clone)]
pub(crate) struct DnsResolver {
    overrides: Arc<HashMap<String, Vec<SocketAddr>>>,
    backend: Backend,
}

#[derive(Clone)]
pub(crate) enum Backend {
    /// getaddrinfo on Tokio's blocking threads (up to 512 at once).
    System(GaiResolver),
    Custom(Arc<dyn Resolve>),
    #[cfg(feature = "hickory-dns")]
    Hickory(Arc<hickory_resolver::TokioResolver>),
}

impl Backend {
    pub(crate) fn system() -> Self {
        Backend::System(GaiResolver::new())
    }

    /// An async resolver configured from the system (`/etc/resolv.conf`),
    /// with its own cache.
    #[cfg(feature = "hickory-dns")]
    pub(crate) fn hickory() -> Result<Self, crate::Error> {
        // Both reading the system's configuration and building can fail.
        let resolver = hickory_resolver::TokioResolver::builder_tokio()
            .and_then(|builder| builder.build())
            .map_err(|e| crate::Error::config(format!("hickory DNS configuration: {e}")))?;
        Ok(Backend::Hickory(Arc::new(resolver)))
    }
}

impl DnsResolver {
    pub(crate) fn new(overrides: HashMap<String, Vec<SocketAddr>>, backend: Backend) -> Self {
        DnsResolver {
            overrides: Arc::new(overrides),
            backend,
        }
    }
}

/// The name a [`resolve`](crate::BatchClientBuilder::resolve) override is
/// kept under: the host as an input URL's host is parsed (WHATWG), so that
/// `resolve("Bücher.test", ..)` matches `http://bücher.test/`: lowercase,
/// an internationalised name in punycode (`xn--bcher-kva.test`), an IPv6
/// address without brackets. A name WHATWG refuses is kept lowercased
/// (it can match no URL, which WHATWG would have refused too).
pub(crate) fn override_key(host: &str) -> String {
    match url::Host::parse(host) {
        Ok(url::Host::Domain(domain)) => domain,
        Ok(url::Host::Ipv4(ip)) => ip.to_string(),
        Ok(url::Host::Ipv6(ip)) => ip.to_string(),
        Err(_) => host.trim_matches(['[', ']']).to_ascii_lowercase(),
    }
}

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend {
            Backend::System(_) => "system",
            Backend::Custom(_) => "custom",
            #[cfg(feature = "hickory-dns")]
            Backend::Hickory(_) => "hickory",
        };
        f.debug_struct("DnsResolver")
            .field("overrides", &self.overrides.len())
            .field("backend", &backend)
            .finish()
    }
}

type Addrs = std::vec::IntoIter<SocketAddr>;

impl tower::Service<Name> for DnsResolver {
    type Response = Addrs;
    type Error = BoxError;
    // Boxed: once per new connection, not per request.
    type Future = Pin<Box<dyn Future<Output = Result<Addrs, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_ascii_lowercase();
        if let Some(addrs) = self.overrides.get(&host) {
            let addrs = addrs.clone();
            return Box::pin(async move { Ok(addrs.into_iter()) });
        }
        match &mut self.backend {
            Backend::System(gai) => {
                let lookup = gai.call(name);
                Box::pin(async move {
                    let addrs = lookup.await?;
                    Ok(addrs.collect::<Vec<_>>().into_iter())
                })
            }
            Backend::Custom(resolver) => {
                let lookup = resolver.resolve(&host);
                Box::pin(async move { Ok(lookup.await?.into_iter()) })
            }
            #[cfg(feature = "hickory-dns")]
            Backend::Hickory(resolver) => {
                let resolver = resolver.clone();
                Box::pin(async move {
                    let ips = resolver.lookup_ip(host).await?;
                    let addrs: Vec<SocketAddr> =
                        ips.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
                    Ok(addrs.into_iter())
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::override_key;

    #[test]
    fn override_keys_are_hosts_as_urls_name_them() {
        for (host, want) in [
            ("example.test", "example.test"),
            ("API.Example.TEST", "api.example.test"),
            ("bücher.test", "xn--bcher-kva.test"),
            ("BÜCHER.test", "xn--bcher-kva.test"),
            ("xn--bcher-kva.test", "xn--bcher-kva.test"),
            ("[::1]", "::1"),
            ("::1", "::1"),
            ("127.1", "127.0.0.1"),
            ("Bad Host", "bad host"),
        ] {
            assert_eq!(override_key(host), want, "{host:?}");
        }
        // The key is what a parsed input's host is.
        let url = url::Url::parse("http://Bücher.Test:8080/").unwrap();
        assert_eq!(url.host_str(), Some(override_key("bücher.test").as_str()));
    }
}
