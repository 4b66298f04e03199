//! A uniform random sample of bounded size from a stream of unknown
//! length (reservoir sampling, Vitter's algorithm R), so the waterfall of
//! a ten-million-line run holds a few thousand rows, not ten million.

use tower::util::rng::{HasherRng, Rng};

/// Up to `cap` items, each of those offered so far equally likely to be
/// among them.
pub(crate) struct Reservoir<T> {
    cap: usize,
    seen: u64,
    kept: Vec<T>,
    /// Seeded from the standard library's per-process random keys, as the
    /// library's retry jitter is.
    rng: HasherRng,
}

impl<T> Reservoir<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Reservoir {
            cap,
            seen: 0,
            kept: Vec::with_capacity(cap.min(4096)),
            rng: HasherRng::new(),
        }
    }

    /// Offers the next item; `make` runs only when it is kept, so an item
    /// left out costs nothing to build.
    pub(crate) fn offer(&mut self, make: impl FnOnce() -> T) {
        self.seen += 1;
        if self.kept.len() < self.cap {
            self.kept.push(make());
        } else {
            let slot = below(&mut self.rng, self.seen);
            if slot < self.cap as u64 {
                self.kept[slot as usize] = make();
            }
        }
    }

    /// How many items were offered.
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample, in no particular order, taken out (it is left empty).
    pub(crate) fn take_kept(&mut self) -> Vec<T> {
        std::mem::take(&mut self.kept)
    }
}

/// Uniform in `0..n`, by Lemire's multiply-shift (the bias is below 2^-32
/// for the counts of a batch).
fn below(rng: &mut impl Rng, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_up_to_its_cap() {
        let mut r = Reservoir::new(10);
        for i in 0..7 {
            r.offer(|| i);
        }
        assert_eq!(r.seen(), 7);
        assert_eq!(r.take_kept(), (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn past_its_cap_every_item_is_about_equally_likely() {
        // 2,000 runs of 100 items into 10 slots: each item is kept in
        // about 200 runs (binomial, sd 13.4; the bounds are 6 sd).
        let mut kept = [0u32; 100];
        for _ in 0..2000 {
            let mut r = Reservoir::new(10);
            for i in 0..100usize {
                r.offer(|| i);
            }
            assert_eq!(r.seen(), 100);
            let sample = r.take_kept();
            assert_eq!(sample.len(), 10);
            for i in sample {
                kept[i] += 1;
            }
        }
        for (item, &n) in kept.iter().enumerate() {
            assert!((120..=280).contains(&n), "item {item} kept {n} times");
        }
    }

    #[test]
    fn an_item_left_out_is_never_built() {
        let mut r = Reservoir::new(1);
        let mut built = 0;
        for _ in 0..1000 {
            r.offer(|| built += 1);
        }
        // The first is always built; each later one with chance 1/n.
        assert!(built < 50, "built {built} of 1000");
    }
}
