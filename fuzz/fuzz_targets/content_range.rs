//! Resuming a download: where the answer to a `Range` request goes
//! (`placement`, src/download/resume.rs), from its status and
//! `Content-Range`.
//!
//! Input: two bytes choosing the status, eight the offset asked from,
//! eight the total the first answer announced (0: none), then the
//! `Content-Range` value. Checks, beyond "no panic": a `206` is appended
//! only at the offset asked for, only when its `Content-Range` reads as
//! `bytes first-last/total` with that first byte and a total agreeing
//! with the announced one; a `200` always starts over from 0; a `416`
//! completes the file only when its `*/total` is the offset; the same
//! range written out canonically is judged the same.
#![no_main]

use batch_fetch::fuzzing::download_placement;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 18 {
        return;
    }
    let status = match data[0] % 4 {
        0 => StatusCode::OK,
        1 => StatusCode::PARTIAL_CONTENT,
        2 => StatusCode::RANGE_NOT_SATISFIABLE,
        _ => StatusCode::from_u16(200 + u16::from(data[1] % 100)).unwrap(),
    };
    let offset = u64::from_le_bytes(data[2..10].try_into().unwrap()).max(1);
    let total = u64::from_le_bytes(data[10..18].try_into().unwrap());
    let total = (total != 0).then_some(total);
    let value = &data[18..];

    let got = download_placement(status, value, offset, total);
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            if let Ok((at, complete)) = got {
                assert!(!complete);
                assert_eq!(at, offset, "{text:?} appended elsewhere");
                let (unit, rest) = text.split_once(' ').expect("accepted without a unit");
                assert!(unit.eq_ignore_ascii_case("bytes"), "{text:?}");
                let (range, announced) = rest.trim().split_once('/').expect("no total");
                let (first, last) = range.split_once('-').expect("no range");
                assert_eq!(first.parse::<u64>().ok(), Some(offset), "{text:?}");
                let last: u64 = last.parse().expect("last not a number");
                assert!(last >= offset);
                if announced != "*" {
                    let announced: u64 = announced.parse().expect("total not a number");
                    assert!(last < announced, "{text:?}");
                    if let Some(total) = total {
                        assert_eq!(announced, total, "{text:?}: another version's length");
                    }
                }
                // Written canonically, judged the same.
                let canonical = format!("bytes {offset}-{last}/{announced}");
                assert_eq!(
                    download_placement(status, canonical.as_bytes(), offset, total),
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

    // A range made from the input's numbers: accepted exactly when it
    // starts at the offset and fits the announced total.
    let first = offset.wrapping_add(u64::from(data[1] % 3)).wrapping_sub(1);
    let last = first.saturating_add(u64::from(data[0]));
    let made = match total {
        Some(t) => format!("bytes {first}-{last}/{t}"),
        None => format!("bytes {first}-{last}/*"),
    };
    let judged = download_placement(StatusCode::PARTIAL_CONTENT, made.as_bytes(), offset, total);
    let fits = total.is_none_or(|t| last < t);
    assert_eq!(judged.is_ok(), first == offset && fits, "{made}");
});
