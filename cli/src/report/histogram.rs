//! Latencies counted in logarithmic buckets (ten a decade, from 0.1 ms to
//! 1,000 s), each split by outcome: fixed memory whatever the count.

/// The outcome classes a bar is split into, in stacking order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A response below 400.
    Ok,
    /// A 4xx response.
    Client,
    /// A 5xx response.
    Server,
    /// No response: an error.
    Error,
}

impl Class {
    pub(crate) const ALL: [Class; 4] = [Class::Ok, Class::Client, Class::Server, Class::Error];

    /// The class of a status code, or of an error (`None`).
    pub(crate) fn of(status: Option<u16>) -> Class {
        match status {
            Some(0..=399) => Class::Ok,
            Some(400..=499) => Class::Client,
            Some(_) => Class::Server,
            None => Class::Error,
        }
    }

    /// Its CSS class.
    pub(crate) fn css(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::Client => "c4xx",
            Class::Server => "c5xx",
            Class::Error => "err",
        }
    }

    /// What the legend says.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Class::Ok => "1xx–3xx",
            Class::Client => "4xx",
            Class::Server => "5xx",
            Class::Error => "error",
        }
    }
}

const FLOOR_MS: f64 = 0.1;
const PER_DECADE: f64 = 10.0;
/// 0.1 ms to 1,000 s; longer goes in the last bucket.
const BUCKETS: usize = 70;

/// Counts by bucket and class.
pub(crate) struct Histogram {
    counts: Vec<[u64; 4]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![[0; 4]; BUCKETS],
        }
    }
}

impl Histogram {
    pub(crate) fn add(&mut self, ms: f64, class: Class) {
        self.counts[bucket(ms)][class as usize] += 1;
    }

    /// The buckets from the first to the last that holds a count, each
    /// with its bounds in milliseconds and its counts by class.
    pub(crate) fn used(&self) -> Vec<((f64, f64), [u64; 4])> {
        let filled = |c: &&[u64; 4]| c.iter().any(|&n| n > 0);
        let (Some(first), Some(last)) = (
            self.counts.iter().position(|c| filled(&c)),
            self.counts.iter().rposition(|c| filled(&c)),
        ) else {
            return Vec::new();
        };
        (first..=last)
            .map(|i| (bounds(i), self.counts[i]))
            .collect()
    }
}

fn bucket(ms: f64) -> usize {
    // NaN too.
    if ms.is_nan() || ms <= FLOOR_MS {
        return 0;
    }
    ((ms / FLOOR_MS).log10() * PER_DECADE)
        .floor()
        .min((BUCKETS - 1) as f64) as usize
}

/// The bucket's span; the first starts at 0 and the last has no end.
fn bounds(i: usize) -> (f64, f64) {
    let edge = |i: usize| FLOOR_MS * 10f64.powf(i as f64 / PER_DECADE);
    let low = if i == 0 { 0.0 } else { edge(i) };
    let high = if i == BUCKETS - 1 {
        f64::INFINITY
    } else {
        edge(i + 1)
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_falls_in_the_bucket_whose_bounds_hold_it() {
        for ms in [
            0.0, 0.05, 0.1, 0.13, 1.0, 7.5, 99.0, 100.0, 12_345.0, 999_999.0,
        ] {
            let (low, high) = bounds(bucket(ms));
            assert!(low <= ms && ms < high * 1.000_001, "{ms} in {low}..{high}");
        }
        assert_eq!(bucket(f64::NAN), 0);
        assert_eq!(bucket(1e12), BUCKETS - 1);
    }

    #[test]
    fn used_spans_first_to_last_filled_bucket() {
        let mut h = Histogram::default();
        assert!(h.used().is_empty());
        h.add(1.0, Class::Ok);
        h.add(1.0, Class::Error);
        h.add(100.0, Class::Server);
        let used = h.used();
        // 1 ms to 100 ms is two decades: 21 buckets.
        assert_eq!(used.len(), 21);
        assert_eq!(used[0].1, [1, 0, 0, 1]);
        assert_eq!(used[20].1, [0, 0, 1, 0]);
        assert_eq!(Class::of(Some(302)), Class::Ok);
        assert_eq!(Class::of(Some(404)), Class::Client);
        assert_eq!(Class::of(Some(503)), Class::Server);
        assert_eq!(Class::of(None), Class::Error);
    }
}
