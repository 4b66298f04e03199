//! `Retry-After` parsing (`parse_retry_after`, src/retry/classify.rs).
//!
//! Input: the header value, as bytes. Checks, beyond "no panic":
//! delta-seconds read exactly (saturating) and round-trip through their
//! decimal form; anything else read is an HTTP-date not yet past, whose
//! delay is its distance from "now" and round-trips through `httpdate`'s
//! own formatting; a date already past is ignored; surrounding whitespace
//! changes nothing.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use batch_fetch::fuzzing::retry_after;
use libfuzzer_sys::fuzz_target;

/// Wed, 21 Oct 2015 07:28:00 GMT.
const NOW_SECS: u64 = 1_445_412_480;

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    let got = retry_after(data, now);

    // A delay made up from the input: as seconds and as a date, both
    // read back exactly; a date already past is ignored (taken as "now",
    // it would send every retry at once to a server whose clock is late).
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(data) {
        *w = *b;
    }
    let secs = u64::from_le_bytes(word);
    assert_eq!(
        retry_after(secs.to_string().as_bytes(), now),
        Some(Duration::from_secs(secs))
    );
    let ahead = secs % 1_000_000_000; // within year 2047
    let date = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
    assert_eq!(
        retry_after(date.as_bytes(), now),
        Some(Duration::from_secs(ahead))
    );
    let behind = secs % NOW_SECS;
    let date = httpdate::fmt_http_date(now - Duration::from_secs(behind));
    let want = (behind == 0).then_some(Duration::ZERO);
    assert_eq!(retry_after(date.as_bytes(), now), want, "{date}");

    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        assert_eq!(got, None, "no header, no delay");
        return;
    };

    // What an HTTP/1 parser would hand over with the surrounding
    // whitespace is the same value.
    let mut padded = b" \t".to_vec();
    padded.extend_from_slice(data);
    padded.extend_from_slice(b"\t ");
    assert_eq!(retry_after(&padded, now), got, "padding changed {data:?}");

    let Ok(text) = value.to_str() else {
        assert_eq!(got, None, "opaque bytes read as {got:?}");
        return;
    };
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs = text.parse::<u64>().unwrap_or(u64::MAX);
        assert_eq!(got, Some(Duration::from_secs(secs)), "{text:?}");
        // The decimal form reads back the same, and is the input less its
        // leading zeros unless it saturated.
        let again = retry_after(secs.to_string().as_bytes(), now);
        assert_eq!(again, got, "{secs} does not round-trip");
        let stripped = text.trim_start_matches('0');
        if secs != u64::MAX && !stripped.is_empty() {
            assert_eq!(secs.to_string(), stripped);
        }
        return;
    }
    match (got, httpdate::parse_http_date(text)) {
        (None, Err(_)) => {}
        (None, Ok(when)) => assert!(when < now, "{text:?} ignored"),
        (Some(delay), Ok(when)) => {
            assert_eq!(when.duration_since(now).ok(), Some(delay), "{text:?}");
            // The date formatted anew (IMF-fixdate) gives the same delay.
            let fixdate = httpdate::fmt_http_date(when);
            assert_eq!(retry_after(fixdate.as_bytes(), now), Some(delay));
        }
        (got, parsed) => panic!("{text:?}: read {got:?}, httpdate says {parsed:?}"),
    }
});
