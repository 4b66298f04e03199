//! The crate's error type, and the one place where errors of other crates
//! (tower, hyper, hyper-util, rustls) are mapped to an [`ErrorKind`]; the
//! crate's own failures carry theirs from where they are raised
//! ([`Raised`]). Whether a failure is worth another attempt is the retry
//! policy's business (`retry::classify`).

use std::error::Error as StdError;
use std::fmt;

use http::{StatusCode, Uri};

use crate::timings::Timings;

/// A boxed error: the cause inside an [`Error`], and what a custom
/// [`Resolve`](crate::Resolve) returns.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong, in broad strokes.
///
/// New kinds may be added in minor releases, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client was configured with an invalid setting (seen at `build()`),
    /// or a request was polled outside a Tokio runtime.
    Config,
    /// The input could not be turned into a request: not an absolute
    /// `http`/`https` URL, or an invalid header or method.
    InvalidRequest,
    /// No connection could be made: DNS failure, refused, unreachable, or the
    /// connect timeout elapsed.
    Connect,
    /// The TLS handshake failed, most often because the server's certificate
    /// is not trusted or does not name the host.
    Tls,
    /// An attempt did not finish (response head and whole body) within the
    /// per-attempt timeout.
    Timeout,
    /// The response body is larger than the configured `max_body_size`.
    BodyTooLarge,
    /// The server broke the HTTP protocol: garbage instead of a response, a
    /// truncated body, or a connection closed before the response ended.
    /// Also a request the server kept refusing without processing it (an
    /// HTTP/2 `REFUSED_STREAM` or `GOAWAY`, a connection closed before the
    /// request could go out) after it was sent again as many times as the
    /// client allows.
    Protocol,
    /// The request was cancelled before it finished: its batch passed its
    /// deadline or was cancelled.
    Cancelled,
    /// A redirect was refused: a loop, more hops than `redirect_limit`, or
    /// an `https` to `http` downgrade. The message names the chain.
    Redirect,
    /// The response head has more headers, or more header bytes, than the
    /// client accepts (`max_response_headers`, `max_response_header_size`).
    HeadersTooLarge,
    /// The body could not be read as asked: not the expected JSON for
    /// `json()`. ([`text()`](crate::Response::text) reads any body,
    /// replacing what is not text.)
    Decode,
    /// The server answered with a `4xx` or `5xx` status, and the caller
    /// asked for that to be an error:
    /// [`Response::error_for_status`](crate::Response::error_for_status),
    /// or [`error_for_status(true)`](crate::BatchClientBuilder::error_for_status)
    /// on the client. [`Error::status()`] says which. A download takes
    /// any final answer but a `2xx` for a failure.
    Status,
    /// A download's file could not be created, written or moved into
    /// place: a missing directory, no space left, no permission. The
    /// message names the path.
    File,
}

impl ErrorKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ErrorKind::Config => "invalid configuration",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::Connect => "connect error",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::BodyTooLarge => "response body too large",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Cancelled => "request cancelled",
            ErrorKind::Redirect => "redirect refused",
            ErrorKind::HeadersTooLarge => "response headers too large",
            ErrorKind::Decode => "error decoding response body",
            ErrorKind::Status => "HTTP status error",
            ErrorKind::File => "file error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// An error from building a client or fetching one input.
///
/// It carries its [`ErrorKind`], the URL it concerns, the position of the
/// input in its batch, and the underlying cause as its
/// [`source()`](std::error::Error::source). It is one pointer wide, so a
/// `Result<Response, Error>` stays small in large batches.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    url: Option<Uri>,
    /// The input as given, when it could not be parsed into `url`.
    input: Option<String>,
    index: Option<usize>,
    attempts: u32,
    timings: Option<Timings>,
    status: Option<StatusCode>,
    source: Option<BoxError>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, source: impl Into<Option<BoxError>>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                url: None,
                input: None,
                index: None,
                attempts: 0,
                timings: None,
                status: None,
                source: source.into(),
            }),
        }
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, Some(msg.into().into()))
    }

    pub(crate) fn invalid_request(input: impl Into<String>, reason: impl Into<BoxError>) -> Self {
        let mut err = Error::new(ErrorKind::InvalidRequest, Some(reason.into()));
        err.inner.input = Some(redact_input(&input.into()));
        err
    }

    /// An input the caller had already found bad (see `IntoRequest` for
    /// `Result`).
    pub(crate) fn rejected_input(reason: BoxError) -> Self {
        Error::new(ErrorKind::InvalidRequest, Some(reason))
    }

    pub(crate) fn with_url(mut self, url: Uri) -> Self {
        self.inner.url = Some(url);
        self
    }

    /// A final `4xx` or `5xx` response taken for a failure, after
    /// `attempts` attempts.
    pub(crate) fn bad_status(
        status: StatusCode,
        url: Uri,
        attempts: u32,
        timings: Timings,
    ) -> Self {
        let mut err = Error::new(
            ErrorKind::Status,
            Some(Box::new(BadStatus(status)) as BoxError),
        );
        err.inner.status = Some(status);
        err.inner.url = Some(url);
        err.inner.attempts = attempts;
        err.inner.timings = Some(timings);
        err
    }

    /// The error a final answer of `status` makes when a `4xx` or `5xx`
    /// is taken for a failure (`error_for_status`); `None` for any other.
    pub(crate) fn for_status(
        status: StatusCode,
        url: &Uri,
        attempts: u32,
        timings: Timings,
    ) -> Option<Self> {
        (status.is_client_error() || status.is_server_error())
            .then(|| Error::bad_status(status, url.clone(), attempts, timings))
    }

    /// The input was dropped unfinished when its batch was stopped.
    pub(crate) fn cancelled(why: Stopped) -> Self {
        Error::new(ErrorKind::Cancelled, Some(Box::new(why) as BoxError))
    }

    pub(crate) fn with_timings(mut self, timings: Timings) -> Self {
        self.inner.timings = Some(timings);
        self
    }

    pub(crate) fn with_index(mut self, index: Option<usize>) -> Self {
        self.inner.index = index;
        self
    }

    /// Maps an error that came out of the tower stack for one request: its
    /// kind is the one it was raised with (the attempt loop raises every
    /// final failure with its kind), or else found by [`classify`].
    pub(crate) fn from_stack(err: BoxError, attempts: u32) -> Self {
        let mut err = match err.downcast::<Raised>() {
            Ok(raised) => Error::new(raised.kind, Some(raised.error)),
            Err(err) => Error::new(classify(&*err), Some(err)),
        };
        err.inner.attempts = attempts;
        err
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The status of the response taken for a failure (kind
    /// [`Status`](ErrorKind::Status)); `None` for every other kind.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// The URL of the request that failed, if the input was a valid URL.
    pub fn url(&self) -> Option<&Uri> {
        self.inner.url.as_ref()
    }

    /// The position of the failed input in its batch (`None` for
    /// [`BatchClient::fetch`](crate::BatchClient::fetch) and build errors).
    pub fn index(&self) -> Option<usize> {
        self.inner.index
    }

    /// How many attempts were made before giving up (0 when the request was
    /// never sent, e.g. an invalid input).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// Where the time went until the failure, for an input that was
    /// started (`None` for an input that never was: invalid, or dropped
    /// before its turn when its batch was stopped).
    pub fn timings(&self) -> Option<&Timings> {
        self.inner.timings.as_ref()
    }

    /// True if an attempt timed out, or the connect timeout elapsed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
            || chain(self.source()).any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            })
    }

    /// True if no connection could be made (including TLS handshake failures).
    pub fn is_connect(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Connect | ErrorKind::Tls)
            || chain(self.source()).any(|e| e.is::<ConnectFailed>())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("batch_fetch::Error");
        d.field("kind", &self.inner.kind);
        if let Some(url) = &self.inner.url {
            d.field("url", &Redacted(url));
        }
        if let Some(input) = &self.inner.input {
            d.field("input", input);
        }
        if let Some(index) = self.inner.index {
            d.field("index", &index);
        }
        if self.inner.attempts > 0 {
            d.field("attempts", &self.inner.attempts);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.inner.kind.describe())?;
        if let Some(url) = &self.inner.url {
            write!(f, " for {}", Redacted(url))?;
        } else if let Some(input) = &self.inner.input {
            write!(f, " for {input:?}")?;
        }
        if let Some(index) = self.inner.index {
            write!(f, " (input {index})")?;
        }
        if self.inner.attempts > 1 {
            write!(f, " after {} attempts", self.inner.attempts)?;
        }
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
            // hyper and hyper-util keep the detail one or two levels down
            // ("client error (Connect)" → "tcp connect error" → "Connection
            // refused"); name the innermost cause so the message says why,
            // and a failure the crate raised on the way (a proxy's refusal)
            // so it says where. A message is not said twice in a row.
            let below = || chain(Some(&**source)).skip(1);
            let mut said = source.to_string();
            for e in [below().find(|e| e.is::<Raised>()), below().last()]
                .into_iter()
                .flatten()
            {
                let text = e.to_string();
                if text != said {
                    write!(f, ": {text}")?;
                    said = text;
                }
            }
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Shows a URL without any `user:password@` part.
pub(crate) struct Redacted<'a>(pub(crate) &'a Uri);

/// A URL as given (perhaps not even a valid one) without the
/// `user:password@` of its authority.
pub(crate) fn redact_input(input: &str) -> String {
    // Failing that, whatever follows a `://` may be an authority.
    let start = authority_start(input).or_else(|| input.find("://").map(|i| i + 3));
    let Some(start) = start else {
        return input.to_owned();
    };
    match userinfo(input, start) {
        Some(range) => format!("{}{}", &input[..range.start], &input[range.end..]),
        None => input.to_owned(),
    }
}

/// Where the authority of `input` starts, as a WHATWG parser finds it:
/// after the scheme's `:` and `//`; for `http`, `https` and the other
/// special schemes after any number of `/` or `\`, even none
/// (`http:u:p@host` has credentials). Tabs and newlines, which the parser
/// drops, are skipped.
fn authority_start(input: &str) -> Option<usize> {
    let colon = input.find(':')?;
    let mut scheme: String = input[..colon]
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    scheme.make_ascii_lowercase();
    let special = matches!(
        scheme.trim_start_matches(|c: char| c <= ' '),
        "http" | "https" | "ws" | "wss" | "ftp" | "file"
    );
    let rest = &input[colon + 1..];
    if special {
        let after = rest.trim_start_matches(['/', '\\', '\t', '\n', '\r']);
        Some(input.len() - after.len())
    } else {
        rest.starts_with("//").then_some(colon + 3)
    }
}

/// Where the `user:password@` (the `@` included) of a URL is, given where
/// its authority starts; the authority ends at the first `/`, `?` or `#`.
pub(crate) fn userinfo(url: &str, authority_start: usize) -> Option<std::ops::Range<usize>> {
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(authority_start..authority_start + at + 1)
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(auth)) => {
                let host_port = auth.as_str().rsplit('@').next().unwrap_or_default();
                write!(f, "{scheme}://{host_port}")?;
                let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
                f.write_str(pq)
            }
            _ => write!(f, "{uri}"),
        }
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A failure raised in the crate by the module that knows what it is (a
/// refused redirect, a proxy's refusal, a response over its limits), with
/// its kind: [`classify`] takes the kind from it, so this module need not
/// know the error types of the modules above it. The attempt loop raises
/// each request's final failure this way too, with the kind it found, so
/// that [`Error::from_stack`] does not classify it again. It shows as the
/// error it carries, which is its source (so the chain still holds the
/// carried error, for a downcast).
#[derive(Debug)]
pub(crate) struct Raised {
    kind: ErrorKind,
    error: BoxError,
}

impl Raised {
    /// `error`, of kind `kind`, boxed for the stack.
    pub(crate) fn boxed(kind: ErrorKind, error: impl Into<BoxError>) -> BoxError {
        Box::new(Raised {
            kind,
            error: error.into(),
        })
    }
}

impl fmt::Display for Raised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl StdError for Raised {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.error)
    }
}

/// A `4xx` or `5xx` status taken for a failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadStatus(pub(crate) StatusCode);

/// Why a batch dropped an unfinished input.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub(crate) enum Stopped {
    #[error("the batch deadline of {0:?} passed before this input finished")]
    Deadline(std::time::Duration),
    #[error("the batch was cancelled before this input finished")]
    Cancelled,
}

/// A failure while reading the response body, after the head arrived.
#[derive(Debug, thiserror::Error)]
#[error("error reading response body")]
pub(crate) struct BodyError(#[source] pub(crate) BoxError);

/// A download's body broke off after its head arrived. Unlike a
/// [`BodyError`], the retry policy repeats it (for a method that may be
/// repeated): what arrived is on disk, and the next attempt asks for the
/// rest when the server allows it. Its kind is the one of the failure it
/// carries.
#[derive(Debug)]
pub(crate) struct Interrupted {
    /// The bytes of this attempt's body kept; `None` when the answer to a
    /// resumed attempt could not be used at all (the next one starts over).
    pub(crate) received: Option<u64>,
    pub(crate) cause: BoxError,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.received {
            Some(received) => write!(f, "download cut off after {received} bytes"),
            None => f.write_str("the answer to a resumed download did not fit it"),
        }
    }
}

impl StdError for Interrupted {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.cause)
    }
}

/// Walks an error and its sources, looking inside `io::Error`s too (whose own
/// `source()` skips the error they wrap).
pub(crate) fn chain<'a>(
    err: Option<&'a (dyn StdError + 'static)>,
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(err, |&e| cause(e))
}

fn cause<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return Some(inner);
    }
    err.source()
}

/// The start of the message of a TLS failure after the handshake on an
/// HTTP/2 connection (a server's alert refusing the client's certificate,
/// which TLS 1.3 sends only once the client has finished): h2 keeps of an
/// I/O error only its kind and message (hyper makes an `io::Error` of them
/// again), not the rustls error inside, so
/// the connection marks the message (see `connect::transport`) for
/// [`classify`] to know it.
pub(crate) const TLS_FAILURE_MARK: &str = "TLS: ";

/// Decides the kind of an error that ended an attempt.
pub(crate) fn classify(err: &(dyn StdError + Send + Sync + 'static)) -> ErrorKind {
    let err: &(dyn StdError + 'static) = err;
    if err.is::<tower::timeout::error::Elapsed>() {
        return ErrorKind::Timeout;
    }
    let mut connect = false;
    for e in chain(Some(err)) {
        if let Some(raised) = e.downcast_ref::<Raised>() {
            return raised.kind;
        }
        if e.is::<rustls::Error>() {
            return ErrorKind::Tls;
        }
        // hyper turns h2's I/O errors back into `io::Error`s.
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.to_string().starts_with(TLS_FAILURE_MARK))
        {
            return ErrorKind::Tls;
        }
        if e.is::<http_body_util::LengthLimitError>() {
            return ErrorKind::BodyTooLarge;
        }
        connect |= e.is::<ConnectFailed>();
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return ErrorKind::Timeout;
            }
            // `is_parse_too_large()` exists only with hyper's server
            // feature; the message is hyper's for Parse::TooLarge, which
            // covers both too many headers and too many header bytes.
            if h.is_parse() && h.to_string().contains("message head is too large") {
                return ErrorKind::HeadersTooLarge;
            }
            // The connection closed before the request could go out:
            // hyper's "canceled", or an HTTP/2 connection that ended with
            // the request's stream still waiting to open.
            if h.is_canceled() || is_dispatch_gone(h) {
                return ErrorKind::Protocol;
            }
            if h.is_user() {
                return ErrorKind::InvalidRequest;
            }
        }
    }
    if connect {
        ErrorKind::Connect
    } else {
        ErrorKind::Protocol
    }
}

/// No connection could be made for a request (the client's own pool's
/// connect error): nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("could not connect")]
pub(crate) struct ConnectFailed(#[source] pub(crate) BoxError);

/// True for hyper's "dispatch task is gone": the connection's task ended
/// without answering a request it had taken. hyper has no predicate for
/// it; its message is the one it gives that error kind.
pub(crate) fn is_dispatch_gone(err: &hyper::Error) -> bool {
    err.is_user() && err.to_string().starts_with("dispatch task is gone")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn raw_inputs_lose_their_credentials() {
        assert_eq!(
            redact_input("http://u:s3cret@bad host/x"),
            "http://bad host/x"
        );
        assert_eq!(redact_input("ftp://a@b/c@d"), "ftp://b/c@d");
        assert_eq!(redact_input("not a url @ all"), "not a url @ all");
        // What WHATWG reads as credentials, however the slashes are.
        for input in [
            "http:u:s3cret@bad host/x",
            "HTTP:/u:s3cret@bad host/x",
            " http:\\\\u:s3cret@bad host/x",
            "ht\ttp:\t//u:s3cret@bad host/x",
            "http:u:s3cret@bad host/x://y",
        ] {
            let shown = redact_input(input);
            assert!(!shown.contains("s3cret"), "{input:?} -> {shown:?}");
            assert!(shown.contains("bad host/x"), "{input:?} -> {shown:?}");
        }
        assert_eq!(redact_input("mailto:u@a.test"), "mailto:u@a.test");
        assert_eq!(redact_input("a:b http://u:p@h/"), "a:b http://h/");
        let err = Error::invalid_request("http://u:s3cret@bad host/", "bad");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
    }

    #[test]
    fn display_hides_credentials() {
        let url: Uri = "https://user:secret@example.test:8443/a?b=c"
            .parse()
            .unwrap();
        let err = Error::new(ErrorKind::Timeout, None).with_url(url);
        let shown = err.to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("https://example.test:8443/a?b=c"), "{shown}");
        assert!(!format!("{err:?}").contains("secret"));
    }
}
