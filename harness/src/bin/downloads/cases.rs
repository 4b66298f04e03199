//! The download cases of issue 19, full and quick.

const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

/// One batch of downloads, as every client runs it.
#[derive(Clone, Debug)]
pub struct Case {
    /// Its name for `--only`.
    pub key: &'static str,
    /// Files.
    pub n: usize,
    /// Bytes per file.
    pub size: u64,
    /// In flight at most.
    pub c: usize,
    /// Every file's first transfer is cut at a random offset.
    pub cut: bool,
}

impl Case {
    /// Bytes in all the files.
    pub fn total_bytes(&self) -> u64 {
        self.n as u64 * self.size
    }

    /// `100 × 20 MiB, 20 in flight`.
    pub fn title(&self) -> String {
        format!(
            "{} × {}, {} in flight{}",
            self.n,
            show_size(self.size),
            self.c,
            if self.cut {
                ", every transfer cut once"
            } else {
                ""
            }
        )
    }
}

/// `20 MiB`, `256 KiB`, `1,000 B`.
pub fn show_size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

/// The cases, in the order they run. `rss-small` and `rss-large` differ
/// only in file size (the check that memory does not grow with it).
pub fn cases(quick: bool) -> Vec<Case> {
    let case = |key, n, size, c, cut| Case {
        key,
        n,
        size,
        c,
        cut,
    };
    if quick {
        vec![
            case("large", 10, 2 * MIB, 20, false),
            case("small", 100, 64 * KIB, 100, false),
            case("rss-small", 10, MIB, 5, false),
            case("rss-large", 10, 10 * MIB, 5, false),
            case("cut", 10, 2 * MIB, 10, true),
        ]
    } else {
        vec![
            case("large", 100, 20 * MIB, 20, false),
            case("small", 2_000, 256 * KIB, 100, false),
            case("rss-small", 20, MIB, 10, false),
            case("rss-large", 20, 100 * MIB, 10, false),
            case("cut", 100, 4 * MIB, 20, true),
        ]
    }
}
