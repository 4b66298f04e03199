//! The files' content: a cheap function of (file id, offset), so the server
//! streams any file without holding it and the checker verifies a
//! downloaded file byte for byte without a copy of the source.
//!
//! A file is a sequence of little-endian 8-byte words; word `w` of file
//! `id` is a bijective mix of `w` keyed by the file: two positions of one
//! file never hold the same word, so a splice at the wrong offset, a
//! duplicated or a missing stretch shows, and so does another file's
//! content (another key).

use std::io::Read;
use std::path::Path;

/// A well-mixed 64-bit value of `x` (splitmix64's finaliser): the key of
/// file `x`, and the server's seeded cut offsets.
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Word `w` of the file keyed `key`: xor, an odd multiply and an
/// xorshift, each invertible, so distinct `w` give distinct words.
fn word(key: u64, w: u64) -> u64 {
    let x = (w ^ key).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    x ^ (x >> 32)
}

/// Fills `buf` with the bytes of file `id` from `offset` on.
pub fn fill(id: u64, offset: u64, buf: &mut [u8]) {
    let key = mix64(id);
    let mut pos = offset;
    let mut rest = buf;
    // A leading part word, when `offset` is not word-aligned.
    let skip = (pos % 8) as usize;
    if skip != 0 {
        let bytes = word(key, pos / 8).to_le_bytes();
        let n = (8 - skip).min(rest.len());
        rest[..n].copy_from_slice(&bytes[skip..skip + n]);
        rest = &mut rest[n..];
        pos += n as u64;
    }
    let mut w = pos / 8;
    let mut chunks = rest.chunks_exact_mut(8);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&word(key, w).to_le_bytes());
        w += 1;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&word(key, w).to_le_bytes()[..n]);
    }
}

/// Checks that the file at `path` is exactly the `size` bytes of file `id`;
/// the first difference otherwise.
pub fn verify(path: &Path, id: u64, size: u64) -> Result<(), String> {
    let show = path.display();
    let mut file = std::fs::File::open(path).map_err(|e| format!("{show}: {e}"))?;
    let len = file.metadata().map_err(|e| format!("{show}: {e}"))?.len();
    if len != size {
        return Err(format!("{show}: {len} bytes, expected {size}"));
    }
    const CHUNK: usize = 1 << 20;
    let mut got = vec![0u8; CHUNK];
    let mut want = vec![0u8; CHUNK];
    let mut offset = 0u64;
    while offset < size {
        let n = CHUNK.min((size - offset) as usize);
        file.read_exact(&mut got[..n])
            .map_err(|e| format!("{show}: at byte {offset}: {e}"))?;
        fill(id, offset, &mut want[..n]);
        if got[..n] != want[..n] {
            let at = got[..n]
                .iter()
                .zip(&want[..n])
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(format!(
                "{show}: differs from the source at byte {}",
                offset + at as u64
            ));
        }
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Filling from any offset gives the same bytes as one fill from zero.
    #[test]
    fn fill_is_a_function_of_the_offset() {
        let mut whole = vec![0u8; 100];
        fill(7, 0, &mut whole);
        for start in 0..100 {
            for len in 0..(100 - start) {
                let mut part = vec![0u8; len];
                fill(7, start as u64, &mut part);
                assert_eq!(part, whole[start..start + len], "start {start} len {len}");
            }
        }
    }

    /// Words differ along a file and between files.
    #[test]
    fn words_differ() {
        let mut a = vec![0u8; 8 * 1000];
        let mut b = vec![0u8; 8 * 1000];
        fill(1, 0, &mut a);
        fill(2, 0, &mut b);
        let words = |v: &[u8]| -> std::collections::HashSet<[u8; 8]> {
            v.chunks_exact(8).map(|c| c.try_into().unwrap()).collect()
        };
        assert_eq!(words(&a).len(), 1000);
        assert!(words(&a).is_disjoint(&words(&b)));
    }

    /// A file is verified whole; a changed byte, a short file and another
    /// file's content are each refused.
    #[test]
    fn verify_finds_differences() {
        let dir = std::env::temp_dir().join(format!("dl-content-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut bytes = vec![0u8; 3 << 20];
        fill(5, 0, &mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(verify(&path, 5, bytes.len() as u64), Ok(()));
        assert!(verify(&path, 6, bytes.len() as u64).is_err());
        assert!(verify(&path, 5, bytes.len() as u64 + 1).is_err());
        bytes[(2 << 20) + 3] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = verify(&path, 5, bytes.len() as u64).unwrap_err();
        assert!(
            err.ends_with(&format!("at byte {}", (2 << 20) + 3)),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
