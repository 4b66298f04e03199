//! Checks of the test infrastructure itself (servers, counters, PKI), using
//! raw sockets and hyper directly — not the library. When a library test
//! fails, this file tells whether the support code is to blame.
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::files::{self, FileServer, FileSpec, Validator, WrongRange};
use support::raw::exchange as raw_exchange;
use support::scratch::Scratch;
use support::{Behavior, Echo, RawServer, TestPki, TestServer, bounded, eventually, http_date};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type HyperClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get(c: &HyperClient, url: &str) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let req = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = c.request(req).await.expect("request");
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[test]
fn http_date_known_values() {
    assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
    let _ = http_date(SystemTime::now());
}

#[tokio::test]
async fn routes_answer_as_documented() {
    let server = TestServer::start().await;
    let c = client();
    bounded("routes", async {
        let (st, h, b) = get(&c, &server.url("/id/42")).await;
        assert_eq!(st, 200);
        assert_eq!(b, "42");
        assert_eq!(h["x-http-version"], "HTTP/1.1");
        assert_eq!(h["x-conn-id"], "1");

        let (st, _, b) = get(&c, &server.url("/status/418")).await;
        assert_eq!(st, 418);
        assert_eq!(b, "status 418");

        let (_, h, b) = get(&c, &server.url("/bytes/200000")).await;
        assert_eq!(h["content-length"], "200000");
        assert_eq!(&b[..], &support::pattern(200_000)[..]);

        let (_, h, b) = get(&c, &server.url("/bytes-chunked/70000")).await;
        assert!(h.get("content-length").is_none());
        assert_eq!(&b[..], &support::pattern(70_000)[..]);

        let (_, _, b) = get(&c, &server.url("/delay/20")).await;
        assert_eq!(b, "delayed 20");
        let (_, _, b) = get(&c, &server.url("/id/7?delay=20")).await;
        assert_eq!(b, "7");
        let (_, _, b) = get(&c, &server.url("/version")).await;
        assert_eq!(b, "HTTP/1.1");
        let (_, _, b) = get(&c, &server.url("/drip-body/3/10")).await;
        assert_eq!(b, "xxx");
        let (st, _, _) = get(&c, &server.url("/nope")).await;
        assert_eq!(st, 404);

        let req = http::Request::post(server.url("/echo?q=1"))
            .header("x-test", "yes")
            .body(Full::new(Bytes::from("hello\nworld")))
            .unwrap();
        let resp = c.request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let echo = Echo::parse(std::str::from_utf8(&body).unwrap());
        assert_eq!(echo.method, "POST");
        assert_eq!(echo.uri, "/echo?q=1");
        assert_eq!(echo.header("X-Test"), Some("yes"));
        assert_eq!(echo.body, "hello\nworld");

        for expect in [503, 503, 200, 200] {
            let (st, _, _) = get(&c, &server.url("/flaky/a/2")).await;
            assert_eq!(st, expect);
        }
        let (st, h, _) = get(&c, &server.url("/flaky/b/1?code=429&retry_after=3")).await;
        assert_eq!(st, 429);
        assert_eq!(h["retry-after"], "3");
        let (st, h, _) = get(&c, &server.url("/retry-after/c/secs/2")).await;
        assert_eq!(st, 503);
        assert_eq!(h["retry-after"], "2");
        let (st, _, _) = get(&c, &server.url("/retry-after/c/secs/2")).await;
        assert_eq!(st, 200);
        let (st, h, _) = get(&c, &server.url("/retry-after/d/date/5")).await;
        assert_eq!(st, 503);
        assert!(h["retry-after"].to_str().unwrap().ends_with(" GMT"));
    })
    .await;
    assert_eq!(server.hits("/flaky/a/2"), 4);
    assert_eq!(server.hits_prefix("/retry-after/"), 3);
    // (How often hyper's pool reuses a connection for sequential requests
    // depends on scheduling; only the bookkeeping is checked here.)
    assert!(server.accepted() >= 1);
    assert!(server.connections_used() <= server.accepted());
    assert_eq!(server.total_hits(), 18);
    assert_eq!(server.cancelled(), 0);
}

#[tokio::test]
async fn in_flight_and_connections_are_counted() {
    let group = support::ServerGroup::new();
    let a = TestServer::builder().group(&group).start().await;
    let b = TestServer::builder()
        .ip([127, 0, 0, 2])
        .group(&group)
        .start()
        .await;
    assert_eq!(b.addr().ip().to_string(), "127.0.0.2");
    let c = client();
    bounded("concurrent", async {
        let mut tasks = Vec::new();
        for i in 0..6 {
            let c = c.clone();
            let url = if i % 2 == 0 {
                a.url("/delay/300")
            } else {
                b.url("/delay/300")
            };
            tasks.push(tokio::spawn(async move { get(&c, &url).await }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().0, 200);
        }
    })
    .await;
    assert_eq!(a.peak_in_flight(), 3);
    assert_eq!(b.peak_in_flight(), 3);
    assert_eq!(group.in_flight.peak(), 6);
    assert_eq!(a.in_flight(), 0);
    assert_eq!(a.accepted(), 3);
    assert_eq!(a.completed(), 3);
}

#[tokio::test]
async fn server_notices_client_disconnect() {
    let server = TestServer::start().await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.in_flight() == 1).await);
    assert_eq!(server.open_connections(), 1);
    drop(s);
    assert!(
        eventually(Duration::from_secs(2), || server.in_flight() == 0).await,
        "handler not dropped after client disconnect"
    );
    assert_eq!(server.cancelled(), 1);
    assert!(eventually(Duration::from_secs(2), || server.open_connections() == 0).await);
}

#[tokio::test]
async fn dropping_the_server_closes_everything_and_reports_panics() {
    let server = TestServer::start().await;
    let addr = server.addr();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || server.in_flight() == 1).await);
    drop(server);
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "connection not closed on drop");
    assert!(
        eventually(Duration::from_secs(2), || std::net::TcpStream::connect(
            addr
        )
        .is_err())
        .await
    );

    let server = TestServer::start().await;
    let (st, _, _) = get(&client(), &server.url("/panic")).await;
    assert_eq!(st, 500);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(server)));
    assert!(
        dropped.is_err(),
        "a handler panic must fail the test on drop"
    );
}

#[tokio::test]
async fn endless_body_stops_when_client_leaves() {
    let server = TestServer::start().await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"GET /chunked-endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < 4 << 20 {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got += n;
    }
    assert_eq!(server.endless_active.current(), 1);
    drop(s);
    assert!(
        eventually(Duration::from_secs(3), || server.endless_active.current()
            == 0)
        .await
    );
    let sent = server
        .endless_bytes
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        sent < 64 << 20,
        "kept producing after the client left: {sent}"
    );
}

#[tokio::test]
async fn raw_servers_misbehave_as_documented() {
    let req = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
    let long = Duration::from_secs(5);

    let s = RawServer::start(Behavior::Garbage).await;
    let out = raw_exchange(s.addr(), req, long).await;
    assert!(out.starts_with(b"SPLORK"));
    assert_eq!(s.stats().request_lines(), vec!["GET /x".to_string()]);

    let s = RawServer::start(Behavior::TruncatedLength).await;
    let out = raw_exchange(s.addr(), req, long).await;
    assert!(out.ends_with(b"\r\n\r\n0123456789"));

    let s = RawServer::start(Behavior::TruncatedChunked).await;
    let out = raw_exchange(s.addr(), req, long).await;
    assert!(out.ends_with(b"5\r\nhello\r\n"));

    let s = RawServer::start(Behavior::CloseAfterHeaders).await;
    let out = raw_exchange(s.addr(), req, long).await;
    assert!(out.ends_with(b"Content-Length: 100\r\n\r\n"));

    let s = RawServer::start(Behavior::CloseBeforeResponse).await;
    let out = raw_exchange(s.addr(), req, long).await;
    assert!(out.is_empty());

    let s = RawServer::start(Behavior::ResetBeforeResponse).await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(req).await.unwrap();
    let mut out = Vec::new();
    let r = tokio::time::timeout(long, c.read_to_end(&mut out)).await;
    let err = r.expect("reset arrives").expect_err("reset, not EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    let s = RawServer::start(Behavior::NeverAnswer).await;
    let t = Instant::now();
    let out = raw_exchange(s.addr(), req, Duration::from_millis(300)).await;
    assert!(out.is_empty() && t.elapsed() >= Duration::from_millis(290));
    assert!(eventually(long, || s.open_connections() == 0).await);

    let s = RawServer::start(Behavior::DripHeaders {
        every: Duration::from_millis(20),
    })
    .await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(req).await.unwrap();
    let mut buf = [0u8; 64];
    let t = Instant::now();
    let mut got = 0;
    while got < 10 {
        got += c.read(&mut buf).await.unwrap();
    }
    assert!(t.elapsed() >= Duration::from_millis(150), "drips slowly");
}

#[tokio::test]
async fn keep_alive_server_closes_idle_connections() {
    let s = RawServer::start(Behavior::KeepAlive {
        idle_close: Duration::from_millis(100),
    })
    .await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    for n in 1..=2 {
        c.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let k = c.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..k]);
        assert!(text.ends_with(&format!("ok 1/{n}")), "{text}");
    }
    let t = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "closed");
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(s.requests(), 2);
    assert_eq!(s.accepted(), 1);
}

#[tokio::test]
async fn blackhole_connects_hang() {
    let b = RawServer::blackhole().await;
    let r = tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(b.addr())).await;
    assert!(r.is_err(), "connect should hang, got {r:?}");
}

#[tokio::test]
async fn tls_server_negotiates_h2_with_generated_pki() {
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    assert!(server.url("/").starts_with("https://127.0.0.1:"));

    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = TlsConnector::from(Arc::new(cfg));
    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let tls = connector
            .connect(ServerName::try_from(name).unwrap(), tcp)
            .await
            .unwrap_or_else(|e| panic!("handshake as {name}: {e}"));
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    }
    assert!(eventually(Duration::from_secs(2), || server.accepted() == 2).await);

    let other = TestPki::generate();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(other.ca_der.clone()))
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let r = TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(r.is_err(), "a foreign CA must not validate the leaf");
}

/// One request to a file server on a fresh connection (`Connection:
/// close`): the status, the head's fields (lower-case names) and the body
/// bytes as they came (not de-chunked), read until the server closes.
async fn file_get(
    server: &FileServer,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let raw = raw_exchange(server.addr(), request.as_bytes(), Duration::from_secs(10)).await;
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut fields);
    let httparse::Status::Complete(end) = head.parse(&raw).expect("a response head") else {
        panic!("incomplete head: {:?}", String::from_utf8_lossy(&raw));
    };
    let fields = head
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    (head.code.unwrap(), fields, raw[end..].to_vec())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn file_content_is_deterministic_and_shows_splices() {
    let whole = files::content("/a", 0, 20_000);
    assert_eq!(whole, files::content("/a", 0, 20_000));
    let c = files::Content::new("/a", 0);
    for (offset, len) in [(0, 1), (4095, 2), (5000, 9000), (19_999, 1)] {
        assert_eq!(c.range(offset, len), &whole[offset as usize..][..len]);
    }
    assert_ne!(whole, files::content("/a", 1, 20_000), "versions differ");
    assert_ne!(whole, files::content("/b", 0, 20_000), "paths differ");
    // A shifted copy differs almost everywhere, also by a whole block.
    for shift in [1, 8, 4096] {
        let same = whole.iter().zip(&whole[shift..]).filter(|(a, b)| a == b);
        assert!(same.count() < 400, "shift {shift}");
    }

    let dir = Scratch::new("selftest-content");
    let disk = dir.join("a");
    std::fs::write(&disk, &whole).unwrap();
    files::assert_file(&disk, "/a", 0, 20_000);
    let mut spliced = whole.clone();
    spliced[12_345] ^= 1;
    std::fs::write(&disk, &spliced).unwrap();
    let err = files::check_file(&disk, "/a", 0, 20_000).unwrap_err();
    assert!(err.contains("at offset 12345"), "{err}");
    let err = files::check_file(&disk, "/a", 0, 20_001).unwrap_err();
    assert!(err.contains("20000 bytes, expected 20001"), "{err}");
}

#[tokio::test]
async fn file_server_honours_ranges_and_validators_as_documented() {
    let server = FileServer::start().await;
    const SIZE: u64 = 100_000;
    let whole = files::content("/a", 0, SIZE);
    server.add("/a", FileSpec::new(SIZE));
    server.add("/weak", FileSpec::new(SIZE).validator(Validator::Weak));
    server.add(
        "/lm",
        FileSpec::new(SIZE).validator(Validator::LastModified),
    );
    server.add("/none", FileSpec::new(SIZE).validator(Validator::None));
    server.add(
        "/ignore",
        FileSpec::new(SIZE).ignore_range().no_accept_ranges(),
    );
    let etag = files::etag("/a", 0);

    let (status, h, body) = file_get(&server, "/a", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(field(&h, "content-length"), Some("100000"));
    assert_eq!(field(&h, "accept-ranges"), Some("bytes"));
    assert_eq!(field(&h, "etag"), Some(etag.as_str()));
    assert_eq!(body, whole);

    let (status, h, body) = file_get(
        &server,
        "/a",
        &[("Range", "bytes=1000-"), ("If-Range", &etag)],
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(field(&h, "content-range"), Some("bytes 1000-99999/100000"));
    assert_eq!(field(&h, "content-length"), Some("99000"));
    assert_eq!(body, &whole[1000..]);
    let (status, _, body) = file_get(&server, "/a", &[("Range", "bytes=10-19")]).await;
    assert_eq!((status, &body[..]), (206, &whole[10..20]));
    let (status, _, body) = file_get(
        &server,
        "/a",
        &[("Range", "bytes=1000-"), ("If-Range", "\"other\"")],
    )
    .await;
    assert_eq!(
        (status, body.len()),
        (200, whole.len()),
        "If-Range mismatch"
    );
    let (status, h, _) = file_get(&server, "/a", &[("Range", "bytes=100000-")]).await;
    assert_eq!(status, 416);
    assert_eq!(field(&h, "content-range"), Some("bytes */100000"));

    // A weak ETag never matches If-Range; a Last-Modified date does.
    let weak = format!("W/{}", files::etag("/weak", 0));
    let (_, h, _) = file_get(&server, "/weak", &[]).await;
    assert_eq!(field(&h, "etag"), Some(weak.as_str()));
    let (status, _, _) = file_get(
        &server,
        "/weak",
        &[("Range", "bytes=1-"), ("If-Range", &weak)],
    )
    .await;
    assert_eq!(status, 200);
    let date = files::last_modified(0);
    let (status, h, _) = file_get(
        &server,
        "/lm",
        &[("Range", "bytes=1-"), ("If-Range", &date)],
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(field(&h, "last-modified"), Some(date.as_str()));
    assert_eq!(field(&h, "etag"), None);
    let (status, h, _) = file_get(&server, "/none", &[("Range", "bytes=1-")]).await;
    assert_eq!(status, 206, "Range without If-Range");
    assert_eq!(
        (field(&h, "etag"), field(&h, "last-modified")),
        (None, None)
    );
    let (status, h, body) = file_get(&server, "/ignore", &[("Range", "bytes=1-")]).await;
    assert_eq!((status, body.len()), (200, SIZE as usize));
    assert_eq!(field(&h, "accept-ranges"), None);
    let (status, _, _) = file_get(&server, "/nope", &[]).await;
    assert_eq!(status, 404);

    let hits = server.requests("/a");
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[1].range.as_deref(), Some("bytes=1000-"));
    assert_eq!(hits[1].if_range.as_deref(), Some(etag.as_str()));
    assert_eq!(hits[1].status, 206);
    assert_eq!(hits[0].range, None);
    // The 416's text body counts too.
    let text = "range not satisfiable".len() as u64;
    assert_eq!(server.body_bytes("/a"), SIZE + 99_000 + 10 + SIZE + text);
    assert_eq!(server.log().len(), 11);
    assert_eq!(server.panics(), 0);
}

#[tokio::test]
async fn file_server_cuts_changes_and_lies_as_documented() {
    let server = FileServer::start().await;
    const SIZE: u64 = 100_000;
    server.add("/cut", FileSpec::new(SIZE).cut_after(5000, 2));
    server.add("/change", FileSpec::new(SIZE).changes_after_first());
    let start = WrongRange::Start(10);
    server.add("/start", FileSpec::new(SIZE).wrong_content_range(start));
    let total = WrongRange::Total(1);
    server.add("/total", FileSpec::new(SIZE).wrong_content_range(total));

    // Cut: the head announces everything, exactly 5000 bytes come, then EOF.
    for _ in 0..2 {
        let (status, h, body) = file_get(&server, "/cut", &[]).await;
        assert_eq!(status, 200);
        assert_eq!(field(&h, "content-length"), Some("100000"));
        assert_eq!(body, files::content("/cut", 0, 5000));
    }
    let (_, _, body) = file_get(&server, "/cut", &[]).await;
    assert_eq!(body.len(), SIZE as usize, "the third request is not cut");
    assert_eq!(server.body_bytes("/cut"), 5000 + 5000 + SIZE);

    // The version bumps after the first request: content and ETag change.
    let (_, h, first) = file_get(&server, "/change", &[]).await;
    assert_eq!(field(&h, "etag"), Some(files::etag("/change", 0).as_str()));
    let old = files::etag("/change", 0);
    let (status, h, second) = file_get(
        &server,
        "/change",
        &[("Range", "bytes=10-"), ("If-Range", &old)],
    )
    .await;
    assert_eq!(status, 200, "the old validator no longer matches");
    assert_eq!(field(&h, "etag"), Some(files::etag("/change", 1).as_str()));
    assert_eq!(first, files::content("/change", 0, SIZE));
    assert_eq!(second, files::content("/change", 1, SIZE));
    let versions: Vec<u32> = server
        .requests("/change")
        .iter()
        .map(|h| h.version)
        .collect();
    assert_eq!(versions, [0, 1]);

    let (status, h, body) = file_get(&server, "/start", &[("Range", "bytes=1000-")]).await;
    assert_eq!(status, 206);
    assert_eq!(field(&h, "content-range"), Some("bytes 1010-99999/100000"));
    assert_eq!(body, files::Content::new("/start", 0).range(1010, 98_990));
    let (_, h, body) = file_get(&server, "/total", &[("Range", "bytes=1000-")]).await;
    assert_eq!(field(&h, "content-range"), Some("bytes 1000-99999/100001"));
    assert_eq!(body.len(), 99_000);
}

#[tokio::test]
async fn file_server_encodes_chunks_drips_and_fails_as_documented() {
    let server = FileServer::start().await;
    server.add("/gz", FileSpec::new(50_000).gzip());
    server.add("/chunked", FileSpec::new(70_000).chunked());
    server.add(
        "/drip",
        FileSpec::new(1000).drip(100, Duration::from_millis(20)),
    );
    server.add("/flaky", FileSpec::new(10).fail(503, 1));

    let (_, h, body) = file_get(&server, "/gz", &[]).await;
    assert_eq!(field(&h, "content-encoding"), Some("gzip"));
    assert_eq!(body, files::gzipped("/gz", 0, 50_000));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut decoded).unwrap();
    assert_eq!(decoded, files::content("/gz", 0, 50_000));

    let (status, h, body) = get(&client(), &server.url("/chunked")).await;
    assert_eq!(status, 200);
    assert!(h.get("content-length").is_none());
    assert_eq!(h["transfer-encoding"], "chunked");
    assert_eq!(&body[..], &files::content("/chunked", 0, 70_000)[..]);

    let t = Instant::now();
    let (_, _, body) = file_get(&server, "/drip", &[]).await;
    assert_eq!(body, files::content("/drip", 0, 1000));
    assert!(
        t.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t.elapsed()
    );

    let (status, h, _) = file_get(&server, "/flaky", &[]).await;
    assert_eq!(status, 503);
    assert_eq!(field(&h, "etag"), None);
    let (status, _, body) = file_get(&server, "/flaky", &[]).await;
    assert_eq!((status, body), (200, files::content("/flaky", 0, 10)));
    assert_eq!(server.panics(), 0);
}
