//! `--output-dir`: each body in a file of its own, named from the input's
//! index and a sanitized name, and never outside the directory.
//!
//! The name is made here, from the final URL's last path segment (or its
//! host) reduced to `[A-Za-z0-9._-]`: no separator, no `..`, no leading
//! dot can come through, whatever the URL says. Response headers
//! (`Content-Disposition` included) are not consulted. A file is created
//! new; one already there from an earlier run is replaced only if it is a
//! plain file, never followed if it is a symbolic link.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use http::Uri;

/// The longest name part kept after the index.
const MAX_NAME: usize = 64;

/// The file name for input `index` answered from `url`.
pub(crate) fn file_name(index: usize, url: &Uri) -> String {
    let segment = url
        .path()
        .rsplit('/')
        .find(|s| !s.is_empty())
        .or_else(|| url.host())
        .unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
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

/// Writes `body` to `dir/name` and returns the path.
///
/// # Errors
///
/// When the file cannot be made, or something that is not a plain file
/// (a symbolic link, a directory) is in its place.
pub(crate) fn write_body(dir: &Path, name: &str, body: &[u8]) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(&path)?;
            if !meta.file_type().is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a plain file", path.display()),
                ));
            }
            fs::remove_file(&path)?;
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?
        }
        Err(e) => return Err(e),
    };
    file.write_all(body)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(url: &str) -> String {
        file_name(7, &url.parse().unwrap())
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
}
