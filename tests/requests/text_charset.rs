//! `Response::text()` decodes by the `charset` of `Content-Type`
//! (encoding_rs, as reqwest's `charset` feature): UTF-8 when there is
//! none or it is unknown, a byte order mark first, and bytes that are
//! not text in that encoding replaced by U+FFFD rather than an error.
//! `text_with_charset()` names the encoding for a body whose header does
//! not.
#![cfg(feature = "charset")]

use bytes::Bytes;

use batch_fetch::Response;

use crate::support::clients::client;
use crate::support::fn_server::{reply, with_header};
use crate::support::{FnServer, Seen, bounded};

/// The responses of a server that answers `/<n>` with case `n` of
/// `cases`: its body, under its `Content-Type` (none when empty).
async fn fetched(cases: &'static [(&'static str, &'static [u8])]) -> Vec<Response> {
    let server = FnServer::start(move |seen: Seen| async move {
        let n: usize = seen.uri.path()[1..].parse().unwrap();
        let (content_type, body) = cases[n];
        let res = reply(200, Bytes::from_static(body));
        if content_type.is_empty() {
            res
        } else {
            with_header(res, "content-type", content_type)
        }
    })
    .await;
    let urls: Vec<String> = (0..cases.len())
        .map(|i| server.url(&format!("/{i}")))
        .collect();
    bounded("bodies", client().fetch_all(&urls)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_decoded_by_the_charset_of_content_type() {
    static CASES: &[(&str, &[u8])] = &[
        ("text/plain; charset=iso-8859-1", b"caf\xe9"),
        (
            "text/plain; charset=\"windows-1252\"",
            b"\x93quoted\x94 \x80",
        ),
        ("text/html;Charset=Shift_JIS", b"\x93\xfa\x96\x7b"),
        ("text/plain", "café".as_bytes()),
        ("", "café".as_bytes()),
        ("text/plain; charset=no-such-charset", "café".as_bytes()),
        // A byte order mark wins over the header, and is stripped.
        ("text/plain; charset=iso-8859-1", b"\xef\xbb\xbfcaf\xc3\xa9"),
        ("text/plain", b"\xff\xfea\x00b\x00"),
    ];
    let responses = fetched(CASES).await;
    let texts: Vec<String> = responses.iter().map(|r| r.text().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "café",
            "\u{201c}quoted\u{201d} €",
            "日本",
            "café",
            "café",
            "café",
            "café",
            "ab"
        ]
    );
    // The bytes stay as they came.
    assert_eq!(responses[0].body().as_ref(), b"caf\xe9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_text_become_replacement_characters() {
    static CASES: &[(&str, &[u8])] = &[
        ("", b"a\xffb\xc3"),
        ("text/plain; charset=utf-8", b"\xe9t\xe9"),
        ("text/plain; charset=shift_jis", b"ok\x82"),
    ];
    let responses = fetched(CASES).await;
    let texts: Vec<String> = responses.iter().map(|r| r.text().unwrap()).collect();
    assert_eq!(
        texts,
        ["a\u{fffd}b\u{fffd}", "\u{fffd}t\u{fffd}", "ok\u{fffd}"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_with_charset_sets_the_default_the_header_still_wins() {
    static CASES: &[(&str, &[u8])] = &[
        ("", b"caf\xe9"),
        ("text/plain", b"\x93\xfa\x96\x7b"),
        ("text/plain; charset=utf-8", "café".as_bytes()),
        ("text/plain; charset=bogus", "café".as_bytes()),
    ];
    let responses = fetched(CASES).await;
    assert_eq!(responses[0].text_with_charset("latin1").unwrap(), "café");
    assert_eq!(responses[0].text().unwrap(), "caf\u{fffd}");
    assert_eq!(responses[1].text_with_charset("shift_jis").unwrap(), "日本");
    assert_eq!(responses[2].text_with_charset("latin1").unwrap(), "café");
    // An unknown charset in the header means UTF-8, as in reqwest.
    assert_eq!(responses[3].text_with_charset("latin1").unwrap(), "café");
    // An unknown default means UTF-8 too.
    assert_eq!(
        responses[0].text_with_charset("nonsense").unwrap(),
        "caf\u{fffd}"
    );
}
