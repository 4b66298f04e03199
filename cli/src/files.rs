//! `--output-dir`: each body in a file of its own, named from the input's
//! index and a sanitized name, and never outside the directory.
//!
//! The name is made here, before the request, from the input's URL as
//! written (its last path segment, or its host; as `curl -O` does) reduced
//! to `[A-Za-z0-9._-]`: no separator, no `..`, no leading dot can come
//! through, whatever the URL says. Response headers (`Content-Disposition`
//! included) and redirects are not consulted.
//!
//! The library writes the body to `<file>.part` (and, with `--continue`,
//! what resuming it needs to `<file>.part.meta`) and renames it onto the
//! file once whole. The rename replaces whatever name is at the file's
//! path, a symbolic link included, and never writes through it; the files
//! beside it, though, are opened by name, so where one of them is a link
//! (or anything but a plain file) the input is refused here rather than
//! the link followed.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The longest name part kept after the index.
const MAX_NAME: usize = 64;

/// The files the library writes beside the file, by opening their name:
/// the partial file, and what a later run needs to resume it.
const BESIDE: [&str; 2] = [".part", ".part.meta"];

/// The file name for input `index` fetched from `url`, as written.
pub(crate) fn file_name(index: usize, url: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(last_segment(url)).decode_utf8_lossy();
    let mut name: String = decoded
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME)
        .collect();
    // No hidden files, no "." or "..".
    let trimmed = name.trim_start_matches('.').len();
    name.drain(..name.len() - trimmed);
    if name.is_empty() {
        format!("{index:08}")
    } else {
        format!("{index:08}-{name}")
    }
}

/// The last non-empty path segment of a URL as written, or its host
/// (without credentials or port). Read from the text, leniently, as the
/// library's WHATWG parser reads `http:` URLs (a backslash is a slash, the slashes
/// after the scheme may be missing): whatever it returns is sanitized.
fn last_segment(url: &str) -> &str {
    let url = url.trim();
    let url = url.split('#').next().unwrap_or(url);
    let url = url.split('?').next().unwrap_or(url);
    let rest = match url.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            rest
        }
        _ => url,
    };
    let rest = rest.trim_start_matches(['/', '\\']);
    let (authority, path) = rest.split_at(rest.find(['/', '\\']).unwrap_or(rest.len()));
    if let Some(segment) = path.rsplit(['/', '\\']).find(|s| !s.is_empty()) {
        return segment;
    }
    let host = authority.rsplit('@').next().unwrap_or(authority);
    match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.split(':').next().unwrap_or(host),
    }
}

/// What to do for the input whose body goes to `path`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Prepared {
    /// Send the request.
    Fetch,
    /// Send nothing: a plain file is there (`--continue`), `bytes` long.
    Kept { bytes: u64 },
    /// Send nothing: the place of a file the library writes beside it
    /// holds something that is not a plain file (a symbolic link, a
    /// directory, a FIFO); why.
    Unwritable(String),
}

/// Decides for the input whose body goes to `path`: kept when
/// `keep_complete` and a plain file is there (a file at the path is whole:
/// the library renames only whole ones onto it); else fetched, unless a
/// file beside it would be opened through a link. Blocking: a few
/// `lstat`s.
pub(crate) fn prepare(path: &Path, keep_complete: bool) -> Prepared {
    if keep_complete
        && let Ok(meta) = fs::symlink_metadata(path)
        && meta.is_file()
    {
        return Prepared::Kept { bytes: meta.len() };
    }
    for suffix in BESIDE {
        let beside = with_suffix(path, suffix);
        if let Ok(meta) = fs::symlink_metadata(&beside)
            && !meta.is_file()
        {
            return Prepared::Unwritable(format!(
                "{} exists and is not a plain file (a link is not followed)",
                beside.display()
            ));
        }
    }
    Prepared::Fetch
}

/// `path` with `suffix` added to its name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The SHA-256 of the file at `path` (of a kept file: a downloaded one's
/// comes from the library, taken while it was written).
///
/// # Errors
///
/// When the file cannot be read.
pub(crate) fn sha256(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = fs::File::open(path)?;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0; 128 << 10];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => digest.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut sha = [0; 32];
    sha.copy_from_slice(digest.finish().as_ref());
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(url: &str) -> String {
        file_name(7, url)
    }

    #[test]
    fn names_come_from_the_last_segment_made_safe() {
        assert_eq!(name("http://h.test/a/report.pdf"), "00000007-report.pdf");
        assert_eq!(name("http://h.test/a/b/"), "00000007-b");
        assert_eq!(name("http://h.test/"), "00000007-h.test");
        assert_eq!(name("http://h.test/caf%C3%A9%20menu"), "00000007-caf__menu");
        assert_eq!(
            name("http://h.test/..%2F..%2Fetc%2Fpasswd"),
            "00000007-_.._etc_passwd"
        );
        assert_eq!(name("http://h.test/%2e%2e"), "00000007");
        assert_eq!(name("http://h.test/.hidden"), "00000007-hidden");
        assert_eq!(name("http://h.test/a%00b"), "00000007-a_b");
        let long = format!("http://h.test/{}", "x".repeat(500));
        assert_eq!(name(&long).len(), 9 + MAX_NAME);
    }

    #[test]
    fn names_come_from_the_url_as_written() {
        assert_eq!(name("http://h.test/f.zip?v=1#top"), "00000007-f.zip");
        assert_eq!(name("http://h.test/d/?next=/x/y.bin"), "00000007-d");
        assert_eq!(name("  https://h.test/a/b.tar.gz "), "00000007-b.tar.gz");
        assert_eq!(name("http:\\\\h.test\\d\\f.txt"), "00000007-f.txt");
        assert_eq!(name("http:h.test/f.txt"), "00000007-f.txt");
        assert_eq!(name("http://u:secret@h.test:8080"), "00000007-h.test");
        assert_eq!(name("http://u:secret@h.test:8080/?q"), "00000007-h.test");
        assert_eq!(name("http://[::1]:8080/"), "00000007-__1");
        assert_eq!(name("http://h.test/a/../.."), "00000007");
        assert_eq!(name("not a url"), "00000007-not_a_url");
        assert_eq!(name(""), "00000007");
    }

    #[test]
    fn only_a_plain_file_is_kept_and_a_linked_partial_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("batch-fetch-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("00000000-a");
        assert_eq!(prepare(&path, true), Prepared::Fetch);
        fs::write(&path, "whole").unwrap();
        assert_eq!(prepare(&path, true), Prepared::Kept { bytes: 5 });
        assert_eq!(prepare(&path, false), Prepared::Fetch, "replaced");

        let elsewhere = dir.join("elsewhere");
        fs::write(&elsewhere, "keep").unwrap();
        let linked = dir.join("00000001-b");
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        assert_eq!(
            prepare(&linked, true),
            Prepared::Fetch,
            "a link is not kept"
        );
        std::os::unix::fs::symlink(&elsewhere, with_suffix(&linked, ".part")).unwrap();
        assert!(matches!(prepare(&linked, false), Prepared::Unwritable(_)));
        let meta_linked = dir.join("00000002-c");
        std::os::unix::fs::symlink(&elsewhere, with_suffix(&meta_linked, ".part.meta")).unwrap();
        assert!(matches!(
            prepare(&meta_linked, true),
            Prepared::Unwritable(_)
        ));
        let part_dir = dir.join("00000003-d");
        fs::create_dir(with_suffix(&part_dir, ".part")).unwrap();
        assert!(matches!(prepare(&part_dir, true), Prepared::Unwritable(_)));
        fs::write(with_suffix(&part_dir, ".part.meta"), "").unwrap();

        assert_eq!(
            hex(&sha256(&elsewhere).unwrap()),
            // printf keep | sha256sum
            "6ca7ea2feefc88ecb5ed6356ed963f47dc9137f82526fdd25d618ea626d0803f"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    fn hex(bytes: &[u8]) -> String {
        crate::output::hex(bytes)
    }
}
