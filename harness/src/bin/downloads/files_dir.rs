//! Where the clients' files go: a tmpfs when there is one with room, so
//! the figures measure the clients rather than ext4 making inodes.
//!
//! Measured on ext4 (`perf record`, 2,000 files of 256 KiB): after a run
//! has removed its thousands of files, each new file costs ext4 a search
//! past every inode freed in the last minute (`recently_deleted`,
//! `find_inode_bit`), half of any client's CPU time then, and it swung the
//! same client's CPU per MiB by 2× from one run to the next. That is
//! kernel time for work all three clients do alike; on tmpfs the same
//! runs agree within a few per cent. `--dir` puts the files anywhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The usual tmpfs of Linux.
const SHM: &str = "/dev/shm";

/// The directory the files go under: `wanted` if given, else `/dev/shm`
/// when it is a tmpfs with `room` bytes free, else the temp directory.
pub fn choose(wanted: Option<PathBuf>, room: u64) -> PathBuf {
    if let Some(dir) = wanted {
        return dir;
    }
    let shm = Path::new(SHM);
    let fits = free_bytes(shm).is_some_and(|free| free >= room);
    if filesystem(shm).as_deref() == Some("tmpfs") && fits {
        shm.to_path_buf()
    } else {
        eprintln!(
            "*** {SHM} is not a tmpfs with {} MiB free: files go to {}, and ext4 (or the like) \
             adds its own noise",
            room >> 20,
            std::env::temp_dir().display()
        );
        std::env::temp_dir()
    }
}

/// The type of the filesystem `path` is on, from /proc/mounts (the
/// longest mount point that holds it).
pub fn filesystem(path: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let path = path.canonicalize().ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

/// Free bytes on the filesystem of `path`, from `df` (POSIX output).
fn free_bytes(path: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(path).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}
