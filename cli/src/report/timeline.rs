//! The run over time: inputs begun and ended, ok or failed, and retries,
//! counted in bins that widen (two merged into one) whenever the run
//! outgrows them, so a run of any length holds at most [`MAX_BINS`].

/// Most bins kept.
pub(crate) const MAX_BINS: usize = 240;
/// The first bins' width; it doubles as the run gets longer.
const FIRST_WIDTH_MS: f64 = 10.0;

/// What happened within one bin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bin {
    pub(crate) began: u64,
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) retries: u64,
}

impl Bin {
    fn merge(self, other: Bin) -> Bin {
        Bin {
            began: self.began + other.began,
            ok: self.ok + other.ok,
            failed: self.failed + other.failed,
            retries: self.retries + other.retries,
        }
    }
}

pub(crate) struct Timeline {
    width_ms: f64,
    bins: Vec<Bin>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_ms: FIRST_WIDTH_MS,
            bins: Vec::new(),
        }
    }
}

impl Timeline {
    /// The bin holding `at` milliseconds into the run.
    pub(crate) fn at(&mut self, at: f64) -> &mut Bin {
        let at = at.max(0.0);
        while at / self.width_ms >= MAX_BINS as f64 {
            self.widen();
        }
        let i = (at / self.width_ms) as usize;
        if i >= self.bins.len() {
            self.bins.resize(i + 1, Bin::default());
        }
        &mut self.bins[i]
    }

    fn widen(&mut self) {
        self.bins = self
            .bins
            .chunks(2)
            .map(|pair| pair.iter().fold(Bin::default(), |a, &b| a.merge(b)))
            .collect();
        self.width_ms *= 2.0;
    }

    /// Each bin's width, in milliseconds.
    pub(crate) fn width_ms(&self) -> f64 {
        self.width_ms
    }

    pub(crate) fn bins(&self) -> &[Bin] {
        &self.bins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_widens_the_bins_and_keeps_every_count() {
        let mut t = Timeline::default();
        for i in 0..10_000 {
            t.at(f64::from(i)).ok += 1;
        }
        t.at(5.0).failed += 1;
        assert!(t.bins().len() <= MAX_BINS);
        assert!(t.width_ms() >= 10_000.0 / MAX_BINS as f64);
        let ok: u64 = t.bins().iter().map(|b| b.ok).sum();
        assert_eq!(ok, 10_000);
        assert_eq!(t.bins()[0].failed, 1);
        // Bins are contiguous: bin i holds i*width up to (i+1)*width.
        let w = t.width_ms();
        assert_eq!(t.bins()[0].ok, w as u64);
    }
}
