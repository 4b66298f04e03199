//! Credentials given to the tool (in URLs, in headers, in the proxy's URL)
//! are sent where they belong and written nowhere: not in the JSON lines,
//! not on stderr, not in the report, not in --output-dir's file names.

use base64::Engine;

use super::support::fn_server::{FnServer, redirect, reply};
use super::support::{ProxyServer, closed_port};
use super::{run, tempfile};

/// The secret, as recognizable as can be.
const MARKER: &str = "s3cr3tMARKER";

/// The forms the secret may take in what the tool writes: itself, its
/// base64, and the base64 of `user:MARKER` (a Basic credential).
fn secret_forms() -> [String; 3] {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    [
        MARKER.to_owned(),
        b64(MARKER),
        b64(&format!("user:{MARKER}")),
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for form in secret_forms() {
        // Base64 may be cut at any of the first three characters' offsets
        // when embedded; the full form is what a leak looks like here.
        assert!(!text.contains(&form), "{what} shows {form:?}:\n{text}");
    }
}

/// `-H` arguments that carry the secret.
fn secret_headers() -> Vec<String> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{MARKER}"));
    vec![
        format!("Authorization: Bearer {MARKER}"),
        format!("Authorization: Basic {basic}"),
        format!("X-Api-Key: {MARKER}"),
        format!("Cookie: sid={MARKER}"),
        format!("X-Auth-Token: {MARKER}"),
        format!("X-Client-Secret: {MARKER}"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_the_server_and_no_output() {
    let server = FnServer::start(|seen| async move {
        match seen.uri.path() {
            "/moved" => {
                let host = seen.header("host").unwrap_or_default();
                redirect(302, &format!("http://user:{MARKER}@{host}/landed"))
            }
            "/missing" => reply(404, "no"),
            _ => reply(200, "hello"),
        }
    })
    .await;
    let proxy = ProxyServer::with_auth("user", MARKER).await;
    let at = |path: &str| format!("http://user:{MARKER}@127.0.0.1:{}{path}", server.port());
    let input = format!(
        "{}\n{{\"url\":\"{}\",\"headers\":{{\"Authorization\":\"Bearer {MARKER}\"}}}}\n{}\n{}\nhttp://user:{MARKER}@127.0.0.1:{}/refused\n",
        at("/plain"),
        at("/json"),
        at("/moved"),
        at("/missing"),
        closed_port(),
    );
    let root = std::env::temp_dir().join(format!("batch-fetch-cli-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("bodies");
    let report = root.join("report.html");
    std::fs::create_dir_all(&root).unwrap();
    let proxy_url = proxy.url_with_auth("user", MARKER);
    let mut args: Vec<String> = vec![
        "--ordered".into(),
        "--retries".into(),
        "0".into(),
        "--proxy".into(),
        proxy_url,
        "--report".into(),
        report.display().to_string(),
        "--output-dir".into(),
        dir.display().to_string(),
    ];
    for header in secret_headers() {
        args.push("-H".into());
        args.push(header);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args, &input).await;

    // The secrets were used: the proxy and the server saw them.
    assert_eq!(out.code, 1, "a 404 and a refused origin: {}", out.stderr);
    assert_eq!(out.lines.len(), 5, "{:?}", out.lines);
    assert!(
        proxy.stats().hits().iter().all(|h| h.refused_with != 407),
        "the proxy's credentials were sent"
    );
    let seen = server.stats().seen_path("/plain");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("x-api-key").as_deref(),
        Some(MARKER),
        "the headers were sent"
    );
    // What the lines say instead.
    assert_eq!(
        out.lines[0]["url"],
        format!("http://***@127.0.0.1:{}/plain", server.port())
    );

    let stdout: String = out.lines.iter().map(|l| format!("{l}\n")).collect();
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &out.stderr);
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("--proxy"), "the command line is shown");
    assert_no_secret("the report", &page);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        assert_no_secret("a file name", &entry.file_name().to_string_lossy());
        assert_no_secret(
            "a body file",
            &std::fs::read_to_string(entry.path()).unwrap(),
        );
        files += 1;
    }
    assert!(files >= 3, "the bodies were written");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_error_messages() {
    let (report, _) = tempfile();
    let input = format!(
        "http://user:{MARKER}@127.0.0.1:{}/refused\nhttp://user:{MARKER}@bad host/\n{{\"url\":\"http://user:{MARKER}@127.0.0.1:1/x\",\"method\":\"GE T\"}}\nhttps://user:{MARKER}@127.0.0.1:{}/tls\n\
         http:user:{MARKER}@bad host/\nhttp:\\\\user:{MARKER}@127.0.0.1:{}/refused\n",
        closed_port(),
        closed_port(),
        closed_port(),
    );
    let out = run(
        &[
            "--retries",
            "0",
            "--report",
            report.to_str().unwrap(),
            "-H",
            &format!("Authorization: Bearer {MARKER}"),
        ],
        &input,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    // The last two are credentials as a WHATWG parser reads them too.
    assert_eq!(out.lines.len(), 6, "{:?}", out.lines);
    let stdout: String = out.lines.iter().map(|l| format!("{l}\n")).collect();
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("the report", &std::fs::read_to_string(&report).unwrap());
    let _ = std::fs::remove_file(&report);

    // Usage errors do not repeat a secret either.
    for args in [
        vec!["-H".to_owned(), format!("Authorization Bearer {MARKER}")],
        vec![
            "-H".to_owned(),
            format!("Authorization: Bearer {MARKER}\u{1}"),
        ],
        vec![
            "--proxy".to_owned(),
            format!("ftp://user:{MARKER}@127.0.0.1:1"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, "").await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_no_secret("a usage error", &out.stderr);
    }
}
