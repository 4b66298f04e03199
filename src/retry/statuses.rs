//! The set of statuses a retry policy retries, compact and `Copy` so the
//! policy stays a plain value.

use std::fmt;

use http::StatusCode;

/// Status codes 100 to 999, one bit each.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StatusSet([u64; 15]);

impl StatusSet {
    /// The set of `codes` (each from 100 to 999).
    pub(crate) const fn of(codes: &[u16]) -> Self {
        let mut bits = [0u64; 15];
        let mut i = 0;
        while i < codes.len() {
            let (word, mask) = Self::place(codes[i]);
            bits[word] |= mask;
            i += 1;
        }
        StatusSet(bits)
    }

    pub(crate) fn insert(&mut self, status: StatusCode) {
        let (word, mask) = Self::place(status.as_u16());
        self.0[word] |= mask;
    }

    pub(crate) fn contains(&self, status: StatusCode) -> bool {
        let (word, mask) = Self::place(status.as_u16());
        self.0[word] & mask != 0
    }

    /// Where `code`'s bit is: its word, and the mask within it.
    const fn place(code: u16) -> (usize, u64) {
        let bit = (code - 100) as usize;
        (bit / 64, 1 << (bit % 64))
    }

    fn codes(&self) -> impl Iterator<Item = u16> + '_ {
        (100..=999)
            .filter(|code| StatusCode::from_u16(*code).is_ok_and(|status| self.contains(status)))
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.codes()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_what_was_put_in() {
        let mut set = StatusSet::of(&[100, 429, 999]);
        set.insert(StatusCode::INTERNAL_SERVER_ERROR);
        for code in 100..=999u16 {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                set.contains(status),
                [100, 429, 500, 999].contains(&code),
                "{code}"
            );
        }
        assert_eq!(format!("{set:?}"), "{100, 429, 500, 999}");
    }
}
