//! The response limits of the body-collecting layer
//! (src/layers/collect.rs: `check_head`, `content_length`, the body limit),
//! on a response as a connection would hand it over.
//!
//! Input: three bytes of limits (`max_response_headers` = the first,
//! `max_response_header_size` = 8 × the second, `max_body_size` = 4 × the
//! third), then header lines `name: value` up to an empty line, then the
//! body. Lines that are no valid header field are left out, as hyper would
//! have refused them.
//!
//! Checks, beyond "no panic": the head is refused (`HeadersTooLarge`)
//! exactly when it has more fields, or more bytes (name, value and 4 per
//! field), than allowed; an announced `Content-Length` over the body limit,
//! or a longer body, is `BodyTooLarge`; anything else comes back whole.
#![no_main]

use batch_fetch::ErrorKind;
use batch_fetch::fuzzing::{CollectLimits, collect};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((limits, rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let limits = CollectLimits {
        max_headers: usize::from(limits[0]),
        max_header_bytes: usize::from(limits[1]) * 8,
        max_body_size: usize::from(limits[2]) * 4,
    };

    let mut headers = HeaderMap::new();
    let mut rest = rest;
    let body = loop {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break after;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = HeaderName::from_bytes(&line[..colon]);
            let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
        if after.is_empty() {
            break after;
        }
        rest = after;
    };

    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        // One over u64::MAX reads as none: hyper refuses such a head first.
        .and_then(|s| s.parse::<u64>().ok());

    let result = collect(headers.clone(), Bytes::copy_from_slice(body), limits);

    let head_too_large = count > limits.max_headers || bytes > limits.max_header_bytes;
    if head_too_large {
        assert_eq!(
            result.err(),
            Some(ErrorKind::HeadersTooLarge),
            "{count} fields, {bytes} bytes, {limits:?}"
        );
        return;
    }
    let over = announced.is_some_and(|len| len > limits.max_body_size as u64)
        || body.len() > limits.max_body_size;
    match result {
        Ok(res) => {
            assert!(
                !over,
                "{announced:?} / {} bytes over {limits:?}",
                body.len()
            );
            assert_eq!(res.body().as_ref(), body);
            assert_eq!(res.headers(), &headers);
        }
        Err(kind) => {
            assert_eq!(kind, ErrorKind::BodyTooLarge, "{limits:?}");
            // Refused for its size, so over the limit one way or another
            // (a Content-Length such as `+5` counts too).
            let lenient = headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .is_some_and(|len| len > limits.max_body_size as u64);
            assert!(
                over || lenient,
                "{announced:?} / {} bytes, {limits:?}",
                body.len()
            );
        }
    }
});
