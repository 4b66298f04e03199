//! A file replaced whole or not at all: written under a temporary name in
//! the same directory, then renamed over the old one, so a run killed
//! half-way leaves the previous file as it was, never an empty or a cut
//! one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The new content of `path`, on its way.
pub(crate) struct Replacement {
    path: PathBuf,
    temporary: PathBuf,
    file: Option<File>,
}

impl Replacement {
    /// Makes the temporary file now, so a directory that cannot be
    /// written is known before any work is done.
    ///
    /// # Errors
    ///
    /// When the temporary file cannot be made.
    pub(crate) fn start(path: &Path) -> io::Result<Self> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        // Hidden, and named for this process, so two runs do not share it.
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(".{}.tmp", std::process::id()));
        let temporary = path.with_file_name(temporary_name);
        let file = File::create(&temporary)?;
        Ok(Replacement {
            path: path.to_owned(),
            temporary,
            file: Some(file),
        })
    }

    /// The temporary file's path: for a process ending without
    /// unwinding, to remove it.
    pub(crate) fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// Writes `content` and puts it in the file's place.
    ///
    /// # Errors
    ///
    /// When it cannot be written or renamed; the old file is then as it
    /// was.
    pub(crate) fn commit(mut self, content: &[u8]) -> io::Result<()> {
        let mut file = self.file.take().expect("committed once");
        file.write_all(content)?;
        // On disk before the rename, so the name never points at less.
        file.sync_data()?;
        drop(file);
        fs::rename(&self.temporary, &self.path)
    }
}

impl Drop for Replacement {
    fn drop(&mut self) {
        // Renamed away on success; left over only on failure.
        let _ = fs::remove_file(&self.temporary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_file_stays_until_the_new_one_is_whole() {
        let dir = std::env::temp_dir().join(format!("batch-fetch-replace-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.html");
        fs::write(&path, "old").unwrap();

        let abandoned = Replacement::start(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        drop(abandoned);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");

        Replacement::start(&path).unwrap().commit(b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left");
        fs::remove_dir_all(&dir).unwrap();
    }
}
