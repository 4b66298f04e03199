//! `--resume FILE`: the inputs an earlier run of the same file finished,
//! read from its lines, so that a worker killed mid-run and started again
//! neither loses nor repeats work.
//!
//! Each line says its input's line number and a hash of that line's text
//! (`"input_hash"`); an input of the new run whose line and hash match a
//! finished line is skipped. A line whose input was cancelled (the run
//! was stopped before it ended) is not finished; a line that does not
//! parse (the torn last line of a killed run) is ignored.

use std::collections::HashSet;
use std::io::{self, BufRead};
use std::path::Path;

use serde::Deserialize;

/// The inputs an earlier run finished: line number and input hash.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    inputs: HashSet<(u64, u64)>,
}

impl Finished {
    /// Whether the input of line `line`, whose text has `hash`, finished.
    pub(crate) fn has(&self, line: u64, hash: u64) -> bool {
        self.inputs.contains(&(line, hash))
    }

    pub(crate) fn len(&self) -> usize {
        self.inputs.len()
    }
}

/// The hash of an input line's text (trimmed): the first 8 bytes of its
/// SHA-256.
pub(crate) fn input_hash(text: &str) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.trim().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// `hash` as its line writes it: 16 hex digits.
pub(crate) fn hash_text(hash: u64) -> String {
    format!("{hash:016x}")
}

/// What a resume reads of a line.
#[derive(Deserialize)]
struct Line {
    line: u64,
    input_hash: String,
    error: Option<LineError>,
}

#[derive(Deserialize)]
struct LineError {
    kind: String,
}

/// Reads the lines of an earlier run from `path`.
pub(crate) fn read(path: &Path) -> io::Result<Finished> {
    let file = std::fs::File::open(path)?;
    let mut finished = Finished::default();
    for text in io::BufReader::new(file).split(b'\n') {
        let text = text?;
        let Ok(line) = serde_json::from_slice::<Line>(&text) else {
            continue;
        };
        if line.error.is_some_and(|e| e.kind == "cancelled") {
            continue;
        }
        if let Ok(hash) = u64::from_str_radix(&line.input_hash, 16) {
            finished.inputs.insert((line.line, hash));
        }
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_lines_count_and_cancelled_or_torn_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("bf-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let a = hash_text(input_hash("http://a.test/"));
        let b = hash_text(input_hash("http://b.test/"));
        let c = hash_text(input_hash("http://c.test/"));
        std::fs::write(
            &path,
            format!(
                "{{\"index\":0,\"line\":1,\"input_hash\":\"{a}\",\"status\":200,\"error\":null}}\n\
                 {{\"index\":1,\"line\":2,\"input_hash\":\"{b}\",\"error\":{{\"kind\":\"cancelled\",\"message\":\"x\"}}}}\n\
                 {{\"index\":2,\"line\":3,\"input_hash\":\"{c}\",\"error\":{{\"kind\":\"connect\",\"message\":\"x\"}}}}\n\
                 {{\"index\":3,\"line\":4,\"input_ha"
            ),
        )
        .unwrap();
        let finished = read(&path).unwrap();
        assert!(finished.has(1, input_hash("http://a.test/")));
        assert!(!finished.has(2, input_hash("http://b.test/")), "cancelled");
        assert!(
            finished.has(3, input_hash("  http://c.test/ ")),
            "an error is a result"
        );
        assert!(
            !finished.has(1, input_hash("http://other.test/")),
            "another input"
        );
        assert_eq!(finished.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
