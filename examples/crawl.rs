//! A crawl fed through a channel: start from `/`, fetch pages as the batch
//! has room, take the links out of each page as it arrives, send the new
//! ones back into the batch, and stop when nothing is left. One JSON line
//! per URL on stdout; a summary on stderr.
//!
//! ```text
//! cargo run --example crawl > pages.jsonl
//! ```
//!
//! The site is an embedded server on 127.0.0.1, started by the example: 200
//! pages linking to each other (10 of them linked from nowhere), dead links
//! (`404`), a redirect, a slow page, one that hangs, and links off the site
//! (never followed); nothing leaves the machine. The program checks that
//! the crawl requested exactly the URLs reachable from `/`, each once, with
//! the outcome the site gives it, and exits non-zero if not.

#[path = "support/loopback.rs"]
mod loopback;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use batch_fetch::{BatchClient, RetryPolicy, from_stream};
use bytes::Bytes;
use futures_util::StreamExt;
use http::StatusCode;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde::Serialize;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use url::Url;

/// The most URLs one crawl requests, and the longest it runs.
const MAX_PAGES: usize = 1_000;
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// Per attempt: a page slower than this is given up on.
const TIMEOUT: Duration = Duration::from_secs(1);

/// One line of output: the URL requested and what became of it.
#[derive(Default, Serialize)]
struct Line {
    url: String,
    /// Where it ended up, if redirected.
    #[serde(skip_serializing_if = "Option::is_none")]
    final_url: Option<String>,
    status: Option<u16>,
    bytes: usize,
    ms: u64,
    attempts: u32,
    /// Links to pages not seen before, sent on into the crawl.
    new_links: usize,
    error: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = loopback::serve(serve_page).await?;
    let root = Url::parse(&format!("http://{addr}/"))?;

    let client = BatchClient::builder()
        .concurrency(16)
        // Be polite: at most 8 requests at once to one site.
        .per_host_concurrency(8)
        .timeout(TIMEOUT)
        .retry(
            RetryPolicy::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(50)),
        )
        // The site is local: ignore any HTTP_PROXY of the environment.
        .no_proxy()
        .build()?;
    // The time bound: past it, requests under way end as `Cancelled` and
    // the result stream ends, whatever is still queued.
    let batch = client.batch().deadline(TIME_LIMIT);

    // The channel is the batch's input: the batch takes URLs out as it has
    // room, and this loop puts the links it finds back in. Unbounded,
    // because this loop is also what drives the batch that empties it (a
    // full bounded channel would wait for itself); MAX_PAGES bounds it.
    let (tx, mut rx) = unbounded_channel::<String>();
    let urls = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    // Results as they complete (`fetch_stream`), not in input order: a
    // slow page holds up nothing.
    let mut results = batch.fetch_stream(from_stream(urls));

    let mut frontier = Frontier::new(tx);
    frontier.push(root.to_string());
    let started = Instant::now();
    let mut outcomes = BTreeMap::new();
    while let Some((index, result)) = results.next().await {
        // The channel keeps order, so the batch's index `i` is the i-th
        // URL sent.
        let mut line = Line {
            url: frontier.sent[index].clone(),
            ..Line::default()
        };
        match result {
            Ok(res) => {
                line.status = Some(res.status().as_u16());
                line.bytes = res.body().len();
                line.ms = res.elapsed().as_millis() as u64;
                line.attempts = res.attempts();
                // Links resolve against where the page ended up.
                let base = Url::parse(&res.url().to_string())?;
                if base.as_str() != line.url {
                    frontier.seen.insert(base.to_string());
                    line.final_url = Some(base.to_string());
                }
                let is_html = res
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/html"));
                if res.status().is_success() && is_html {
                    let html = String::from_utf8_lossy(res.body());
                    for link in links(&html, &base, &root) {
                        line.new_links += usize::from(frontier.push(link));
                    }
                }
            }
            Err(err) => {
                line.error = Some(err.kind().to_string());
                line.ms = err.timings().map_or(0, |t| t.total().as_millis() as u64);
                line.attempts = err.attempts();
            }
        }
        println!("{}", serde_json::to_string(&line)?);
        // Kept for the check at the end.
        let outcome = match (line.status, line.error) {
            (Some(status), _) => status.to_string(),
            (None, error) => error.unwrap_or_default(),
        };
        outcomes.insert(Url::parse(&line.url)?.path().to_owned(), outcome);
        frontier.done();
    }

    report(&outcomes, started.elapsed());
    let expected = reachable();
    if outcomes != expected {
        let first = |paths: Vec<&String>| {
            let shown: Vec<&str> = paths.iter().take(5).map(|p| p.as_str()).collect();
            format!("{} ({}..)", paths.len(), shown.join(" "))
        };
        let wrong = expected
            .iter()
            .filter(|&(path, outcome)| outcomes.get(path) != Some(outcome));
        let extra = outcomes.keys().filter(|path| !expected.contains_key(*path));
        return Err(format!(
            "the crawl does not match the site: missed or wrong {}, not reachable {}",
            first(wrong.map(|(path, _)| path).collect()),
            first(extra.collect())
        )
        .into());
    }
    Ok(())
}

/// The crawl's to-do list: every URL once, in the order it went into the
/// batch's channel, and how many results are still to come.
struct Frontier {
    tx: Option<UnboundedSender<String>>,
    seen: HashSet<String>,
    sent: Vec<String>,
    pending: usize,
}

impl Frontier {
    fn new(tx: UnboundedSender<String>) -> Self {
        Frontier {
            tx: Some(tx),
            seen: HashSet::new(),
            sent: Vec::new(),
            pending: 0,
        }
    }

    /// Sends `url` into the crawl unless it was seen before or the crawl is
    /// full; tells whether it did.
    fn push(&mut self, url: String) -> bool {
        let Some(tx) = &self.tx else { return false };
        if self.seen.len() >= MAX_PAGES || !self.seen.insert(url.clone()) {
            return false;
        }
        // Fails only once the batch has stopped (its deadline passed).
        if tx.send(url.clone()).is_err() {
            return false;
        }
        self.sent.push(url);
        self.pending += 1;
        true
    }

    /// Takes note of one result. With nothing queued or in flight, no page
    /// can bring a new link: closing the channel ends the batch's input,
    /// and with it the result stream.
    fn done(&mut self) {
        self.pending -= 1;
        if self.pending == 0 {
            self.tx = None;
        }
    }
}

/// The links of a page that stay on the site, resolved against `base`,
/// without their `#fragment` (the same page either way). Simple scanning:
/// good enough for pages whose links are `href="..."`.
fn links(html: &str, base: &Url, site: &Url) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|href| base.join(href).ok())
        // Not another site, not `mailto:`.
        .filter(|url| url.origin() == site.origin())
        .map(|mut url| {
            url.set_fragment(None);
            url.to_string()
        })
        .collect()
}

/// The summary, on stderr: stdout holds only the JSON lines.
fn report(outcomes: &BTreeMap<String, String>, elapsed: Duration) {
    let mut counts = BTreeMap::new();
    for outcome in outcomes.values() {
        *counts.entry(outcome.as_str()).or_insert(0) += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(o, n)| format!("{o} ×{n}")).collect();
    eprintln!(
        "crawled {} URLs in {:.2} s: {}",
        outcomes.len(),
        elapsed.as_secs_f64(),
        counts.join(", ")
    );
}

// The embedded site. Not what a user copies: it plays the web.

/// `/page/0` to `/page/199`; the last 10 link on, but nothing links to them.
const PAGES: usize = 200;
const LINKED: usize = 190;

enum Page {
    Html { links: Vec<String>, delay: Duration },
    Redirect(&'static str),
    Missing,
}

/// What the site has at `path`.
fn page(path: &str) -> Page {
    let html = |links: &[&str], ms: u64| Page::Html {
        links: links.iter().map(|l| l.to_string()).collect(),
        delay: Duration::from_millis(ms),
    };
    match path {
        "/" => html(&["/page/0", "/old-news", "/slow"], 0),
        "/old-news" => Page::Redirect("/news"),
        // Linked only through the redirect.
        "/news" => html(&["/page/42", "/hang"], 0),
        "/slow" => html(&["/page/7"], 400),
        // Past the client's timeout: both attempts time out.
        "/hang" => html(&[], 30_000),
        _ => match path
            .strip_prefix("/page/")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n < PAGES => {
                let mut links: Vec<String> = [n + 1, n * 7 + 3, n * 13 + 5]
                    .map(|k| format!("/page/{}", k % LINKED))
                    .into();
                if n % 20 == 9 {
                    // A dead link.
                    links.push(format!("/page/{}", PAGES + n));
                }
                Page::Html {
                    links,
                    delay: Duration::from_millis(n as u64 % 7),
                }
            }
            _ => Page::Missing,
        },
    }
}

/// What a crawl must find: every path reachable from `/` (a redirect's
/// source, not its target, is what is requested), with the outcome the
/// site gives it.
fn reachable() -> BTreeMap<String, String> {
    let outcome = |path: &str| match page(path) {
        Page::Missing => "404",
        Page::Html { delay, .. } if delay >= TIMEOUT => "timed out",
        _ => "200",
    };
    let mut found = BTreeMap::from([("/".to_owned(), "200".to_owned())]);
    let mut queue = VecDeque::from(["/".to_owned()]);
    while let Some(path) = queue.pop_front() {
        let served = match page(&path) {
            Page::Redirect(to) => page(to),
            other => other,
        };
        let Page::Html { links, delay } = served else {
            continue;
        };
        if delay >= TIMEOUT {
            continue;
        }
        for link in links {
            if !found.contains_key(&link) {
                let target = match page(&link) {
                    Page::Redirect(to) => to,
                    _ => link.as_str(),
                };
                found.insert(link.clone(), outcome(target).to_owned());
                queue.push_back(link);
            }
        }
    }
    found
}

/// Serves `page(path)`, its links written the ways pages write them.
async fn serve_page(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let (status, body) = match page(path) {
        Page::Html { links, delay } => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, render(path, &links))
        }
        Page::Redirect(to) => {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
            res.headers_mut()
                .insert(http::header::LOCATION, http::HeaderValue::from_static(to));
            return res;
        }
        Page::Missing => (StatusCode::NOT_FOUND, "<h1>Not found</h1>".to_owned()),
    };
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// A page with `links` as absolute paths, relative ones and with
/// fragments, and two links off the site.
fn render(path: &str, links: &[String]) -> String {
    let mut html = format!("<!doctype html><title>{path}</title><ul>\n");
    for (i, link) in links.iter().enumerate() {
        let href = match (i % 3, link.strip_prefix("/page/")) {
            (1, Some(name)) if path.starts_with("/page/") => name.to_owned(),
            (2, _) => format!("{link}#top"),
            _ => link.clone(),
        };
        html += &format!("<li><a href=\"{href}\">{link}</a>\n");
    }
    html += "<li><a href=\"https://example.com/\">elsewhere</a>\n";
    html += "<li><a href=\"mailto:webmaster@example.test\">mail us</a>\n</ul>\n";
    html
}
