//! The command line, and the client it describes.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use batch_fetch::{BatchClient, BatchClientBuilder, Certificate, Identity, Proxy, RetryPolicy};
use clap::Parser;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Fetch many URLs at once, politely: one JSON line per input on stdout.
///
/// Reads one input per line from FILE (or stdin): a URL, or a JSON object
/// {"url":..,"method":..,"headers":{..},"body":..}. Blank lines and lines
/// starting with # are skipped; a line that cannot be read is that input's
/// error and the batch goes on.
///
/// Exit status: 0 when every input got a response below 400, 1 when any
/// failed (an error, or a status of 400 or more, which --fail makes an
/// error of its own; see --allow-failures), 2 for a usage error.
#[derive(Debug, Parser)]
#[command(name = "batch-fetch", version, about, long_about)]
pub(crate) struct Args {
    /// The file of inputs; stdin when absent or "-".
    #[arg(value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,

    /// Keep only the inputs of shard K of N (K from 0): those whose origin
    /// (scheme, host, port) hashes to K, so N workers given the same file
    /// split it with every origin on one worker, and --per-host and
    /// --per-host-rate hold for the whole crawl. The hash is stable across
    /// runs, machines and versions (docs/sharding.md). Lines keep their
    /// line numbers; inputs count from 0 in each shard.
    #[arg(long, value_name = "K/N", value_parser = parse_shard, conflicts_with = "shard_key")]
    pub(crate) shard: Option<(u32, NonZeroU32)>,

    /// Skip the inputs an earlier, interrupted run of the same file
    /// finished, as its JSON lines in FILE say (line number and a hash of
    /// the line's text; a torn last line is ignored, a cancelled input is
    /// done again). Append the new lines to the same file to resume again.
    #[arg(long, value_name = "FILE")]
    pub(crate) resume: Option<PathBuf>,

    /// Fetch nothing: print, for each input line, its shard of N, a tab,
    /// and the line (for an engine that partitions the inputs itself).
    #[arg(long, value_name = "N")]
    pub(crate) shard_key: Option<NonZeroU32>,

    /// Requests in flight at once, in all.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 100)]
    pub(crate) concurrency: usize,

    /// Requests in flight at once to one origin (scheme, host, port).
    #[arg(long, value_name = "N")]
    pub(crate) per_host: Option<usize>,

    /// Requests started per second in all, as N or N/s, N/m, N/h.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) rate: Option<(u32, Duration)>,

    /// Requests started per second to one origin, as for --rate.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) per_host_rate: Option<(u32, Duration)>,

    /// Time allowed to each attempt, from connect to the last body byte
    /// (e.g. 30s, 500ms, 2m; a bare number is seconds); with --output-dir,
    /// to the response head only (see --read-timeout).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,

    /// Time a response body may stay silent (each read resets it), as
    /// aria2c's --timeout. With --output-dir it bounds the body instead of
    /// --timeout, so a large file may take as long as it needs while its
    /// bytes keep coming; unset, a file's body may be silent for --timeout.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) read_timeout: Option<Duration>,

    /// Time allowed to a connect (DNS, TCP, TLS).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) connect_timeout: Duration,

    /// Time allowed to the whole run: when it passes, requests under way
    /// are cancelled (each gets its line) and inputs not yet started are
    /// not sent.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) deadline: Option<Duration>,

    /// Retries after a failed attempt (connect errors, timeouts, 429, 502,
    /// 503, 504; idempotent methods only unless --retry-non-idempotent).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) retries: u32,

    /// Backoff before the first retry; each later one doubles it, with
    /// full jitter.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration)]
    pub(crate) retry_base: Duration,

    /// Longest backoff, which also caps Retry-After.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) retry_max: Duration,

    /// Retry POST, PATCH and other non-idempotent requests too.
    #[arg(long)]
    pub(crate) retry_non_idempotent: bool,

    /// Largest response body accepted, decoded (e.g. 32M, 512K, 1G);
    /// not for --output-dir, whose files go to disk as they come (see
    /// --max-filesize).
    #[arg(long, value_name = "SIZE", default_value = "32M", value_parser = parse_size)]
    pub(crate) max_body: usize,

    /// Largest file --output-dir writes (as curl's --max-filesize; e.g.
    /// 100M, 2G): a larger body is the input's error of kind
    /// "body_too_large" and leaves no file. Default: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "output_dir")]
    pub(crate) max_filesize: Option<usize>,

    /// Redirects followed per input (0: none).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) max_redirects: usize,

    /// A header sent with every request, as "Name: value" (repeatable).
    /// An input's own header of that name wins. The values of secret
    /// headers (Authorization, Cookie, *token*, *key*, ...) are never shown.
    // Kept as text until the client is built: clap would repeat a value
    // it cannot parse, secrets and all, in its error.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,

    /// The User-Agent header.
    #[arg(short = 'A', long, value_name = "AGENT")]
    pub(crate) user_agent: Option<String>,

    /// Send requests for HOST:PORT to ADDR instead of resolving HOST, as
    /// curl's --resolve (repeatable).
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub(crate) resolve: Vec<(String, SocketAddr)>,

    /// A proxy for every request (http://, https:// or socks5:// URL).
    /// Without it, HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY apply.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub(crate) proxy: Option<String>,

    /// Use no proxy, whatever the environment says.
    #[arg(long)]
    pub(crate) no_proxy: bool,

    /// Trust the CAs in this PEM file (one or several certificates, as
    /// curl's --cacert), besides the system's and the bundled roots; also
    /// for an https:// proxy (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Vec<PathBuf>,

    /// Present this client certificate (PEM: the certificate, then any
    /// intermediates; the key too unless --key is given) to servers that
    /// ask for one (mutual TLS).
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,

    /// The private key of --cert (PEM), when not in the --cert file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,

    /// Take a status of 400 or more (after its retries) as the input's
    /// error, of kind "status", as curl's --fail: its body is not put in
    /// the line (--body). (--output-dir stores only 2xx answers anyway.)
    #[arg(short = 'f', long)]
    pub(crate) fail: bool,

    /// Speak HTTP/2 without TLS upgrade or ALPN (h2c, prior knowledge).
    #[arg(long, conflicts_with = "http1_only")]
    pub(crate) http2_prior_knowledge: bool,

    /// Speak HTTP/1.1 only.
    #[arg(long)]
    pub(crate) http1_only: bool,

    /// Stop at the first failed input instead of fetching them all.
    #[arg(long)]
    pub(crate) fail_fast: bool,

    /// Write the lines in input order (default: as they complete).
    #[arg(long)]
    pub(crate) ordered: bool,

    /// Exit with 0 even when inputs failed.
    #[arg(long)]
    pub(crate) allow_failures: bool,

    /// Write each body to a file in DIR as it arrives, never holding it in
    /// memory: DIR/{index:08}-{name}, the name made from the input's URL
    /// (its last segment, reduced to [A-Za-z0-9._-]; never outside DIR,
    /// whatever the URL or headers say). DIR is made if missing. Each body
    /// goes to "{file}.part" first, renamed onto the file once whole;
    /// a cut transfer, or one silent for --read-timeout, is retried, and
    /// resumed where the server allows. Only a 2xx answer is stored: any other status is the
    /// input's error of kind "status" (its line keeps the status), as with
    /// --fail; a file that cannot be written is the input's error of kind
    /// "file". The line says "file", "bytes" and "resumed".
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,

    /// With --output-dir, as aria2c -c and curl -C - do: keep the files an
    /// earlier run finished (no request is sent for them; their line says
    /// "kept": true), and resume the partial files an earlier --continue
    /// run left (a transfer that fails or is stopped, by Ctrl-C say,
    /// keeps its "{file}.part" when the server allows ranges). Files are
    /// matched by name: give the same inputs in the same order.
    #[arg(long = "continue", requires = "output_dir")]
    pub(crate) continue_run: bool,

    /// With --output-dir: the SHA-256 of each file, in its line ("sha256",
    /// hex), taken as it is written.
    #[arg(long, requires = "output_dir")]
    pub(crate) checksum: bool,

    /// Put each body into its JSON line ("body"; "body_encoding" is
    /// "utf-8", or "base64" for a body that is not UTF-8); not with
    /// --output-dir, which never holds a body.
    #[arg(long, conflicts_with = "output_dir")]
    pub(crate) body: bool,

    /// Write a report of the run to FILE: one self-contained HTML page
    /// (no scripts, fonts or styles from elsewhere) with a waterfall of
    /// the requests over time, a latency histogram, a timeline and the
    /// status breakdown.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,

    /// Requests drawn in the report's waterfall; past that many, a uniform
    /// random sample of them (the other charts count every input).
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) report_rows: u32,

    /// No progress line and no summary on stderr.
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
}

impl Args {
    /// The client these arguments describe.
    ///
    /// # Errors
    ///
    /// The builder's, as one line (an invalid setting is a usage error).
    pub(crate) fn client(&self) -> Result<BatchClient, String> {
        let mut builder = BatchClientBuilder::new()
            .concurrency(self.concurrency)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .retry(
                RetryPolicy::default()
                    .max_retries(self.retries)
                    .base_delay(self.retry_base)
                    .max_delay(self.retry_max)
                    .retry_non_idempotent(self.retry_non_idempotent),
            )
            .max_body_size(self.max_body)
            .download_checksum(self.checksum)
            .download_continue(self.continue_run)
            .redirect_limit(self.max_redirects);
        if let Some(bytes) = self.max_filesize {
            builder = builder.max_download_size(bytes as u64);
        }
        if let Some(silence) = self.read_timeout {
            builder = builder.read_timeout(silence);
        }
        if let Some(n) = self.per_host {
            builder = builder.per_host_concurrency(n);
        }
        if let Some((n, per)) = self.rate {
            builder = builder.rate_limit(n, per);
        }
        if let Some((n, per)) = self.per_host_rate {
            builder = builder.per_host_rate_limit(n, per);
        }
        if !self.headers.is_empty() {
            let mut headers = HeaderMap::new();
            for header in &self.headers {
                let (name, value) = parse_header(header)?;
                headers.append(name, value);
            }
            builder = builder.default_headers(headers);
        }
        if let Some(agent) = &self.user_agent {
            builder = builder.user_agent(agent.clone());
        }
        for (host, addr) in &self.resolve {
            builder = builder.resolve(host.clone(), *addr);
        }
        if let Some(url) = &self.proxy {
            builder = builder.proxy(Proxy::all(url.clone()));
        }
        if self.no_proxy {
            builder = builder.no_proxy();
        }
        for file in &self.cacert {
            let pem = read(file)?;
            let cas = Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("--cacert {}: {e}", file.display()))?;
            for ca in cas {
                builder = builder.add_root_certificate(ca);
            }
        }
        if let Some(cert) = &self.cert {
            let mut pem = read(cert)?;
            if let Some(key) = &self.key {
                pem.push(b'\n');
                pem.extend(read(key)?);
            }
            let identity =
                Identity::from_pem(&pem).map_err(|e| format!("--cert {}: {e}", cert.display()))?;
            builder = builder.identity(identity);
        }
        builder = builder.error_for_status(self.fail);
        if self.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        if self.http1_only {
            builder = builder.http1_only();
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// The contents of a file an option names, or a usage error naming it.
fn read(file: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}

/// `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds (`1.5`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit {unit:?} (use ms, s, m or h)")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("not a duration: {text:?}"))
}

/// `N`, `N/s`, `N/m` or `N/h`.
fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let (n, per) = text.split_once('/').unwrap_or((text, "s"));
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("not a rate: {text:?} (use N, N/s, N/m or N/h)"))?;
    let per = match per.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("unknown rate unit {other:?} (use s, m or h)")),
    };
    Ok((n, per))
}

/// `K/N`: shard `K` (from 0) of `N`.
fn parse_shard(text: &str) -> Result<(u32, NonZeroU32), String> {
    let usage = || format!("not a shard: {text:?} (use K/N, K from 0 to N - 1)");
    let (k, n) = text.split_once('/').ok_or_else(usage)?;
    let k: u32 = k.trim().parse().map_err(|_| usage())?;
    let n: NonZeroU32 = n.trim().parse().map_err(|_| usage())?;
    if k >= n.get() {
        return Err(usage());
    }
    Ok((k, n))
}

/// Bytes, with an optional K, M or G suffix (powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (number, scale) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1usize << 10),
        Some((at, 'm' | 'M')) => (&text[..at], 1 << 20),
        Some((at, 'g' | 'G')) => (&text[..at], 1 << 30),
        _ => (text, 1),
    };
    number
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("not a size: {text:?} (use e.g. 512K, 32M, 1G)"))
}

/// `Name: value`. The errors name the header at most, never its value
/// (it may be a secret).
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or("-H: not a header (use \"Name: value\")")?;
    let name = HeaderName::try_from(name.trim()).map_err(|_| "-H: not a valid header name")?;
    let value = HeaderValue::try_from(value.trim())
        .map_err(|_| format!("-H {name}: not a valid header value"))?;
    Ok((name, value))
}

/// `HOST:PORT:ADDR` (ADDR may be an IPv6 address, bracketed or not).
fn parse_resolve(text: &str) -> Result<(String, SocketAddr), String> {
    let bad = || format!("not HOST:PORT:ADDR: {text:?}");
    let (host, rest) = text.split_once(':').ok_or_else(bad)?;
    let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip: std::net::IpAddr = addr.trim_matches(['[', ']']).parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn rates_sizes_headers_resolves() {
        assert_eq!(parse_rate("10"), Ok((10, Duration::from_secs(1))));
        assert_eq!(parse_rate("600/m"), Ok((600, Duration::from_secs(60))));
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
        let (name, value) = parse_header("X-Token:  abc ").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-token", "abc"));
        assert!(parse_header("no colon").is_err());
        assert_eq!(
            parse_resolve("example.test:443:127.0.0.2"),
            Ok(("example.test".into(), "127.0.0.2:443".parse().unwrap()))
        );
        assert_eq!(
            parse_resolve("v6.test:80:[::1]"),
            Ok(("v6.test".into(), "[::1]:80".parse().unwrap()))
        );
        assert!(parse_resolve("example.test:443").is_err());
    }
}
