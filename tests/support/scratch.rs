//! [`Scratch`]: a directory of its own for a test's files, removed on drop.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under cargo's temporary directory for integration
/// tests (`target/tmp`, on disk: a large download does not fill a tmpfs
/// `/tmp`), removed with its contents on drop.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A new, empty directory whose name starts with `label`.
    pub fn new(label: &str) -> Scratch {
        Scratch::under(Path::new(env!("CARGO_TARGET_TMPDIR")), label)
    }

    /// A new, empty directory in `root` whose name starts with `label`.
    pub fn under(root: &Path, label: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = root.join(format!("{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `name` inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.join(name)
    }

    /// Every file under the directory (recursively), sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        // Bounded by what the test created.
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(path);
                } else {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    /// The files under the directory whose name ends in `.part`.
    pub fn part_files(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "part"))
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A read-only subdirectory made by a test must not keep its files.
        make_writable(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(unix)]
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(entry.path());
            }
        }
    }
}

#[cfg(not(unix))]
fn make_writable(_: &Path) {}
