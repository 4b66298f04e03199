//! Resuming a download: where the answer to a `Range` request goes
//! (`placement`, src/download/resume.rs), from its status,
//! `Content-Range` and `Content-Length`.
//!
//! Input: two bytes choosing the status, eight the offset asked from,
//! eight the length the first answer announced, eight the answer's
//! `Content-Length` (its low bit: none), then the `Content-Range` value.
//! Checks, beyond "no panic": a `206` is appended only at the offset
//! asked for, only when its `Content-Range` reads as `bytes first-last/total`
//! running from that offset to the announced end, with a total that is
//! `*` or the announced one, and a `Content-Length` of exactly the rest;
//! a `200` always starts over from 0; a `416` completes the file only
//! when its `*/total` is the offset; the same range written out
//! canonically is judged the same; a range made from the input's numbers
//! is accepted exactly when it is the rest.
#![no_main]

use batch_fetch::fuzzing::download_placement;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 26 {
        return;
    }
    let status = match data[0] % 4 {
        0 => StatusCode::OK,
        1 => StatusCode::PARTIAL_CONTENT,
        2 => StatusCode::RANGE_NOT_SATISFIABLE,
        _ => StatusCode::from_u16(200 + u16::from(data[1] % 100)).unwrap(),
    };
    let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
    let offset = word(2).max(1);
    let total = word(10);
    let length = word(18);
    let length = (length & 1 == 0).then_some(length >> 1);
    let value = &data[26..];

    let got = download_placement(status, value, length, offset, total);
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            if let Ok((at, complete)) = got {
                assert!(!complete);
                assert_eq!(at, offset, "{text:?} appended elsewhere");
                assert_eq!(length, Some(total - offset), "{text:?}: not the rest's length");
                let (unit, rest) = text.split_once(' ').expect("accepted without a unit");
                assert!(unit.eq_ignore_ascii_case("bytes"), "{text:?}");
                let (range, announced) = rest.trim().split_once('/').expect("no total");
                let (first, last) = range.split_once('-').expect("no range");
                assert_eq!(first.parse::<u64>().ok(), Some(offset), "{text:?}");
                let last: u64 = last.parse().expect("last not a number");
                assert_eq!(last.checked_add(1), Some(total), "{text:?}: not to the end");
                if announced != "*" {
                    assert_eq!(announced.parse::<u64>().ok(), Some(total), "{text:?}");
                }
                // Written canonically, judged the same.
                let canonical = format!("bytes {offset}-{last}/{announced}");
                assert_eq!(
                    download_placement(status, canonical.as_bytes(), length, offset, total),
                    got
                );
            }
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            if let Ok((len, complete)) = got {
                assert!(complete, "a 416 body written");
                assert_eq!(len, offset);
            }
        }
        _ => assert_eq!(got, Ok((0, false)), "{status} did not start over"),
    }

    // A range made from the input's numbers, with its own length:
    // accepted exactly when it is the rest of the announced body.
    let first = offset.wrapping_add(u64::from(data[1] % 3)).wrapping_sub(1);
    let last = match data[0] % 3 {
        0 => total.wrapping_sub(1),
        1 => total,
        _ => first.saturating_add(u64::from(data[1])),
    };
    if last < first {
        return;
    }
    let made = format!("bytes {first}-{last}/{total}");
    let span = (last - first).checked_add(1);
    let judged = download_placement(StatusCode::PARTIAL_CONTENT, made.as_bytes(), span, offset, total);
    let is_rest = first == offset && last.checked_add(1) == Some(total);
    assert_eq!(judged.is_ok(), is_rest, "{made}");
});
