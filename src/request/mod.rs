//! Turning the inputs of a batch into requests.
//!
//! Bodies become [`Bytes`] so that a retry can resend a request by cloning
//! it, which costs a reference count rather than a copy.

pub(crate) mod chained;
mod normal_url;
mod overrides;
mod whatwg;

pub(crate) use overrides::Overrides;

use bytes::Bytes;
use http::{Request, Uri};
use url::Url;

use crate::error::Error;

/// An input that can be fetched: a URL or a complete [`http::Request`].
///
/// Implemented for `&str`, `String`, `&String`, [`Url`](crate::Url), `&Url` and
/// [`http::Uri`] (a `GET` of that URL), for `http::Request<B>` with `B`
/// one of `()`, [`Bytes`], `String`, `Vec<u8>` and `&'static str`, for the
/// crate's [`Request`](crate::Request) builder, and for `Result<T, E>` of
/// any of those (an `Err` is that input's error).
///
/// Text is read as a browser reads it, by the WHATWG URL Standard (the
/// [`url`] crate, as reqwest does): surrounding whitespace is trimmed, a
/// space or other character a URL cannot hold is percent-encoded
/// (`/a b` is sent as `/a%20b`), an internationalised host is sent in
/// punycode (`bücher.test` as `xn--bcher-kva.test`), scheme and host are
/// lowercased and a default port is dropped. An `http::Uri`, alone or in
/// an `http::Request`, is already parsed and is sent as it is.
///
/// An input that is not an absolute `http` or `https` URL with a host
/// becomes an error of kind
/// [`InvalidRequest`](crate::ErrorKind::InvalidRequest) for that input
/// alone; the rest of the batch is unaffected.
///
/// ```
/// # async fn run() -> Result<(), batch_fetch::Error> {
/// let client = batch_fetch::BatchClient::new();
/// let post = http::Request::post("http://127.0.0.1:1/submit")
///     .header("content-type", "application/json")
///     .body(r#"{"id":1}"#)
///     .unwrap();
/// let _ = client.fetch(post).await;
/// # Ok(()) }
/// ```
///
/// This trait is sealed: convert your own types to one of the above.
pub trait IntoRequest: sealed::Sealed {
    #[doc(hidden)]
    fn into_request(self) -> Result<Request<Bytes>, Error>;
}

pub(crate) mod sealed {
    pub trait Sealed {}
    pub trait SealedBody {}
}

impl sealed::Sealed for &str {}
impl IntoRequest for &str {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        get(whatwg::to_uri(self, None)?)
    }
}

impl sealed::Sealed for String {}
impl IntoRequest for String {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        self.as_str().into_request()
    }
}

impl sealed::Sealed for &String {}
impl IntoRequest for &String {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        self.as_str().into_request()
    }
}

impl sealed::Sealed for Url {}
impl IntoRequest for Url {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        (&self).into_request()
    }
}

impl sealed::Sealed for &Url {}
impl IntoRequest for &Url {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        get(whatwg::uri_of(self)?)
    }
}

impl sealed::Sealed for Uri {}
impl IntoRequest for Uri {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        check_url(&self)?;
        get(self)
    }
}

impl<T: IntoRequest, E: Into<crate::BoxError>> sealed::Sealed for Result<T, E> {}
/// An input that may have failed before it reached the client: a line of
/// a file that did not parse, say. `Ok(input)` is fetched as `input`;
/// `Err(reason)` becomes that input's own
/// [`InvalidRequest`](crate::ErrorKind::InvalidRequest) error, with
/// `reason` as its source, and keeps its place in the batch.
///
/// ```
/// # async fn run() {
/// use batch_fetch::{BatchClient, ErrorKind};
///
/// let lines = ["http://127.0.0.1:1/a", "not a line we understand"];
/// let inputs = lines.iter().enumerate().map(|(i, line)| {
///     if line.starts_with("http") {
///         Ok(line.to_string())
///     } else {
///         Err(format!("line {}: expected a URL", i + 1))
///     }
/// });
/// let results = BatchClient::new().fetch_all_settled(inputs).await;
/// let err = results[1].as_ref().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidRequest);
/// assert!(err.to_string().contains("line 2: expected a URL"));
/// # }
/// ```
impl<T: IntoRequest, E: Into<crate::BoxError>> IntoRequest for Result<T, E> {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        match self {
            Ok(input) => input.into_request(),
            Err(reason) => Err(Error::rejected_input(reason.into())),
        }
    }
}

impl<B: IntoBody> sealed::Sealed for Request<B> {}
impl<B: IntoBody> IntoRequest for Request<B> {
    fn into_request(self) -> Result<Request<Bytes>, Error> {
        check_url(self.uri())?;
        Ok(self.map(IntoBody::into_bytes))
    }
}

/// Request body types accepted in an `http::Request<B>` input.
pub trait IntoBody: sealed::SealedBody {
    #[doc(hidden)]
    fn into_bytes(self) -> Bytes;
}

macro_rules! bodies {
    ($($ty:ty => |$b:ident| $conv:expr;)*) => {$(
        impl sealed::SealedBody for $ty {}
        impl IntoBody for $ty {
            fn into_bytes(self) -> Bytes {
                let $b = self;
                $conv
            }
        }
    )*};
}

bodies! {
    () => |_b| Bytes::new();
    Bytes => |b| b;
    String => |b| Bytes::from(b);
    Vec<u8> => |b| Bytes::from(b);
    &'static str => |b| Bytes::from_static(b.as_bytes());
}

fn get(uri: Uri) -> Result<Request<Bytes>, Error> {
    let mut req = Request::new(Bytes::new());
    *req.uri_mut() = uri;
    Ok(req)
}

/// Marks credentials as sensitive, however they were set: their `Debug`
/// then shows no value, and HTTP/2 never puts them in its compression
/// table (where another request could probe for them).
pub(crate) fn mark_sensitive(headers: &mut http::HeaderMap) {
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};

    // One pass over the few headers a request has, rather than three
    // lookups, each hashing a name.
    for (name, value) in headers.iter_mut() {
        if name == AUTHORIZATION || name == PROXY_AUTHORIZATION || name == COOKIE {
            value.set_sensitive(true);
        }
    }
}

/// Moves `user:password@` out of the URL into `Authorization: Basic`
/// (unless the request sets its own Authorization), as curl and reqwest
/// do, so the password never reaches the request line, a proxy, the
/// pool's keys or a log.
///
/// # Errors
///
/// An URL whose authority is no valid one once its `user:password@` is
/// taken out (`http` accepts `http://u:p@[::1@h]/`): sending it as it is
/// would show the password.
pub(crate) fn move_credentials<B>(req: &mut Request<B>) -> Result<(), Error> {
    use base64::Engine;
    use http::header::{AUTHORIZATION, HeaderValue};

    let Some((userinfo, host)) = req
        .uri()
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
    else {
        return Ok(());
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut credentials: Vec<u8> = percent_encoding::percent_decode_str(user).collect();
    credentials.push(b':');
    credentials.extend(percent_encoding::percent_decode_str(password));
    let host = host.parse::<http::uri::Authority>().map_err(|e| {
        Error::invalid_request(req.uri().to_string(), e).with_url(req.uri().clone())
    })?;
    if !req.headers().contains_key(AUTHORIZATION) {
        let token = base64::engine::general_purpose::STANDARD.encode(&credentials);
        // Base64 is always a valid header value.
        if let Ok(mut value) = HeaderValue::try_from(format!("Basic {token}")) {
            value.set_sensitive(true);
            req.headers_mut().insert(AUTHORIZATION, value);
        }
    }
    let mut parts = req.uri().clone().into_parts();
    parts.authority = Some(host);
    *req.uri_mut() =
        Uri::from_parts(parts).map_err(|e| Error::invalid_request(req.uri().to_string(), e))?;
    Ok(())
}

/// Accepts only absolute `http`/`https` URLs with a host.
fn check_url(uri: &Uri) -> Result<(), Error> {
    match not_fetchable(uri.scheme_str(), uri.host()) {
        None => Ok(()),
        Some(reason) => Err(Error::invalid_request(uri.to_string(), reason)),
    }
}

/// Why a URL with this scheme and host cannot be fetched (`None`: it can),
/// for `http::Uri` inputs and URL text alike.
fn not_fetchable(scheme: Option<&str>, host: Option<&str>) -> Option<&'static str> {
    match (scheme, host) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => None,
        (Some("http" | "https"), _) => Some("URL has no host"),
        (Some(_), _) => Some("scheme is not http or https"),
        (None, _) => Some("not an absolute URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_become_basic_auth() {
        let mut req = "http://us%40er:p%3Ass@Example.test:8080/a?b=c"
            .into_request()
            .unwrap();
        move_credentials(&mut req).unwrap();
        // WHATWG lowercases the host.
        assert_eq!(req.uri().to_string(), "http://example.test:8080/a?b=c");
        let auth = &req.headers()[http::header::AUTHORIZATION];
        assert!(auth.is_sensitive());
        // base64("us@er:p:ss")
        assert_eq!(auth, "Basic dXNAZXI6cDpzcw==");

        let mut own = Request::new(Bytes::new());
        *own.uri_mut() = "http://u:p@h.test/".parse().unwrap();
        own.headers_mut()
            .insert(http::header::AUTHORIZATION, "Bearer t".parse().unwrap());
        move_credentials(&mut own).unwrap();
        assert_eq!(own.uri(), "http://h.test/");

        let mut odd = Request::new(Bytes::new());
        *odd.uri_mut() = "http://u:s3cret@[::1@h]/".parse().unwrap();
        let err = move_credentials(&mut odd).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidRequest);
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert_eq!(own.headers()[http::header::AUTHORIZATION], "Bearer t");
    }
    use crate::ErrorKind;

    #[test]
    fn rejects_what_is_not_an_absolute_http_url() {
        for bad in [
            "",
            "not a url",
            "/relative",
            "ftp://host/x",
            "example.com",
            "http://",
            "http://bad host/",
        ] {
            let err = bad.into_request().expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
        // WHATWG, as browsers and reqwest: the slashes before the host are
        // optional for http, so this names host `x` (RFC 3986 reads an
        // empty host, which `http::Uri` refused).
        let req = "http:///x".into_request().unwrap();
        assert_eq!(req.uri(), "http://x/");
    }

    #[test]
    fn accepts_http_and_https() {
        for good in [
            "http://a/",
            "https://a.b:8443/x?y",
            "http://127.0.0.1:80",
            "http://[::1]:9/",
        ] {
            let req = good.into_request().expect(good);
            assert_eq!(req.method(), http::Method::GET);
            let url = Url::parse(good).unwrap();
            assert_eq!(url.clone().into_request().unwrap().uri(), req.uri());
            assert_eq!((&url).into_request().unwrap().uri(), req.uri());
        }
        for bad in ["ftp://a/x", "mailto:a@b.test", "data:text/plain,x"] {
            let err = Url::parse(bad).unwrap().into_request().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn credentials_are_marked_sensitive_however_set() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::AUTHORIZATION,
            "Bearer secret-token".parse().unwrap(),
        );
        headers.append(http::header::COOKIE, "a=secret-cookie".parse().unwrap());
        headers.append(http::header::COOKIE, "b=another-secret".parse().unwrap());
        headers.append("x-other", "visible".parse().unwrap());
        mark_sensitive(&mut headers);
        assert!(
            headers
                .get_all(http::header::COOKIE)
                .iter()
                .all(|v| v.is_sensitive())
        );
        assert!(headers[http::header::AUTHORIZATION].is_sensitive());
        assert!(!headers["x-other"].is_sensitive());
        let shown = format!("{headers:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("visible"), "{shown}");
    }
}
