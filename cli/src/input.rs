//! The inputs: one per line of a file or of stdin, read as the batch
//! pulls them, so a file of ten million lines starts at once and holds
//! only what is in flight.
//!
//! A line is a URL, or (when it starts with `{`) a JSON object
//! `{"url":..,"method":..,"headers":{..},"body":..}`. Blank lines and lines
//! starting with `#` are skipped. A line that cannot be read becomes that
//! input's error, with its line number; it never stops the batch.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use batch_fetch::{Request, origin_shard};
use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::redact;
use crate::resume::{Finished, input_hash};

/// How many parsed inputs wait ahead of the batch.
const READ_AHEAD: usize = 1024;

/// The longest line read; a longer one is that input's error (and is
/// skipped without being held in memory).
const MAX_LINE: usize = 1 << 20;

/// One input, or why its line could not be one.
pub(crate) type Input = Result<Request, String>;

/// Where each input came from, for the inputs between the reader and the
/// output (so its size is bounded by what is in flight, not the file);
/// and which input each of the batch's positions holds (the batch numbers
/// only what it is given, and `--continue` gives it not every input).
#[derive(Clone, Default)]
pub(crate) struct Origins {
    inner: Arc<Mutex<Known>>,
}

#[derive(Default)]
struct Known {
    /// By input index.
    origins: HashMap<usize, Origin>,
    /// The input index at each batch position not yet answered.
    batched: HashMap<usize, usize>,
    /// The batch position of the next input given to the batch.
    next_position: usize,
}

/// An input's line, the hash of its text (see `resume`) and its URL as
/// written, credentials masked.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub(crate) line: u64,
    pub(crate) hash: u64,
    pub(crate) url: Option<String>,
}

impl Origins {
    fn insert(&self, index: usize, origin: Origin) {
        self.lock().origins.insert(index, origin);
    }

    /// The URL of input `index`, as written and masked.
    pub(crate) fn url(&self, index: usize) -> Option<String> {
        self.lock()
            .origins
            .get(&index)
            .and_then(|origin| origin.url.clone())
    }

    /// Input `index` is the next one given to the batch.
    pub(crate) fn to_batch(&self, index: usize) {
        let mut known = self.lock();
        let position = known.next_position;
        known.next_position += 1;
        known.batched.insert(position, index);
    }

    /// The input at batch position `position` (once: its result is in).
    pub(crate) fn at_position(&self, position: usize) -> usize {
        self.lock().batched.remove(&position).unwrap_or(position)
    }

    /// Takes the origin of input `index` (once: its result is written).
    pub(crate) fn take(&self, index: usize) -> Origin {
        self.lock().origins.remove(&index).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The JSON form of a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

/// Reads `reader` on a task of its own and hands out its inputs in order,
/// each with the bytes of the file it accounts for (its line, and the
/// blank and comment lines before it: the progress bar's measure),
/// recording where each came from in `origins`. A read error ends the
/// inputs and is reported on stderr.
///
/// With `shard` (`K` of `N`), only the inputs of shard `K` are handed out
/// (see [`shard_text`]); with `finished` (`--resume`), only those an
/// earlier run did not finish.
pub(crate) fn spawn_reader<R>(
    reader: R,
    origins: Origins,
    shard: Option<(u32, NonZeroU32)>,
    finished: Option<Arc<Finished>>,
) -> mpsc::Receiver<(Input, u64)>
where
    R: AsyncBufRead + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut reader = reader;
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        let mut index = 0usize;
        let mut bytes = 0u64;
        loop {
            let read = match read_line(&mut reader, &mut buf).await {
                Ok(Some(read)) => read,
                Ok(None) => break,
                Err(e) => {
                    crate::stderr::line(format_args!(
                        "batch-fetch: reading the input stopped after line {line_no}: {e}"
                    ));
                    break;
                }
            };
            line_no += 1;
            bytes += read;
            let parsed = if buf.len() > MAX_LINE {
                let reason = format!("line {line_no}: longer than {MAX_LINE} bytes");
                Some((Err(reason), None))
            } else {
                match std::str::from_utf8(&buf) {
                    Ok(line) => parse_line(line, line_no),
                    Err(_) => Some((Err(format!("line {line_no}: not UTF-8")), None)),
                }
            };
            let Some((input, url)) = parsed else {
                continue;
            };
            let line = String::from_utf8_lossy(&buf);
            if let Some((k, n)) = shard
                && origin_shard(shard_text(url.as_deref(), &line), n) != k
            {
                continue;
            }
            let hash = input_hash(&line);
            if finished
                .as_ref()
                .is_some_and(|done| done.has(line_no, hash))
            {
                continue;
            }
            // Masked once, here: every output shows the URL from this.
            let url = url.map(|url| redact::input_url(&url).into_owned());
            origins.insert(
                index,
                Origin {
                    line: line_no,
                    hash,
                    url,
                },
            );
            index += 1;
            if tx.send((input, std::mem::take(&mut bytes))).await.is_err() {
                // The batch stopped (fail-fast): nothing more to read.
                break;
            }
        }
    });
    rx
}

/// The text an input line is sharded by: its URL, or, for a line without
/// one (JSON that does not parse), the line itself.
pub(crate) fn shard_text<'a>(url: Option<&'a str>, line: &'a str) -> &'a str {
    url.unwrap_or(line)
}

/// Prints, for each input line of `reader`, its shard of `n`, a tab and
/// the line (`--shard-key`); blank and comment lines hold no input and
/// are left out.
pub(crate) async fn print_shard_keys<R>(mut reader: R, n: NonZeroU32) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
{
    let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    while read_line(&mut reader, &mut buf).await?.is_some() {
        line_no += 1;
        let line = String::from_utf8_lossy(&buf);
        let Some((_, url)) = parse_line(&line, line_no) else {
            continue;
        };
        let shard = origin_shard(shard_text(url.as_deref(), &line), n);
        out.write_all(format!("{shard}\t{line}\n").as_bytes())
            .await?;
    }
    out.flush().await
}

/// Reads one line into `buf` (without its `\n` or `\r\n`), keeping at
/// most `MAX_LINE + 1` bytes of it; returns how many bytes it took from
/// `reader`, or `None` at the end.
async fn read_line<R>(reader: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Option<u64>>
where
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let mut taken = (&mut *reader)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)
        .await? as u64;
    if taken == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE {
        // Too long: skip the rest of it, a buffer at a time.
        loop {
            let chunk = reader.fill_buf().await?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    reader.consume(at + 1);
                    taken += at as u64 + 1;
                    break;
                }
                None => {
                    let n = chunk.len();
                    reader.consume(n);
                    taken += n as u64;
                }
            }
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(taken))
}

/// The input of one line and its URL as written; `None` for a line that
/// holds none (blank, or a comment).
pub(crate) fn parse_line(line: &str, line_no: u64) -> Option<(Input, Option<String>)> {
    let text = line.trim();
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    if !text.starts_with('{') {
        return Some((Ok(Request::get(text)), Some(text.to_owned())));
    }
    let parsed: JsonLine = match serde_json::from_str(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Some((
                Err(format!("line {line_no}: not a valid JSON input: {e}")),
                None,
            ));
        }
    };
    let method = match parsed.method.as_deref().map(str::trim) {
        None | Some("") => http::Method::GET,
        Some(name) => match http::Method::from_bytes(name.to_ascii_uppercase().as_bytes()) {
            Ok(method) => method,
            Err(_) => {
                let reason = format!("line {line_no}: not an HTTP method: {name:?}");
                return Some((Err(reason), Some(parsed.url)));
            }
        },
    };
    let mut request = Request::new(method, parsed.url.clone());
    for (name, value) in &parsed.headers {
        // A bad name or value is the request builder's error for this input.
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = parsed.body {
        request = request.body(body);
    }
    Some((Ok(request), Some(parsed.url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Option<(Result<(), String>, Option<String>)> {
        parse_line(line, 7).map(|(input, url)| (input.map(|_| ()), url))
    }

    #[test]
    fn blank_lines_and_comments_hold_no_input() {
        assert!(parse("").is_none());
        assert!(parse("   \t").is_none());
        assert!(parse("# a comment").is_none());
        assert!(parse("  # indented comment").is_none());
    }

    #[test]
    fn urls_and_json_lines_are_inputs() {
        let (input, url) = parse("  http://127.0.0.1:1/a  ").unwrap();
        assert!(input.is_ok());
        assert_eq!(url.as_deref(), Some("http://127.0.0.1:1/a"));
        let (input, url) = parse(
            r#"{"url":"http://127.0.0.1:1/b","method":"post","headers":{"x-a":"1"},"body":"hi"}"#,
        )
        .unwrap();
        assert!(input.is_ok());
        assert_eq!(url.as_deref(), Some("http://127.0.0.1:1/b"));
    }

    #[test]
    fn bad_json_lines_name_their_line() {
        let (input, url) = parse(r#"{"url": "http://127.0.0.1:1/", "#).unwrap();
        let reason = input.unwrap_err();
        assert!(
            reason.starts_with("line 7: not a valid JSON input"),
            "{reason}"
        );
        assert_eq!(url, None);
        let (input, _) = parse(r#"{"url":"http://127.0.0.1:1/","method":"GE T"}"#).unwrap();
        assert!(input.unwrap_err().contains("line 7: not an HTTP method"));
        let (input, _) = parse(r#"{"href":"http://127.0.0.1:1/"}"#).unwrap();
        assert!(input.unwrap_err().contains("unknown field"));
    }
}
