//! URL inputs are read as WHATWG URLs, as browsers and reqwest read them:
//! a space goes out percent-encoded, an internationalised host in
//! punycode (in the request's `Host` and in `resolve()` overrides alike),
//! surrounding whitespace is trimmed; a `url::Url` is an input too; a bad
//! input is that input's own `InvalidRequest`; redirects read `Location`
//! the same way.

use batch_fetch::{ErrorKind, Request, Url};
use http::HeaderValue;
use http::header::LOCATION;

use crate::support::clients::{builder, client};
use crate::support::fn_server::reply;
use crate::support::{FnServer, Seen, bounded};

/// A server answering every request with its path and query as received.
async fn path_echo() -> FnServer {
    FnServer::start(|seen: Seen| async move { reply(200, seen.path()) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_in_the_path_reaches_the_server_encoded() {
    let server = path_echo().await;
    let client = client();
    let base = server.origin();
    let inputs = [
        format!("{base}/a b"),
        format!("  {base}/a b?q=c d#not sent\n"),
        format!("{base}/x/../a%20b"),
    ];
    let results = bounded("spaces", client.fetch_all(&inputs)).await.unwrap();
    let paths: Vec<String> = results.iter().map(|r| r.text().unwrap()).collect();
    assert_eq!(paths, ["/a%20b", "/a%20b?q=c%20d", "/a%20b"]);
    assert_eq!(results[0].url().to_string(), format!("{base}/a%20b"));

    // The Request builder reads its URL the same way, query pairs after.
    let resp = bounded(
        "builder",
        client.fetch(Request::get(format!("{base}/a b?x=1")).query(&[("y", "2 3")])),
    )
    .await
    .unwrap();
    assert_eq!(resp.text().unwrap(), "/a%20b?x=1&y=2+3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idn_host_goes_out_in_punycode_through_resolve() {
    let server =
        FnServer::start(
            |seen: Seen| async move { reply(200, seen.header("host").unwrap_or_default()) },
        )
        .await;
    let port = server.port();
    let punycode = format!("xn--bcher-kva.test:{port}");

    // The override is written as a person writes the name, in any case,
    // or in punycode: each matches the URL's host however it is written.
    for name in ["bücher.test", "BÜCHER.test", "xn--bcher-kva.test"] {
        let client = builder().resolve(name, server.addr()).build().unwrap();
        for url in [
            format!("http://bücher.test:{port}/"),
            format!("http://Bücher.TEST:{port}/"),
            format!("http://xn--bcher-kva.test:{port}/"),
        ] {
            let resp = bounded("idn", client.fetch(url.as_str()))
                .await
                .unwrap_or_else(|e| panic!("resolve({name:?}) then {url}: {e}"));
            assert_eq!(resp.text().unwrap(), punycode, "{name} / {url}");
            assert_eq!(resp.url().to_string(), format!("http://{punycode}/"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_is_an_input_by_value_by_reference_and_in_the_builder() {
    let server = FnServer::start(|seen: Seen| async move {
        let auth = seen.header("authorization").unwrap_or_default();
        reply(200, format!("{} {auth}", seen.path()))
    })
    .await;
    let client = client();
    let url = Url::parse(&server.url("/u r l?q=1#frag")).unwrap();

    let by_value = bounded("url", client.fetch(url.clone())).await.unwrap();
    assert_eq!(by_value.text().unwrap(), "/u%20r%20l?q=1 ");
    let by_ref = bounded("&url", client.fetch(&url)).await.unwrap();
    assert_eq!(by_ref.text().unwrap(), "/u%20r%20l?q=1 ");
    let urls = vec![url.clone(), url.join("/other").unwrap()];
    let all = bounded("urls", client.fetch_all(&urls)).await.unwrap();
    assert_eq!(all[1].text().unwrap(), "/other ");
    // `String: From<Url>`, so the builder takes one as it takes text.
    let built = bounded("builder", client.fetch(Request::post(url.clone())))
        .await
        .unwrap();
    assert_eq!(built.text().unwrap(), "/u%20r%20l?q=1 ");

    // Credentials in a Url move to Authorization, as in text.
    let mut with_user = url.clone();
    with_user.set_username("user").unwrap();
    with_user.set_password(Some("pw")).unwrap();
    let resp = bounded("credentials", client.fetch(with_user))
        .await
        .unwrap();
    // base64("user:pw")
    assert_eq!(resp.text().unwrap(), "/u%20r%20l?q=1 Basic dXNlcjpwdw==");
    assert!(!resp.url().to_string().contains("pw"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_invalid_request_in_place() {
    let server = path_echo().await;
    let client = client();
    let inputs = [
        server.url("/ok/0"),
        "http://bad host/".to_string(),
        "ftp://a.test/x".to_string(),
        String::new(),
        "http:u:s3cret@bad host/".to_string(),
        format!("http://127.0.0.1:{}/ok/5", server.port()),
        "/relative".to_string(),
        "http://a.test:99999/".to_string(),
    ];
    let results = bounded("settled", client.fetch_all_settled(&inputs)).await;
    assert_eq!(results.len(), inputs.len());
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(resp) => {
                assert!([0, 5].contains(&i), "input {i} accepted");
                assert_eq!(resp.text().unwrap(), format!("/ok/{i}"));
            }
            Err(e) => {
                assert!(![0, 5].contains(&i), "input {i}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidRequest, "input {i}: {e}");
                assert_eq!(e.index(), Some(i));
                assert!(!e.to_string().contains("s3cret"), "{e}");
                assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
            }
        }
    }
    // A Url that is no http(s) one is refused the same way.
    let urls = [
        Url::parse("mailto:someone@a.test").unwrap(),
        Url::parse(&server.url("/ok/1")).unwrap(),
    ];
    let results = bounded("urls", client.fetch_all_settled(&urls)).await;
    assert_eq!(
        results[0].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    assert_eq!(results[1].as_ref().unwrap().text().unwrap(), "/ok/1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_read_location_as_a_whatwg_url() {
    let port_cell = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let port_of = port_cell.clone();
    let server = FnServer::start(move |seen: Seen| {
        let port = *port_of.get().unwrap();
        async move {
            let location = match seen.uri.path() {
                "/space" => "/b c".to_string(),
                // Raw UTF-8 in the header, as some servers send it.
                "/idn" => format!("http://bücher.test:{port}/é"),
                _ => {
                    let host = seen.header("host").unwrap_or_default();
                    return reply(200, format!("{host} {}", seen.path()));
                }
            };
            let mut res = reply(302, "");
            let value = HeaderValue::from_bytes(location.as_bytes()).unwrap();
            res.headers_mut().insert(LOCATION, value);
            res
        }
    })
    .await;
    port_cell.set(server.port()).unwrap();
    let port = server.port();
    let client = builder()
        .resolve("bücher.test", server.addr())
        .build()
        .unwrap();

    let resp = bounded("space", client.fetch(server.url("/space")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), format!("127.0.0.1:{port} /b%20c"));

    let resp = bounded("idn", client.fetch(server.url("/idn")))
        .await
        .unwrap();
    assert_eq!(
        resp.text().unwrap(),
        format!("xn--bcher-kva.test:{port} /%C3%A9")
    );
    assert_eq!(
        resp.url().to_string(),
        format!("http://xn--bcher-kva.test:{port}/%C3%A9")
    );
}
