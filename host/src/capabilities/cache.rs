//! The cache capability: an in-process TTL cache by default (Redis when configured).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default time to live (7 days): repo contexts are keyed by commit and never go stale,
/// this only bounds how long an unused one occupies memory.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Largest value a plugin may store, so one plugin cannot fill the cache.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Total bytes the in-process cache keeps before evicting the oldest entries.
pub const MEMORY_CACHE_BYTES: usize = 256 << 20;

/// A byte cache with TTL.
#[async_trait::async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> anyhow::Result<()>;
    /// Short name for messages and metrics (`memory`, `redis`).
    fn backend(&self) -> &'static str;
}

struct Entry {
    value: Vec<u8>,
    expires: Instant,
    inserted: Instant,
}

/// The embedded default: a size-bounded in-process map.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryCache {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut m = self.entries.lock().unwrap();
        match m.get(key) {
            Some(e) if e.expires > Instant::now() => Ok(Some(e.value.clone())),
            Some(_) => {
                m.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut m = self.entries.lock().unwrap();
        m.insert(key.to_string(), Entry { value, expires: now + ttl.unwrap_or(DEFAULT_TTL), inserted: now });
        let mut total: usize = m.values().map(|e| e.value.len()).sum();
        if total > MEMORY_CACHE_BYTES {
            m.retain(|_, e| e.expires > now);
            let mut by_age: Vec<(Instant, String, usize)> = m.iter().map(|(k, e)| (e.inserted, k.clone(), e.value.len())).collect();
            by_age.sort();
            total = m.values().map(|e| e.value.len()).sum();
            for (_, k, len) in by_age {
                if total <= MEMORY_CACHE_BYTES {
                    break;
                }
                m.remove(&k);
                total -= len;
            }
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire() {
        let c = MemoryCache::new();
        c.set("a", b"1".to_vec(), Some(Duration::from_millis(30))).await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), Some(b"1".to_vec()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(c.get("a").await.unwrap(), None);
    }
}
