//! A fetched response: head, whole body, and how it was obtained.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri, Version};

use crate::error::Error;
use crate::timings::Timings;

/// A response whose body has been read completely.
///
/// Any status counts as a response: a `404` or a `503` is `Ok(Response)`,
/// as in reqwest; check [`status()`](Response::status).
pub struct Response {
    head: http::response::Parts,
    body: Bytes,
    url: Uri,
    attempts: u32,
    timings: Timings,
    remote_addr: Option<SocketAddr>,
}

impl Response {
    pub(crate) fn new(
        res: http::Response<Bytes>,
        url: Uri,
        attempts: u32,
        timings: Timings,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        let (head, body) = res.into_parts();
        Response {
            head,
            body,
            url,
            attempts,
            timings,
            remote_addr,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The HTTP version of the connection that carried the response
    /// (`HTTP/2` when the server chose it by ALPN).
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The URL that answered: the input's, or the last one of its redirects.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// This response, or an error of kind [`Status`](crate::ErrorKind::Status)
    /// if its status is `4xx` or `5xx` (as reqwest's and aiohttp's
    /// `raise_for_status()`), carrying the status, the URL and the
    /// attempts. The body is dropped with it.
    ///
    /// # Errors
    ///
    /// When the status is a client or server error.
    pub fn error_for_status(self) -> Result<Self, Error> {
        match self.status_error() {
            Some(err) => Err(err),
            None => Ok(self),
        }
    }

    /// Like [`error_for_status`](Self::error_for_status), by reference.
    ///
    /// # Errors
    ///
    /// When the status is a client or server error.
    pub fn error_for_status_ref(&self) -> Result<&Self, Error> {
        match self.status_error() {
            Some(err) => Err(err),
            None => Ok(self),
        }
    }

    /// The error a `4xx` or `5xx` status makes, if this is one.
    pub(crate) fn status_error(&self) -> Option<Error> {
        Error::for_status(self.status(), &self.url, self.attempts, self.timings)
    }

    /// The bytes this response brought: its body's, or a download's file's.
    pub(crate) fn transferred(&self) -> u64 {
        match self.head.extensions.get::<Downloaded>() {
            Some(downloaded) => downloaded.bytes,
            None => self.body.len() as u64,
        }
    }

    /// Whether the body went to a file (see `download`).
    pub(crate) fn is_downloaded(&self) -> bool {
        self.head.extensions.get::<Downloaded>().is_some()
    }

    pub(crate) fn take_downloaded(&mut self) -> Option<Downloaded> {
        self.head.extensions.remove::<Downloaded>()
    }

    /// The whole body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the body, dropping the rest.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The body as text, decoded by the `charset` of its `Content-Type`
    /// (UTF-8 when there is none, or one the WHATWG Encoding Standard does
    /// not name), as reqwest does: a byte order mark wins over the
    /// charset and is stripped, and a malformed sequence becomes
    /// U+FFFD (`�`), so a body in the wrong encoding still reads.
    ///
    /// Without the `charset` feature (on by default) the body is read as
    /// UTF-8 alone, malformed sequences replaced the same way.
    ///
    /// ```
    /// # fn run(resp: batch_fetch::Response) -> Result<(), batch_fetch::Error> {
    /// // `Content-Type: text/plain; charset=iso-8859-1`, body `caf\xe9`:
    /// assert_eq!(resp.text()?, "café");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// None: whatever the bytes, there is text ([`body()`](Self::body)
    /// has them as they came). It returns a `Result` as reqwest's does,
    /// so that code moves between the two unchanged.
    pub fn text(&self) -> Result<String, Error> {
        #[cfg(feature = "charset")]
        {
            self.text_with_charset("utf-8")
        }
        #[cfg(not(feature = "charset"))]
        {
            Ok(String::from_utf8_lossy(&self.body).into_owned())
        }
    }

    /// Like [`text()`](Self::text), with `default_encoding` for a body
    /// whose `Content-Type` names no charset: a label of the WHATWG
    /// Encoding Standard such as `"windows-1252"` or `"shift_jis"` (see
    /// [encoding_rs](https://docs.rs/encoding_rs/0.8/encoding_rs/#relationship-with-windows-code-pages)),
    /// UTF-8 when it names none. A charset in the header still wins, as
    /// in reqwest, and one it does not know means UTF-8.
    ///
    /// # Errors
    ///
    /// None, as for [`text()`](Self::text).
    #[cfg(feature = "charset")]
    #[cfg_attr(docsrs, doc(cfg(feature = "charset")))]
    pub fn text_with_charset(&self, default_encoding: &str) -> Result<String, Error> {
        let label = charset(self.headers()).unwrap_or(default_encoding);
        let encoding =
            encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::UTF_8);
        let (text, _, _) = encoding.decode(&self.body);
        Ok(text.into_owned())
    }

    /// The body parsed as JSON into `T`.
    ///
    /// # Errors
    ///
    /// An error of kind [`Decode`](crate::ErrorKind::Decode) if the body is not
    /// JSON of that shape.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e))
    }

    #[cfg(feature = "json")]
    fn decode_error(&self, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::new(crate::ErrorKind::Decode, Some(Box::new(e) as _)).with_url(self.url.clone())
    }

    /// How many attempts were made: 1 when the first one was kept.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time from when the batch started this input (waiting for permits
    /// and backoff included) to the last byte of the body.
    pub fn elapsed(&self) -> Duration {
        self.timings.total
    }

    /// The address of the peer that sent this response: the server's, or
    /// the proxy's when a proxy carried the request. `None` only when the
    /// operating system could not tell.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// Where the time went: queued, connect, time to first byte, body.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Converts into an [`http::Response`], for code written against the
    /// `http` crate.
    pub fn into_http(self) -> http::Response<Bytes> {
        http::Response::from_parts(self.head, self.body)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &crate::error::Redacted(&self.url))
            .field("status", &self.head.status)
            .field("version", &self.head.version)
            .field("body_len", &self.body.len())
            .field("attempts", &self.attempts)
            .field("timings", &self.timings)
            .field("remote_addr", &self.remote_addr)
            .finish()
    }
}

/// The `charset` parameter of the `Content-Type` in `headers`, unquoted.
#[cfg(feature = "charset")]
fn charset(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// A body the body layer stored in a file rather than in memory, in the
/// response's extensions: where, how much, and how.
#[derive(Clone, Debug)]
pub(crate) struct Downloaded {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) resumed: bool,
    pub(crate) sha256: Option<[u8; 32]>,
}

/// What a response may weigh, and how long its body may stay silent: the
/// client's `max_body_size`, `max_response_headers`,
/// `max_response_header_size` and `read_timeout`. The connection side
/// gives the header limits to hyper; the body layer makes them exact and
/// applies the others.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResponseLimits {
    pub(crate) max_body_size: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) read_timeout: Option<std::time::Duration>,
}
