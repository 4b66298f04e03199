//! Which of `n` workers an input belongs to, by its origin: the key that
//! spreads a crawl over machines (or Spark partitions, or the members of
//! a consumer group) so that every input of one origin goes to one
//! worker, and per-host limits and rates stay whole without any state
//! shared between workers.
//!
//! The shard is the same on every run, machine, platform and version of
//! the crate, and simple to compute elsewhere:
//!
//! 1. The input is read as a URL the way requests read it (WHATWG: host
//!    lowercased, an internationalised host in punycode). Its *origin key*
//!    is `scheme://host:port`, the port always written (`80` for `http`,
//!    `443` for `https` when the URL has none). An input that is not such
//!    a URL keys by its own text, trimmed of spaces.
//! 2. The key's UTF-8 bytes are hashed with 64-bit FNV-1a (offset basis
//!    `0xcbf29ce484222325`, prime `0x100000001b3`).
//! 3. The hash picks one of `n` shards with Lamping and Veach's jump
//!    consistent hash ("A Fast, Minimal Memory, Consistent Hash
//!    Algorithm", 2014), in IEEE 754 double arithmetic as published: going
//!    from `n` to `n + 1` workers moves only the origins that the new
//!    worker takes.
//!
//! ```
//! use std::num::NonZeroU32;
//! use batch_fetch::{origin_key, origin_shard};
//!
//! let n = NonZeroU32::new(8).unwrap();
//! assert_eq!(origin_key("HTTP://Example.COM/a?b"), "http://example.com:80");
//! // Every input of one origin goes to one shard.
//! assert_eq!(
//!     origin_shard("http://example.com/a", n),
//!     origin_shard("http://example.com:80/other", n),
//! );
//! assert!(origin_shard("https://example.com/", n) < 8);
//! ```

use std::num::NonZeroU32;

use url::Url;

/// The origin key of `input` (see the [module](self) documentation):
/// `scheme://host:port` for a URL with a host, else `input` trimmed.
pub fn origin_key(input: &str) -> String {
    let text = input.trim();
    let Ok(url) = Url::parse(text) else {
        return text.to_owned();
    };
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        _ => text.to_owned(),
    }
}

/// The shard, from `0` to `shards - 1`, that `input` belongs to: the same
/// for every input of one origin (see the [module](self) documentation
/// for how it is computed).
pub fn origin_shard(input: &str, shards: NonZeroU32) -> u32 {
    jump_consistent_hash(fnv1a_64(origin_key(input).as_bytes()), shards.get())
}

/// 64-bit FNV-1a.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Lamping and Veach's jump consistent hash of `key` into `buckets`.
fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut bucket, mut jump) = (-1i64, 0i64);
    while jump < i64::from(buckets) {
        bucket = jump;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        jump = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(shards: u32) -> NonZeroU32 {
        NonZeroU32::new(shards).unwrap()
    }

    #[test]
    fn fnv1a_matches_its_published_test_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn one_origin_is_one_key_however_it_is_written() {
        for input in [
            "http://example.com",
            "http://example.com/",
            "HTTP://EXAMPLE.com:80/a/b?c#d",
            "  http://example.com/x y  ",
        ] {
            assert_eq!(origin_key(input), "http://example.com:80", "{input}");
        }
        assert_eq!(
            origin_key("https://example.com/"),
            "https://example.com:443"
        );
        assert_eq!(
            origin_key("http://example.com:8080/"),
            "http://example.com:8080"
        );
        assert_eq!(
            origin_key("http://bücher.test/"),
            "http://xn--bcher-kva.test:80"
        );
        assert_eq!(origin_key("http://[::1]:9/"), "http://[::1]:9");
        assert_eq!(origin_key(" not a url "), "not a url");
    }

    #[test]
    fn a_shard_is_pinned_for_good() {
        // These values are a promise: workers of different versions and
        // machines must agree. Change them only with a major version. They
        // were computed apart, by the few lines of Python in
        // docs/sharding.md.
        let pinned = [
            ("http://example.com/", 16, 11),
            ("https://example.com/", 16, 6),
            ("http://127.0.0.1:8080/a", 16, 11),
            ("http://bücher.test/", 1000, 124),
            ("not a url", 3, 0),
        ];
        for (input, shards, want) in pinned {
            assert_eq!(origin_shard(input, n(shards)), want, "{input} of {shards}");
        }
    }

    #[test]
    fn one_shard_takes_everything_and_shards_are_spread() {
        assert_eq!(origin_shard("http://a.test/", n(1)), 0);
        let mut counts = [0u32; 8];
        for i in 0..8000 {
            counts[origin_shard(&format!("http://host{i}.test/"), n(8)) as usize] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn one_more_shard_moves_only_what_it_takes() {
        for i in 0..2000 {
            let input = format!("http://host{i}.test/");
            let before = origin_shard(&input, n(10));
            let after = origin_shard(&input, n(11));
            assert!(
                after == before || after == 10,
                "{input}: {before} -> {after}"
            );
        }
    }
}
