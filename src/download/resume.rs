//! Resuming a download (RFC 9110 §14): what a `200` must say for a later
//! attempt to ask for the rest, the `Range` and `If-Range` of that
//! attempt, and what its answer must say for the rest to be appended.
//!
//! The rules, as curl and aria2 apply them, and stricter where they guess:
//!
//! * resume only after a `200` with `Accept-Ranges: bytes`, a validator
//!   (a strong `ETag`, else `Last-Modified`) and a `Content-Length`, sent
//!   without a `Content-Encoding`: ranges count the bytes as sent, which
//!   are the stored ones only then. (tower-http drops both
//!   `Content-Encoding` and `Content-Length` from a body it decodes, so a
//!   decoded body is never resumed; requiring the length is what tells,
//!   at no cost to other requests, and it is what file servers send);
//! * ask with `If-Range`, so a server whose file changed answers `200`
//!   with the new version whole (which restarts the file) instead of a
//!   range of it that would splice two versions;
//! * append a `206` only if its `Content-Range` runs from where the file
//!   ends to the end of the length the `200` said, its `Content-Length`
//!   is that many bytes, and it is not encoded; anything else restarts;
//! * a `416` whose `Content-Range` says the body is as long as the file
//!   means the file was whole already.

use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED,
    RANGE,
};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::job::{AttemptStart, Validator};

/// The headers of an attempt that asks for the rest, from `start.offset`.
/// An attempt that starts over sends none of them.
pub(crate) fn ask_for_rest(headers: &mut HeaderMap, start: &AttemptStart) {
    let Some(validator) = start.validator.as_ref().filter(|_| start.offset > 0) else {
        return;
    };
    let range = format!("bytes={}-", start.offset);
    headers.insert(
        RANGE,
        HeaderValue::try_from(range).expect("digits are a valid header value"),
    );
    headers.insert(IF_RANGE, validator.if_range.clone());
    // The offset counts stored bytes: ask for the body as stored.
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
}

/// What a `200` allows a later attempt: `None` unless it has
/// `Accept-Ranges: bytes`, a validator and a `Content-Length`, and no
/// `Content-Encoding`.
pub(crate) fn validator(headers: &HeaderMap) -> Option<Validator> {
    if !accepts_byte_ranges(headers) || headers.contains_key(CONTENT_ENCODING) {
        return None;
    }
    let total = content_length(headers)?;
    let strong_etag = headers
        .get(ETAG)
        .filter(|etag| !etag.as_bytes().starts_with(b"W/") && etag.as_bytes().starts_with(b"\""));
    let if_range = strong_etag.or_else(|| headers.get(LAST_MODIFIED))?.clone();
    Some(Validator { if_range, total })
}

/// Where an answer's body goes in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// From byte `at` (0: the whole body; more: the rest after a resume).
    At(u64),
    /// The file was whole already (a `416` saying so): nothing to write.
    Complete(u64),
}

/// Where the body of an answer to `start` goes, or why it cannot be used
/// (the next attempt then starts over).
pub(crate) fn placement(
    status: StatusCode,
    headers: &HeaderMap,
    start: &AttemptStart,
) -> Result<Placement, String> {
    let asked = start.validator.as_ref().filter(|_| start.offset > 0);
    match (status, asked) {
        (StatusCode::PARTIAL_CONTENT, None) => {
            Err("a 206 Partial Content to a request for the whole body".into())
        }
        (StatusCode::PARTIAL_CONTENT, Some(validator)) => {
            let range = headers.get(CONTENT_RANGE);
            let parsed = range.and_then(|v| parse_content_range(v.as_bytes()));
            let rest = validator.total.checked_sub(start.offset);
            match parsed {
                Some(ContentRange::Bytes { first, last, total })
                    if first == start.offset
                        && total.is_none_or(|t| t == validator.total)
                        && last.checked_add(1) == Some(validator.total)
                        && content_length(headers) == rest
                        && !headers.contains_key(CONTENT_ENCODING) =>
                {
                    Ok(Placement::At(first))
                }
                _ => Err(format!(
                    "a 206 with Content-Range {} and Content-Length {} to Range: bytes={}- of {} bytes",
                    shown(range),
                    shown(headers.get(http::header::CONTENT_LENGTH)),
                    start.offset,
                    validator.total
                )),
            }
        }
        (StatusCode::RANGE_NOT_SATISFIABLE, Some(_)) => {
            let range = headers.get(CONTENT_RANGE);
            match range.and_then(|v| parse_content_range(v.as_bytes())) {
                Some(ContentRange::Unsatisfied { total }) if total == start.offset => {
                    Ok(Placement::Complete(total))
                }
                _ => Err(format!(
                    "416 Range Not Satisfiable with Content-Range {} to Range: bytes={}-",
                    shown(range),
                    start.offset
                )),
            }
        }
        _ => Ok(Placement::At(0)),
    }
}

fn shown(value: Option<&HeaderValue>) -> String {
    value.map_or_else(
        || "(none)".to_owned(),
        |v| String::from_utf8_lossy(v.as_bytes()).into_owned(),
    )
}

fn accepts_byte_ranges(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT_RANGES).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|unit| unit.trim_ascii().eq_ignore_ascii_case(b"bytes"))
    })
}

/// The `Content-Length`, when there is one and it is a number.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[derive(Debug, PartialEq, Eq)]
enum ContentRange {
    /// `bytes first-last/total` (`total` `*` when unknown).
    Bytes {
        first: u64,
        last: u64,
        total: Option<u64>,
    },
    /// `bytes */total`.
    Unsatisfied { total: u64 },
}

/// RFC 9110 §14.4.
fn parse_content_range(value: &[u8]) -> Option<ContentRange> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (unit, rest) = value.split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (range, total) = rest.trim().split_once('/')?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if range == "*" {
        return Some(ContentRange::Unsatisfied {
            total: number(total)?,
        });
    }
    let (first, last) = range.split_once('-')?;
    let (first, last) = (number(first)?, number(last)?);
    let total = if total == "*" {
        None
    } else {
        Some(number(total)?)
    };
    if last < first || total.is_some_and(|t| last >= t) {
        return None;
    }
    Some(ContentRange::Bytes { first, last, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn resuming(offset: u64, total: u64) -> AttemptStart {
        AttemptStart {
            generation: 2,
            offset,
            validator: Some(Validator {
                if_range: HeaderValue::from_static("\"v1\""),
                total,
            }),
        }
    }

    #[test]
    fn content_ranges_parse_strictly() {
        assert_eq!(
            parse_content_range(b"bytes 10-99/100"),
            Some(ContentRange::Bytes {
                first: 10,
                last: 99,
                total: Some(100)
            })
        );
        assert_eq!(
            parse_content_range(b"BYTES 0-0/*"),
            Some(ContentRange::Bytes {
                first: 0,
                last: 0,
                total: None
            })
        );
        assert_eq!(
            parse_content_range(b"bytes */100"),
            Some(ContentRange::Unsatisfied { total: 100 })
        );
        for bad in [
            &b"bytes 10-9/100"[..],
            b"bytes 10-100/100",
            b"items 0-1/2",
            b"bytes -1-2/3",
            b"bytes 1-2",
            b"bytes +1-2/3",
            b"bytes 99999999999999999999999-1/2",
            b"",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_a_strong_etag_or_a_date_with_byte_ranges_and_a_length_allows_resuming() {
        let strong = headers(&[
            ("accept-ranges", "bytes"),
            ("etag", "\"abc\""),
            ("last-modified", "Sun, 06 Dec 2026 10:00:00 GMT"),
            ("content-length", "100"),
        ]);
        let v = validator(&strong).unwrap();
        assert_eq!(v.if_range, "\"abc\"");
        assert_eq!(v.total, 100);
        let mut encoded = strong.clone();
        encoded.insert("content-encoding", HeaderValue::from_static("gzip"));
        assert_eq!(validator(&encoded), None, "an encoded body");
        let mut decoded = strong.clone();
        decoded.remove("content-length");
        assert_eq!(validator(&decoded), None, "no length: decoded, or chunked");

        let weak = headers(&[
            ("accept-ranges", "none, Bytes"),
            ("etag", "W/\"abc\""),
            ("last-modified", "Sun, 06 Dec 2026 10:00:00 GMT"),
            ("content-length", "100"),
        ]);
        assert_eq!(
            validator(&weak).unwrap().if_range,
            "Sun, 06 Dec 2026 10:00:00 GMT"
        );
        let weak_only = headers(&[
            ("accept-ranges", "bytes"),
            ("etag", "W/\"abc\""),
            ("content-length", "100"),
        ]);
        assert_eq!(validator(&weak_only), None);
        let no_ranges = headers(&[
            ("accept-ranges", "none"),
            ("etag", "\"abc\""),
            ("content-length", "100"),
        ]);
        assert_eq!(validator(&no_ranges), None);
        let unannounced = headers(&[("etag", "\"abc\""), ("content-length", "100")]);
        assert_eq!(validator(&unannounced), None);
    }

    #[test]
    fn a_resume_asks_for_the_rest_of_the_same_version_as_stored() {
        let mut map = HeaderMap::new();
        ask_for_rest(&mut map, &resuming(1234, 5000));
        assert_eq!(map[RANGE], "bytes=1234-");
        assert_eq!(map[IF_RANGE], "\"v1\"");
        assert_eq!(map[ACCEPT_ENCODING], "identity");

        let mut map = HeaderMap::new();
        ask_for_rest(&mut map, &resuming(0, 5000));
        assert!(map.is_empty(), "nothing stored: the whole body");
    }

    #[test]
    fn only_the_rest_asked_for_is_appended() {
        let start = resuming(40, 100);
        let ok = headers(&[
            ("content-range", "bytes 40-99/100"),
            ("content-length", "60"),
        ]);
        assert_eq!(
            placement(StatusCode::PARTIAL_CONTENT, &ok, &start),
            Ok(Placement::At(40))
        );
        let unknown_total =
            headers(&[("content-range", "bytes 40-99/*"), ("content-length", "60")]);
        assert_eq!(
            placement(StatusCode::PARTIAL_CONTENT, &unknown_total, &start),
            Ok(Placement::At(40))
        );
        for (range, length) in [
            ("bytes 0-99/100", "100"),
            ("bytes 41-99/100", "59"),
            ("bytes 40-199/200", "160"),
            ("bytes 40-89/100", "50"),
            ("bytes 40-99/100", "50"),
            ("nonsense", "60"),
        ] {
            let h = headers(&[("content-range", range), ("content-length", length)]);
            assert!(
                placement(StatusCode::PARTIAL_CONTENT, &h, &start).is_err(),
                "{range} {length}"
            );
        }
        let no_length = headers(&[("content-range", "bytes 40-99/100")]);
        assert!(placement(StatusCode::PARTIAL_CONTENT, &no_length, &start).is_err());
        assert!(placement(StatusCode::PARTIAL_CONTENT, &HeaderMap::new(), &start).is_err());
        let mut encoded = ok.clone();
        encoded.insert("content-encoding", HeaderValue::from_static("gzip"));
        assert!(placement(StatusCode::PARTIAL_CONTENT, &encoded, &start).is_err());
        // The file changed: the new version, whole.
        assert_eq!(
            placement(StatusCode::OK, &HeaderMap::new(), &start),
            Ok(Placement::At(0))
        );
        // Not asked for a range: a 206 is not the body.
        let fresh = AttemptStart {
            generation: 1,
            offset: 0,
            validator: None,
        };
        assert!(placement(StatusCode::PARTIAL_CONTENT, &ok, &fresh).is_err());
    }

    #[test]
    fn a_416_saying_the_file_is_whole_completes_it() {
        let start = resuming(100, 100);
        let whole = headers(&[("content-range", "bytes */100")]);
        assert_eq!(
            placement(StatusCode::RANGE_NOT_SATISFIABLE, &whole, &start),
            Ok(Placement::Complete(100))
        );
        let shorter = headers(&[("content-range", "bytes */50")]);
        assert!(placement(StatusCode::RANGE_NOT_SATISFIABLE, &shorter, &start).is_err());
    }
}
