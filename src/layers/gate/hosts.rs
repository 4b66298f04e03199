//! The table of per-origin semaphores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// One semaphore per origin, created on first use and forgotten once no
/// request holds or waits on it, so a batch over a million hosts does not
/// keep a million entries.
#[derive(Debug)]
pub(super) struct Hosts {
    max_per_host: usize,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    semaphores: HashMap<String, Arc<Semaphore>>,
    /// Size at which idle entries are next swept out.
    sweep_at: usize,
}

const MIN_SWEEP: usize = 1024;

impl Hosts {
    pub(super) fn new(max_per_host: usize) -> Self {
        Hosts {
            max_per_host,
            table: Mutex::new(Table {
                semaphores: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    pub(super) fn semaphore(&self, key: &str) -> Arc<Semaphore> {
        // A poisoned lock only means another request panicked mid-insert;
        // the map itself is still sound.
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sem) = table.semaphores.get(key) {
            return sem.clone();
        }
        if table.semaphores.len() >= table.sweep_at {
            // Entries only the table holds have no request using them.
            table.semaphores.retain(|_, sem| Arc::strong_count(sem) > 1);
            table.sweep_at = (table.semaphores.len() * 2).max(MIN_SWEEP);
        }
        let sem = Arc::new(Semaphore::new(self.max_per_host));
        table.semaphores.insert(key.to_owned(), sem.clone());
        sem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_same_semaphore() {
        let hosts = Hosts::new(2);
        let key = |url: &str| crate::origin::key(&url.parse().unwrap());
        let a = hosts.semaphore(&key("http://Example.test/a"));
        let b = hosts.semaphore(&key("http://example.test:80/b"));
        let c = hosts.semaphore(&key("https://example.test/"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn idle_entries_are_swept() {
        let hosts = Hosts::new(1);
        for i in 0..5000 {
            drop(hosts.semaphore(&format!("http://h{i}.test:80")));
        }
        let len = hosts.table.lock().unwrap().semaphores.len();
        assert!(len <= 2 * MIN_SWEEP, "{len} entries kept");
    }
}
