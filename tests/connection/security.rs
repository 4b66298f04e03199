//! What the crate promises about secrets and TLS, checked against real
//! loopback servers:
//!
//! * credentials (`Authorization`, `Proxy-Authorization`, `Cookie`,
//!   `Set-Cookie` values, and the `user:password@` of a URL) never show in
//!   the `Debug` of a `Request`, a `Response`, an `Error` or a
//!   `BatchClientBuilder`, in an error's `Display` (connect error, timeout,
//!   refused redirects, invalid inputs), nor, with the `tracing` feature, in
//!   any field of any span or event, the dependencies' included;
//! * TLS is verified (a self-signed certificate is a `Tls` error and no
//!   request goes out; the crate has no API to turn verification off);
//! * TLS 1.2 is the minimum: servers limited to TLS 1.2 or to TLS 1.3 both
//!   work, and the client's `ClientHello` offers no version below 1.2
//!   (rustls cannot serve TLS 1.1, so that handshake is checked on the
//!   wire instead);
//! * header names and values from inputs are validated: a CR, LF or NUL
//!   makes that input an `InvalidRequest` error and nothing of it reaches
//!   the server; URL text is read as the WHATWG URL Standard says, which
//!   removes tabs and line breaks and percent-encodes other control
//!   characters, so none reaches the wire either;
//! * a URL's `user:password@` is not sent as written (request line, `Host`).
//!
//! That credentials do not follow a redirect to another origin is shown by
//! `tests/redirect_headers.rs`.
//!
//! A URL's password appears nowhere: not in `Request`'s `Debug`, invalid-input
//! errors, a `Redirect` error's `Debug`, hyper-util's debug traces, or the
//! request target sent to an HTTP proxy (the client moves it into a
//! sensitive `Authorization: Basic` header before anything else sees it).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::clients::{builder, client, defaults, trusting};
use crate::support::fn_server::{echo, redirect, reply, with_header};
use crate::support::listen::{LOOPBACK, Listening};
use crate::support::{
    Behavior, Echo, FnServer, ProxyServer, RawServer, TestPki, TestServer, bounded, closed_port,
    expect_err,
};
use batch_fetch::{Error, ErrorKind, Proxy, Request};
use http::{HeaderMap, HeaderValue};
use tokio::io::AsyncReadExt;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ProtocolVersion, ServerConfig, SupportedProtocolVersion, version};

/// Marks that must never show; each is in exactly one secret place.
const BEARER: &str = "bearer-s3cret";
const COOKIE: &str = "cookie-s3cret";
const PROXY_AUTH: &str = "proxy-s3cret";
const SET_COOKIE: &str = "set-cookie-s3cret";
const URL_PASSWORD: &str = "url-s3cret";
const PROXY_PASSWORD: &str = "proxy-url-s3cret";
/// Shared by every mark above: no text shown may hold it.
const MARK: &str = "s3cret";

/// The forms a secret takes on its way out: as written, and base64 (as in
/// `Authorization: Basic base64(user:password)`), standard or URL-safe,
/// either percent-encoded. Base64 encodes three bytes at a time, so
/// `secret` inside a longer text (`user:` before it, anything after) is
/// encoded one of three ways depending on its offset; each form here is
/// the run of characters that encodes `secret`'s bytes alone, the same
/// whatever surrounds it.
fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut forms = vec![secret.to_string()];
    for offset in 0..3usize {
        let mut bytes = vec![b'x'; offset];
        bytes.extend_from_slice(secret.as_bytes());
        // The characters whose 6 bits all come from `secret`'s bytes.
        let first = (offset * 8).div_ceil(6);
        let end = (offset + secret.len()) * 8 / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&bytes);
            let core = &encoded[first..end];
            forms.push(core.to_string());
            let escaped =
                percent_encoding::utf8_percent_encode(core, percent_encoding::NON_ALPHANUMERIC);
            forms.push(escaped.to_string());
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// Fails if `shown` holds any secret mark, as written or encoded (see
/// [`encoded_forms`]).
#[track_caller]
fn assert_clean(what: &str, shown: &str) {
    let found: Vec<String> = [
        MARK,
        BEARER,
        COOKIE,
        PROXY_AUTH,
        SET_COOKIE,
        URL_PASSWORD,
        PROXY_PASSWORD,
    ]
    .iter()
    .flat_map(|secret| {
        encoded_forms(secret)
            .into_iter()
            .filter(|form| shown.contains(form.as_str()))
            .map(move |form| format!("{secret} as {form}"))
    })
    .collect();
    assert!(
        found.is_empty(),
        "{what} shows a secret ({}): {shown}",
        found.join(", ")
    );
}

/// The checks above catch a secret in each form it could leak in.
#[test]
fn assert_clean_sees_encoded_secrets() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let leaks = |shown: &str| std::panic::catch_unwind(|| assert_clean("probe", shown)).is_err();
    for secret in [MARK, URL_PASSWORD, PROXY_PASSWORD, BEARER] {
        for prefix in ["", "user:", "ab:", "a:"] {
            let plain = format!("{prefix}{secret}");
            for encoded in [STANDARD.encode(&plain), URL_SAFE.encode(&plain)] {
                assert!(
                    leaks(&format!("authorization: Basic {encoded}\r\n")),
                    "{plain} as {encoded}"
                );
                let escaped = percent_encoding::utf8_percent_encode(
                    &encoded,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                assert!(leaks(&format!("?auth={escaped}")), "{plain} as {escaped}");
            }
            assert!(leaks(&plain));
        }
    }
    assert!(leaks("user%3Aurl-s3cret"));
    assert!(!leaks(&format!(
        "authorization: Basic {}",
        STANDARD.encode("user:other-password")
    )));
    assert!(!leaks("Authorization: Sensitive"));
}

/// Display and Debug of an error, both clean.
#[track_caller]
fn assert_error_clean(what: &str, err: &Error) {
    assert_clean(&format!("{what}: Display"), &err.to_string());
    assert_clean(&format!("{what}: Debug"), &format!("{err:?}"));
}

/// `http://user:PASSWORD@{addr}{path}`.
fn with_userinfo(addr: SocketAddr, path: &str) -> String {
    format!("http://user:{URL_PASSWORD}@{addr}{path}")
}

/// A request that carries every kind of credential in its headers.
fn credentialed(url: String) -> Request {
    Request::get(url)
        .bearer_auth(BEARER)
        .header("cookie", format!("session={COOKIE}"))
        .header("proxy-authorization", format!("Basic {PROXY_AUTH}"))
}

/// `basic_auth` sends `base64(user:password)`: that form must not show.
#[test]
fn request_debug_hides_basic_auth() {
    let req = Request::get("http://127.0.0.1:1/x").basic_auth("user", Some(URL_PASSWORD));
    let shown = format!("{req:?}");
    assert_clean("Request Debug", &shown);
    assert!(shown.contains("authorization"), "names are shown: {shown}");
}

/// Headers with every kind of credential, set with plain `header()`
/// calls (not marked sensitive).
fn secret_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        h.insert(name, HeaderValue::try_from(value).unwrap());
    };
    put("authorization", format!("Bearer {BEARER}"));
    put("cookie", format!("session={COOKIE}"));
    put("proxy-authorization", format!("Basic {PROXY_AUTH}"));
    put("set-cookie", format!("id={SET_COOKIE}"));
    h
}

// ---------------------------------------------------------------------------
// Debug and Display

#[test]
fn request_debug_hides_header_values() {
    let req = credentialed("http://127.0.0.1:1/x".to_owned()).headers(secret_headers());
    let shown = format!("{req:?}");
    assert_clean("Request Debug", &shown);
    // What it does show: the method, the URL and the header names.
    assert!(
        shown.contains("GET") && shown.contains("127.0.0.1:1/x"),
        "{shown}"
    );
    assert!(
        shown.contains("authorization") && shown.contains("cookie"),
        "{shown}"
    );
}

#[test]
fn request_debug_hides_url_credentials() {
    let req = Request::get(format!("http://user:{URL_PASSWORD}@127.0.0.1:1/x"));
    let shown = format!("{req:?}");
    assert_clean("Request Debug", &shown);
    assert!(shown.contains("127.0.0.1:1/x"), "{shown}");
}

#[test]
fn builder_debug_hides_default_headers_and_proxy_password() {
    let b = defaults()
        .default_headers(secret_headers())
        .proxy(Proxy::all(format!(
            "http://user:{PROXY_PASSWORD}@127.0.0.1:3128"
        )));
    let shown = format!("{b:?}");
    assert_clean("BatchClientBuilder Debug", &shown);
    assert!(shown.contains("authorization"), "names are shown: {shown}");
    assert!(
        shown.contains("127.0.0.1:3128"),
        "the proxy is shown: {shown}"
    );
    let client = b.build().unwrap();
    assert_clean("BatchClient Debug", &format!("{client:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_debug_hides_set_cookie_and_url_credentials() {
    let server = FnServer::start(|seen| async move {
        with_header(
            with_header(echo(&seen), "set-cookie", &format!("id={SET_COOKIE}")),
            "authorization",
            &format!("Bearer {BEARER}"),
        )
    })
    .await;
    let res = bounded(
        "fetch",
        client().fetch(credentialed(with_userinfo(server.addr(), "/echo"))),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    // The secrets are there to be read...
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains(SET_COOKIE)
    );
    assert!(
        res.text().unwrap().contains(BEARER),
        "the server got the token"
    );
    // ...but not shown.
    let shown = format!("{res:?}");
    assert_clean("Response Debug", &shown);
    assert!(
        shown.contains(&format!("{}/echo", server.addr())),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_hides_credentials() {
    let addr = SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let err = expect_err(
        bounded(
            "connect",
            client().fetch(credentialed(with_userinfo(addr, "/x"))),
        )
        .await,
        "nothing listens",
    );
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_error_clean("connect error", &err);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_error_hides_credentials() {
    let server = RawServer::start(Behavior::NeverAnswer).await;
    let client = builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = expect_err(
        bounded(
            "timeout",
            client.fetch(credentialed(with_userinfo(server.addr(), "/hang"))),
        )
        .await,
        "the server never answers",
    );
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_error_clean("timeout", &err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loop_display_hides_credentials() {
    let server = FnServer::redirecting(302, "/loop").await;
    let err = expect_err(
        bounded(
            "loop",
            client().fetch(credentialed(with_userinfo(server.addr(), "/loop"))),
        )
        .await,
        "a loop is refused",
    );
    assert_eq!(err.kind(), ErrorKind::Redirect, "{err}");
    assert_clean("redirect loop: Display", &err.to_string());
    assert!(err.to_string().contains("/loop"), "names the chain: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_downgrade_display_hides_credentials() {
    let pki = TestPki::generate();
    let plain = TestServer::start().await;
    let target = with_userinfo(plain.addr(), "/id/1");
    let server = FnServer::builder()
        .tls(pki.server_config())
        .start(move |_| {
            let target = target.clone();
            async move { redirect(302, &target) }
        })
        .await;
    let url = format!("https://user:{URL_PASSWORD}@{}/start", server.addr());
    let err = expect_err(
        bounded(
            "downgrade",
            trusting(&pki).build().unwrap().fetch(credentialed(url)),
        )
        .await,
        "https -> http is refused",
    );
    assert_eq!(err.kind(), ErrorKind::Redirect, "{err}");
    assert_clean("downgrade: Display", &err.to_string());
    assert_eq!(plain.total_hits(), 0, "the http URL was not fetched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_error_debug_hides_credentials() {
    let server = FnServer::redirecting(302, "/loop").await;
    let err = expect_err(
        bounded(
            "loop",
            client().fetch(Request::get(with_userinfo(server.addr(), "/loop"))),
        )
        .await,
        "a loop is refused",
    );
    assert_eq!(err.kind(), ErrorKind::Redirect, "{err}");
    assert_clean("redirect loop: Debug", &format!("{err:?}"));
}

#[test]
fn invalid_header_error_does_not_show_the_value() {
    let bad = Request::get("http://127.0.0.1:1/x")
        .header("authorization", format!("Bearer {BEARER}\r\nx-injected: 1"));
    let err = tokio_test_block_on(client_fetch(bad));
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert_error_clean("invalid header value", &err);
}

#[test]
fn invalid_input_error_hides_url_credentials() {
    for (what, input) in [
        (
            "unparsable URL",
            format!("http://user:{URL_PASSWORD}@bad host/"),
        ),
        (
            "not http",
            format!("ftp://user:{URL_PASSWORD}@127.0.0.1:1/x"),
        ),
    ] {
        let err = tokio_test_block_on(client_fetch(Request::get(input)));
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{what}: {err}");
        assert_error_clean(what, &err);
    }
    // A valid URL with a bad header: the error names the input's URL.
    let bad =
        Request::get(format!("http://user:{URL_PASSWORD}@127.0.0.1:1/x")).header("x-note", "a\nb");
    let err = tokio_test_block_on(client_fetch(bad));
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert_error_clean("bad header on a credentialed URL", &err);
}

async fn client_fetch(req: Request) -> Error {
    expect_err(client().fetch(req).await, "an invalid input")
}

/// Runs `fut` on a fresh current-thread runtime (for plain `#[test]`s).
fn tokio_test_block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

// ---------------------------------------------------------------------------
// Tracing

#[cfg(feature = "tracing")]
mod tracing_output {
    use std::fmt;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Formats every field of every span and event, with its target and
    /// name, into one line each.
    #[derive(Clone, Default)]
    pub(super) struct Everything {
        pub(super) lines: Arc<Mutex<Vec<String>>>,
        next: Arc<Mutex<u64>>,
    }

    struct Line<'a>(&'a mut String);

    impl Visit for Line<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    impl Everything {
        fn push(&self, meta: &Metadata<'_>, fill: impl FnOnce(&mut Line<'_>)) {
            let mut line = format!("{} {}:", meta.target(), meta.name());
            fill(&mut Line(&mut line));
            self.lines.lock().unwrap().push(line);
        }

        pub(super) fn text(&self) -> String {
            self.lines.lock().unwrap().join("\n")
        }
    }

    impl Subscriber for Everything {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(tracing::level_filters::LevelFilter::TRACE)
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            self.push(attrs.metadata(), |line| attrs.record(line));
            let mut next = self.next.lock().unwrap();
            *next += 1;
            Id::from_u64(*next)
        }

        fn record(&self, span: &Id, values: &Record<'_>) {
            let mut line = format!("record span {}:", span.into_u64());
            values.record(&mut Line(&mut line));
            self.lines.lock().unwrap().push(line);
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            self.push(event.metadata(), |line| event.record(line));
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }
}

/// Every kind of outcome (a response, a refused redirect, a connect error,
/// a timeout), over HTTP/1.1 and HTTP/2, with every credential header set
/// (plain `header()`s too, not only `bearer_auth`), traced at every level
/// by a subscriber that formats every field of every span and event,
/// hyper-util's and h2's included. Returns the output and the server's
/// origin. Runs on this thread alone (current-thread runtime), where the
/// subscriber is installed.
#[cfg(feature = "tracing")]
async fn traced_batches(userinfo: bool) -> (String, SocketAddr) {
    let recorder = tracing_output::Everything::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let server = FnServer::start(|seen| async move {
        if seen.uri.path() == "/loop" {
            return redirect(302, "/loop");
        }
        with_header(echo(&seen), "set-cookie", &format!("id={SET_COOKIE}"))
    })
    .await;
    let hang = RawServer::start(Behavior::NeverAnswer).await;
    let closed = SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let request = |addr: SocketAddr, path: &str| {
        let url = if userinfo {
            with_userinfo(addr, path)
        } else {
            format!("http://{addr}{path}")
        };
        credentialed(url).headers(secret_headers())
    };

    let h1 = builder()
        .timeout(Duration::from_millis(300))
        .http1_only()
        .build()
        .unwrap();
    let h2 = builder()
        .timeout(Duration::from_millis(300))
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for client in [&h1, &h2] {
        let results = bounded(
            "traced batch",
            client.fetch_all_settled([
                request(server.addr(), "/echo"),
                request(server.addr(), "/loop"),
                request(closed, "/x"),
                request(hang.addr(), "/hang"),
            ]),
        )
        .await;
        let kinds: Vec<Option<ErrorKind>> = results
            .iter()
            .map(|r| r.as_ref().err().map(Error::kind))
            .collect();
        assert_eq!(
            kinds[..3],
            [None, Some(ErrorKind::Redirect), Some(ErrorKind::Connect)],
            "{results:?}"
        );
        assert!(
            matches!(kinds[3], Some(ErrorKind::Timeout | ErrorKind::Protocol)),
            "the request to a silent server fails: {results:?}"
        );
        let echo = results[0].as_ref().unwrap().text().unwrap();
        assert!(
            echo.contains(BEARER),
            "the server got the credentials: {echo}"
        );
    }

    let text = recorder.text();
    // The capture saw the crate's spans and the dependencies' events.
    assert!(text.contains("batch_fetch::client request:"), "{text}");
    assert!(text.contains(&format!("{}/echo", server.addr())), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("h2::")),
        "h2's own tracing was captured:\n{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("hyper_util::")),
        "hyper-util's own tracing was captured:\n{text}"
    );
    (text, server.addr())
}

#[cfg(feature = "tracing")]
#[tokio::test(flavor = "current_thread")]
async fn tracing_output_hides_credential_headers() {
    let (text, _) = traced_batches(false).await;
    assert_clean("tracing output", &text);
}

#[cfg(feature = "tracing")]
#[tokio::test(flavor = "current_thread")]
async fn tracing_output_hides_url_credentials() {
    let (text, _) = traced_batches(true).await;
    assert_clean("tracing output", &text);
}

/// What the server reads off the wire for a URL with a password: the
/// request line and `Host` carry no `user:password@` (HTTP/1.1 forbids
/// userinfo in the request target).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_credentials_are_not_sent_as_written() {
    let heads = Arc::new(Mutex::new(Vec::<String>::new()));
    let keep = heads.clone();
    let server = RawServer::script(move |mut tcp, _| {
        let keep = keep.clone();
        async move {
            let mut buf = Vec::new();
            if crate::support::raw::read_until_head(&mut tcp, &mut buf, Duration::from_secs(10))
                .await
                .is_some()
            {
                keep.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let _ = tokio::io::AsyncWriteExt::write_all(
                    &mut tcp,
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                )
                .await;
            }
        }
    })
    .await;
    let res = bounded(
        "fetch",
        client().fetch(with_userinfo(server.addr(), "/page")),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with("GET /page HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    // The password goes to the server in `Authorization: Basic` only.
    let (auth, rest): (Vec<&str>, Vec<&str>) = heads[0]
        .split("\r\n")
        .partition(|line| line.to_ascii_lowercase().starts_with("authorization:"));
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("user:{URL_PASSWORD}"))
    };
    assert_eq!(
        auth,
        [format!("authorization: Basic {basic}")],
        "{}",
        heads[0]
    );
    assert_clean("the request head", &rest.join("\r\n"));
}

/// Through an HTTP proxy a plain `http` request goes in absolute form:
/// its target must not carry the URL's `user:password@` either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_credentials_do_not_reach_an_http_proxy() {
    let target = TestServer::start().await;
    let proxy = ProxyServer::start().await;
    let client = builder().proxy(Proxy::http(proxy.url())).build().unwrap();
    // Whatever the proxy answers (it may not parse a target with
    // userinfo), what it was sent is the check.
    let _ = bounded(
        "via proxy",
        client.fetch(with_userinfo(target.addr(), "/id/1")),
    )
    .await;
    let forwards = proxy.forwards();
    assert_eq!(forwards.len(), 1, "{forwards:?}");
    assert_clean("the proxied request target", &forwards[0]);
}

// ---------------------------------------------------------------------------
// TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_is_a_tls_error() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let server = TestServer::start_tls(Arc::new(config)).await;

    for url in [
        server.url("/id/1"),
        format!("https://localhost:{}/id/1", server.port()),
    ] {
        let err = expect_err(
            bounded("self-signed", client().fetch(&url)).await,
            "a self-signed certificate is not trusted",
        );
        assert_eq!(err.kind(), ErrorKind::Tls, "{url}: {err}");
    }
    assert_eq!(
        server.total_hits(),
        0,
        "no request over an unverified connection"
    );
}

/// A TLS server speaking only `versions`, answering `200 tls` over
/// HTTP/1.1; each handshake's protocol version is recorded.
struct VersionServer {
    listening: Listening,
    seen: Arc<Mutex<Vec<ProtocolVersion>>>,
}

impl VersionServer {
    async fn start(pki: &TestPki, versions: &[&'static SupportedProtocolVersion]) -> VersionServer {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![
                    CertificateDer::from(pki.leaf_der.clone()),
                    CertificateDer::from(pki.ca_der.clone()),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key_der.clone())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let listening = Listening::start(LOOPBACK, Some(Duration::from_secs(20)), move |tcp| {
            let (acceptor, record) = (acceptor.clone(), record.clone());
            async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Some(v) = tls.get_ref().1.protocol_version() {
                    record.lock().unwrap().push(v);
                }
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(reply(200, "tls"))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            }
        })
        .await;
        VersionServer { listening, seen }
    }

    fn url(&self) -> String {
        format!("https://{}/", self.listening.addr())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_limited_to_tls12_or_tls13_both_work() {
    let pki = TestPki::generate();
    for (versions, expect) in [
        (&[&version::TLS12][..], ProtocolVersion::TLSv1_2),
        (&[&version::TLS13][..], ProtocolVersion::TLSv1_3),
    ] {
        let server = VersionServer::start(&pki, versions).await;
        let client = trusting(&pki).build().unwrap();
        let res = bounded("tls version", client.fetch(server.url()))
            .await
            .unwrap_or_else(|e| panic!("{expect:?}: {e}"));
        assert_eq!(res.text().unwrap(), "tls");
        assert_eq!(*server.seen.lock().unwrap(), vec![expect]);
    }
}

/// The client's first TLS record, read raw: its ClientHello offers TLS 1.3
/// and 1.2 and nothing older. (rustls cannot play a TLS 1.1 server, so the
/// offer on the wire is what shows that 1.1 would be refused.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_hello_offers_nothing_below_tls12() {
    let hello = Arc::new(Mutex::new(None::<Vec<u8>>));
    let keep = hello.clone();
    let server = RawServer::script(move |mut tcp, _| {
        let keep = keep.clone();
        async move {
            let mut buf = Vec::new();
            let mut tmp = [0u8; 4096];
            // The record header says how long the record is.
            while buf.len() < 5 || buf.len() < 5 + u16::from_be_bytes([buf[3], buf[4]]) as usize {
                match tcp.read(&mut tmp).await {
                    Ok(n @ 1..) => buf.extend_from_slice(&tmp[..n]),
                    _ => return,
                }
            }
            *keep.lock().unwrap() = Some(buf);
            // Then hang up: no handshake.
        }
    })
    .await;
    let url = format!("https://127.0.0.1:{}/", server.addr().port());
    let err = expect_err(bounded("hello", client().fetch(url)).await, "no handshake");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Tls | ErrorKind::Connect | ErrorKind::Protocol
        ),
        "{err}"
    );

    let record = hello
        .lock()
        .unwrap()
        .clone()
        .expect("a ClientHello arrived");
    let (legacy, offered) = client_hello_versions(&record);
    assert_eq!(legacy, 0x0303, "legacy_version is TLS 1.2's");
    assert!(offered.contains(&0x0303), "TLS 1.2 offered: {offered:04x?}");
    assert!(offered.contains(&0x0304), "TLS 1.3 offered: {offered:04x?}");
    assert!(
        offered.iter().all(|v| *v >= 0x0303 || is_grease(*v)),
        "nothing below TLS 1.2 offered: {offered:04x?}"
    );
}

/// GREASE values (RFC 8701), which a client may list: 0x?a?a.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// The `legacy_version` and the `supported_versions` extension of a
/// ClientHello record.
fn client_hello_versions(record: &[u8]) -> (u16, Vec<u16>) {
    let u16_at = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    assert_eq!(record[0], 0x16, "a handshake record");
    let body = &record[5..];
    assert_eq!(body[0], 0x01, "a ClientHello");
    let mut p = 4;
    let legacy = u16_at(body, p);
    p += 2 + 32; // version, random
    p += 1 + body[p] as usize; // session id
    p += 2 + u16_at(body, p) as usize; // cipher suites
    p += 1 + body[p] as usize; // compression methods
    let end = p + 2 + u16_at(body, p) as usize;
    p += 2;
    let mut offered = Vec::new();
    while p + 4 <= end {
        let (kind, len) = (u16_at(body, p), u16_at(body, p + 2) as usize);
        let data = &body[p + 4..p + 4 + len];
        if kind == 0x002b {
            offered = data[1..1 + data[0] as usize]
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
        }
        p += 4 + len;
    }
    (legacy, offered)
}

// ---------------------------------------------------------------------------
// Header and URL validation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_in_a_header_is_that_input_s_error_and_never_sent() {
    let server = FnServer::start(|seen| async move { echo(&seen) }).await;
    let inputs = vec![
        Request::get(server.url("/value")).header("x-note", "a\r\nx-injected: 1"),
        Request::get(server.url("/lf")).header("x-note", "a\nx-injected: 1"),
        Request::get(server.url("/name")).header("x-note\r\nx-injected", "1"),
        Request::get(server.url("/bearer")).bearer_auth("t\r\nx-injected: 1"),
        Request::get(server.url("/basic")).basic_auth("u", Some("p")), // valid
        Request::get(server.url("/nul")).header("x-note", "a\0b"),
    ];
    let results = bounded("batch", client().fetch_all_settled(inputs)).await;

    for (i, r) in results.iter().enumerate() {
        if i == 4 {
            assert_eq!(r.as_ref().unwrap().status(), 200);
            continue;
        }
        let err = expect_err(r.as_ref(), "an invalid header");
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "input {i}: {err}");
        assert_eq!(err.index(), Some(i));
        assert_eq!(err.attempts(), 0, "never sent");
    }
    let log = server.log();
    assert_eq!(log.len(), 1, "only the valid input reached the server");
    assert_eq!(log[0].path(), "/basic");
    assert!(log[0].header("x-injected").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_in_a_url_never_reaches_the_wire() {
    let server = FnServer::start(|seen| async move { echo(&seen) }).await;
    // WHATWG (browsers, reqwest) drops tabs and line breaks from URL text
    // and percent-encodes the space and NUL: what is left is one URL.
    let injected = [
        (server.url("/a\r\nx-injected: 1"), "/ax-injected:%201"),
        (
            server.url("/a HTTP/1.1\r\nx-injected: 1\r\n\r\nGET /b"),
            "/a%20HTTP/1.1x-injected:%201GET%20/b",
        ),
        (server.url("/a\nb\0c"), "/ab%00c"),
        (format!("http://127.0.0.1:{}\r\n/a", server.port()), "/a"),
    ];
    let texts: Vec<&str> = injected.iter().map(|(url, _)| url.as_str()).collect();
    let results = bounded("strings", client().fetch_all_settled(texts.clone())).await;
    let builders = texts.iter().map(|u| Request::post(*u).body("x"));
    let built = bounded("builders", client().fetch_all_settled(builders)).await;
    for (i, r) in results.iter().chain(&built).enumerate() {
        let (url, path) = &injected[i % injected.len()];
        let echo = Echo::parse(&r.as_ref().unwrap().text().unwrap());
        assert_eq!(&echo.uri, path, "{url:?}");
    }
    let log = server.log();
    assert_eq!(log.len(), 2 * injected.len());
    assert!(log.iter().all(|seen| seen.header("x-injected").is_none()));
}

#[test]
fn an_http_request_cannot_carry_a_line_break() {
    // `http::Request` inputs are validated by the `http` crate when built:
    // such a request cannot be made, so it cannot be sent.
    assert!(
        http::Request::get("http://127.0.0.1:1/")
            .header("x-note", "a\r\nx-injected: 1")
            .body(())
            .is_err()
    );
    assert!(
        http::Request::get("http://127.0.0.1:1/a\r\nb")
            .body(())
            .is_err()
    );
    assert!(HeaderValue::from_str("a\nb").is_err());
}

#[test]
fn user_agent_with_a_line_break_is_a_config_error() {
    let err = defaults()
        .user_agent("agent\r\nx-injected: 1")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}
