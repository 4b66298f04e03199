//! [`Request`]: a request described in one expression, for batches.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::overrides::Overrides;
use super::{IntoRequest, sealed};
use crate::error::{BoxError, Error};
use crate::retry::RetryPolicy;

/// A request to put in a batch: method, URL, headers and body, built with
/// chained calls.
///
/// `http::Request::builder()` works too, but returns a `Result` at each
/// step; this builder keeps the first mistake (a bad header, say) and
/// reports it as that input's [`InvalidRequest`](crate::ErrorKind::InvalidRequest)
/// error when the batch reaches it, so one bad input never stops the
/// others and building a batch never panics.
///
/// ```
/// use batch_fetch::Request;
///
/// let reqs: Vec<Request> = (1..=3)
///     .map(|id| {
///         Request::post("https://api.example.test/items")
///             .bearer_auth("token")
///             .query(&[("id", id.to_string())])
///             .header("content-type", "text/plain")
///             .body(format!("item {id}"))
///     })
///     .collect();
/// # drop(reqs);
/// ```
pub struct Request {
    method: Method,
    url: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    overrides: Overrides,
    error: Option<Error>,
}

impl Request {
    /// A request with `method` for `url`: text, or a [`Url`](crate::Url) (which
    /// converts into its text; for a `&Url` pass `url.as_str()`).
    ///
    /// The text is read as a WHATWG URL, as a browser reads it (see
    /// [`IntoRequest`](crate::IntoRequest)), when the batch reaches the
    /// request: one that is not an absolute `http`/`https` URL is that
    /// input's [`InvalidRequest`](crate::ErrorKind::InvalidRequest) error.
    ///
    /// ```
    /// use batch_fetch::Request;
    ///
    /// let url = batch_fetch::Url::parse("https://api.example.test/items").unwrap();
    /// let req = Request::get(url.as_str()).bearer_auth("token");
    /// let again = Request::get(url);
    /// # drop((req, again));
    /// ```
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            query: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            overrides: Overrides::default(),
            error: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::POST, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::PUT, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::PATCH, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::DELETE, url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl Into<String>) -> Self {
        Self::new(Method::HEAD, url)
    }

    /// Adds a header (after any of the same name).
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        let name = HeaderName::try_from(name).map_err(Into::into);
        let value = HeaderValue::try_from(value).map_err(Into::into);
        match (name, value) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(e), _) | (_, Err(e)) => self.fail(e),
        }
        self
    }

    /// Sets all of `headers`, replacing the values of any header of the same
    /// name set before (as reqwest does).
    #[must_use]
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets `Authorization: Bearer <token>`, marked sensitive so it is
    /// never shown.
    #[must_use]
    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        self.authorization(format!("Bearer {token}"))
    }

    /// Sets `Authorization: Basic` for `user` and `password`, marked
    /// sensitive.
    #[must_use]
    pub fn basic_auth(self, user: impl fmt::Display, password: Option<impl fmt::Display>) -> Self {
        let pair = match password {
            Some(password) => format!("{user}:{password}"),
            None => format!("{user}:"),
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        self.authorization(format!("Basic {encoded}"))
    }

    fn authorization(mut self, value: String) -> Self {
        match HeaderValue::try_from(value) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.headers.insert(AUTHORIZATION, value);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    /// Appends `pairs` to the URL's query, form-encoded
    /// (`?a=1&b=x+y`).
    #[must_use]
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        let mut query =
            url::form_urlencoded::Serializer::new(self.query.take().unwrap_or_default());
        for (k, v) in pairs {
            query.append_pair(k.as_ref(), v.as_ref());
        }
        self.query = Some(query.finish());
        self
    }

    /// Sets the body to `value` as JSON, and `Content-Type:
    /// application/json` unless one is set.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    #[must_use]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Bytes::from(body);
                self.headers
                    .entry(http::header::CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("application/json"));
            }
            Err(e) => {
                let err = Error::invalid_request(self.url.clone(), e);
                self.error.get_or_insert(err);
            }
        }
        self
    }

    /// Sets the timeout of each attempt of this request, in place of the
    /// client's [`timeout`](crate::BatchClientBuilder::timeout): from
    /// connecting to the last byte of the body, each retry and redirect hop
    /// with a timeout of its own. Waiting for a permit, a rate slot or a
    /// retry backoff does not count.
    ///
    /// Per attempt, like the client's; reqwest's `RequestBuilder::timeout`
    /// is instead a total for the whole request. A deadline for everything
    /// is [`Batch::deadline`](crate::Batch::deadline).
    ///
    /// Default is the client's. Zero is this input's
    /// [`InvalidRequest`](crate::ErrorKind::InvalidRequest) error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use batch_fetch::Request;
    ///
    /// // A report known to be slow, in a batch of quick lookups.
    /// let slow = Request::get("https://api.example.test/report")
    ///     .timeout(Duration::from_secs(120));
    /// # drop(slow);
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if timeout.is_zero() {
            self.fail("the request's timeout must be longer than zero");
        }
        self.overrides.timeout = Some(timeout);
        self
    }

    /// Retries this request by `policy` instead of the client's
    /// [`retry`](crate::BatchClientBuilder::retry) policy:
    /// [`RetryPolicy::none()`] to send it once, or more retries for an
    /// input that matters more.
    ///
    /// Everything of `policy` applies to this request but its
    /// [`budget_percent`](RetryPolicy::budget_percent): the retry budget is
    /// the client's, shared by all its requests whatever their policy.
    /// This request's retries draw on it, and its first attempt pays into
    /// it when `policy` allows retries, so a batch of such inputs still
    /// cannot multiply the load on a failing server.
    ///
    /// Default is the client's. A policy whose `max_delay` is below its
    /// `base_delay`, or with a `budget_percent` out of range, is this
    /// input's [`InvalidRequest`](crate::ErrorKind::InvalidRequest) error.
    ///
    /// ```
    /// use batch_fetch::{Request, RetryPolicy};
    ///
    /// // A charge: better to fail than to be sent twice.
    /// let charge = Request::put("https://api.example.test/charges/42")
    ///     .body("amount=10")
    ///     .retry(RetryPolicy::none());
    /// # drop(charge);
    /// ```
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        if let Err(reason) = policy.validate() {
            self.fail(reason);
        }
        self.overrides.retry = Some(policy);
        self
    }

    fn fail(&mut self, e: impl Into<BoxError>) {
        let err = Error::invalid_request(self.url.clone(), e);
        self.error.get_or_insert(err);
    }
}

impl sealed::Sealed for Request {}
impl IntoRequest for Request {
    fn into_request(self) -> Result<http::Request<Bytes>, Error> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let query = self.query.as_deref().filter(|q| !q.is_empty());
        let mut req = super::get(super::whatwg::to_uri(&self.url, query)?)?;
        *req.method_mut() = self.method;
        *req.headers_mut() = self.headers;
        *req.body_mut() = self.body;
        self.overrides.attach(&mut req);
        Ok(req)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: names only.
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &crate::error::redact_input(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .field("timeout", &self.overrides.timeout)
            .field("retry", &self.overrides.retry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn builds_method_query_headers_and_body() {
        let req = Request::put("http://a.test/x?y=1#frag")
            .query(&[("q", "a b&c"), ("n", "2")])
            .header("x-one", "1")
            .basic_auth("user", Some("pw"))
            .body("payload")
            .into_request()
            .unwrap();
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.uri().to_string(), "http://a.test/x?y=1&q=a+b%26c&n=2");
        assert_eq!(req.headers()["x-one"], "1");
        assert_eq!(req.headers()[AUTHORIZATION], "Basic dXNlcjpwdw==");
        assert!(req.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(req.body(), "payload");
    }

    #[test]
    fn a_bad_header_is_that_input_s_error() {
        let err = Request::get("http://a.test/")
            .header("bad header", "x")
            .header("x-ok", "fine")
            .into_request()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let err = Request::get("http://a.test/")
            .header("x-bad", "line\nbreak")
            .into_request()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let err = Request::get("nope").into_request().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn debug_hides_header_values() {
        let req = Request::get("http://a.test/").bearer_auth("s3cret");
        assert!(!format!("{req:?}").contains("s3cret"));
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_body_and_content_type() {
        let req = Request::post("http://a.test/")
            .json(&serde_json::json!({"id": 1}))
            .into_request()
            .unwrap();
        assert_eq!(
            req.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
        assert_eq!(req.body(), r#"{"id":1}"#);
    }
}
