//! The bytes a [`super::FileServer`] serves: a cheap, deterministic
//! function of (path, version, offset), so that a test can check a stored
//! file byte for byte without the server or the test holding the file.
//!
//! Each 4 KiB block of a file is a rotation, by an amount drawn from the
//! block number, of a 4 KiB table drawn from the path and version. Filling
//! is two slice copies per block (fast even unoptimised), and bytes taken
//! from a wrong offset or from another version differ from the expected
//! ones except by a negligible chance: a splice shows.
use std::io::Read;
use std::path::Path;

/// Size of the table and of the blocks.
const BLOCK: usize = 4096;

/// The content of one file version: fills any range of it.
pub struct Content {
    seed: u64,
    table: Vec<u8>,
}

impl Content {
    pub fn new(path: &str, version: u32) -> Content {
        let seed = fnv1a(path.as_bytes()) ^ u64::from(version).wrapping_mul(0xA076_1D64_78BD_642F);
        let mut table = Vec::with_capacity(BLOCK);
        let mut state = seed;
        while table.len() < BLOCK {
            table.extend_from_slice(&splitmix(&mut state).to_le_bytes());
        }
        Content { seed, table }
    }

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut pos = offset;
        let mut out = 0;
        while out < buf.len() {
            let block = pos / BLOCK as u64;
            let mut state = self.seed ^ block.wrapping_mul(0xE703_7ED1_A0B4_28DB);
            let rot = (splitmix(&mut state) % BLOCK as u64) as usize;
            let within = (pos % BLOCK as u64) as usize;
            let n = (BLOCK - within).min(buf.len() - out);
            // Byte `j` of the block is table[(j + rot) % BLOCK]: at most
            // two contiguous runs of the table.
            let start = (within + rot) % BLOCK;
            let first = n.min(BLOCK - start);
            buf[out..out + first].copy_from_slice(&self.table[start..start + first]);
            buf[out + first..out + n].copy_from_slice(&self.table[..n - first]);
            out += n;
            pos += n as u64;
        }
    }

    /// The bytes at `offset..offset + len`.
    pub fn range(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.fill(offset, &mut buf);
        buf
    }
}

/// The whole content of version `version` of `path`, `size` bytes.
pub fn content(path: &str, version: u32, size: u64) -> Vec<u8> {
    Content::new(path, version).range(0, usize::try_from(size).expect("size fits memory"))
}

/// Checks that the file at `disk` holds exactly version `version` of
/// `path` (`size` bytes), reading it in pieces; the error names the first
/// differing offset.
pub fn check_file(disk: &Path, path: &str, version: u32, size: u64) -> Result<(), String> {
    let content = Content::new(path, version);
    let mut file =
        std::fs::File::open(disk).map_err(|e| format!("{}: cannot open: {e}", disk.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len != size {
        return Err(format!(
            "{}: {len} bytes, expected {size} (version {version} of {path})",
            disk.display()
        ));
    }
    let mut got = vec![0; 1 << 16];
    let mut want = vec![0; 1 << 16];
    let mut offset = 0u64;
    while offset < size {
        let n = (size - offset).min(got.len() as u64) as usize;
        file.read_exact(&mut got[..n])
            .map_err(|e| format!("{}: read at {offset}: {e}", disk.display()))?;
        content.fill(offset, &mut want[..n]);
        if got[..n] != want[..n] {
            let at = got[..n]
                .iter()
                .zip(&want[..n])
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(format!(
                "{}: differs from version {version} of {path} at offset {}",
                disk.display(),
                offset + at as u64
            ));
        }
        offset += n as u64;
    }
    Ok(())
}

/// [`check_file`], panicking with its error.
#[track_caller]
pub fn assert_file(disk: &Path, path: &str, version: u32, size: u64) {
    if let Err(e) = check_file(disk, path, version, size) {
        panic!("{e}");
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
