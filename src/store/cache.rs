//! Short-lived caches of rows the hot endpoints read on every request. An entry carries the
//! stamp it was read under and is trusted only while that stamp is current, so a change made
//! through this process shows at once; it also expires after `ttl` seconds, which bounds how late
//! a change made by another process (the CLI, another replica) shows.
use super::{Result, Store};
use crate::domain::{Access, Api, User};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Past this many entries a cache starts over.
pub(super) const CAPACITY: usize = 4096;

pub struct TimedCache<V> {
    ttl: i64,
    now: Box<dyn Fn() -> i64 + Send + Sync>,
    entries: Mutex<HashMap<String, Entry<V>>>,
}

struct Entry<V> {
    value: V,
    stamp: u64,
    loaded_at: i64,
}

impl<V> std::fmt::Debug for TimedCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedCache")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<V: Clone> TimedCache<V> {
    pub fn new(ttl: i64, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self {
            ttl,
            now: Box::new(now),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value read under `stamp`, if it is younger than the TTL.
    pub fn get(&self, key: &str, stamp: u64) -> Option<V> {
        if self.ttl <= 0 {
            return None;
        }
        let now = (self.now)();
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|e| e.stamp == stamp && now - e.loaded_at < self.ttl)
            .map(|e| e.value.clone())
    }

    /// Keeps `value`, read under `stamp` (taken before the read, so a change racing the read
    /// leaves the entry stale from the start).
    pub fn put(&self, key: &str, value: V, stamp: u64) {
        if self.ttl <= 0 {
            return;
        }
        let loaded_at = (self.now)();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                key.to_owned(),
                Entry {
                    value,
                    stamp,
                    loaded_at,
                },
            );
        }
    }
}

/// Counts the writes through one store handle: started, and finished once their statement or
/// transaction is done.
#[derive(Debug, Default)]
pub struct Writes {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Writes {
    /// The stamp to read under, or `None` while a write is under way (what is read then may be
    /// undone or overtaken by its commit, so it is not kept). It stays current until the next
    /// write starts.
    pub fn quiet_stamp(&self) -> Option<u64> {
        // Finished first: if started still equals it, every write begun by then had ended.
        let finished = self.finished.load(Ordering::SeqCst);
        let started = self.started.load(Ordering::SeqCst);
        (started == finished).then_some(started)
    }

    /// The stamp an entry must carry to be current.
    pub fn current(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }
}

/// The writer pool, lent for one write: counted as started when lent and as finished when the
/// loan ends (hold it across a transaction's commit). A write whose future is dropped while
/// SQLite still runs it may commit after its loan ended; the TTL bounds what that leaves stale.
pub struct Writing<'a> {
    pool: &'a AnyPool,
    writes: &'a Writes,
}

impl<'a> Writing<'a> {
    pub fn new(pool: &'a AnyPool, writes: &'a Writes) -> Self {
        writes.started.fetch_add(1, Ordering::SeqCst);
        Self { pool, writes }
    }
}

impl std::ops::Deref for Writing<'_> {
    type Target = AnyPool;
    fn deref(&self) -> &AnyPool {
        self.pool
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.writes.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// What introspection, UserInfo and the token endpoint read on every request: a token's
/// standing (by `jti`, which names one token), a user with their roles and groups (by user id),
/// and the APIs a request's scopes and resources name.
#[derive(Debug)]
pub struct ReadCaches {
    pub(super) standing: TimedCache<bool>,
    pub(super) users: TimedCache<Option<User>>,
    pub(super) access: TimedCache<Access>,
    pub(super) apis: TimedCache<Vec<Api>>,
}

impl Store {
    /// Caches what introspection, UserInfo and the token endpoint read for `ttl` seconds of
    /// `now`'s clock: the bound on how late a revocation, a user's change or an API's made by
    /// another process (the CLI, another replica) shows. Changes through this handle show at
    /// once.
    pub fn with_read_caches(
        mut self,
        ttl: i64,
        now: impl Fn() -> i64 + Clone + Send + Sync + 'static,
    ) -> Self {
        self.read_caches = Some(std::sync::Arc::new(ReadCaches {
            standing: TimedCache::new(ttl, now.clone()),
            users: TimedCache::new(ttl, now.clone()),
            access: TimedCache::new(ttl, now.clone()),
            apis: TimedCache::new(ttl, now),
        }));
        self
    }

    /// `read`'s value for `key`, from `cache` while it is current.
    pub(super) async fn read_through<V: Clone>(
        &self,
        cache: impl Fn(&ReadCaches) -> &TimedCache<V>,
        key: &str,
        read: impl std::future::Future<Output = Result<V>>,
    ) -> Result<V> {
        let Some(caches) = self.read_caches.as_deref() else {
            return read.await;
        };
        let cache = cache(caches);
        if let Some(hit) = cache.get(key, self.writes.current()) {
            return Ok(hit);
        }
        let stamp = self.writes.quiet_stamp();
        let value = read.await?;
        if let Some(stamp) = stamp {
            cache.put(key, value.clone(), stamp);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicI64;

    fn cache(ttl: i64) -> (TimedCache<u32>, Arc<AtomicI64>) {
        let clock = Arc::new(AtomicI64::new(100));
        let c = clock.clone();
        (
            TimedCache::new(ttl, move || c.load(Ordering::SeqCst)),
            clock,
        )
    }

    #[test]
    fn an_entry_lives_while_its_stamp_is_current_and_for_at_most_the_ttl() {
        let (cache, clock) = cache(2);
        cache.put("a", 1, 7);
        assert_eq!(cache.get("a", 7), Some(1));
        assert_eq!(cache.get("a", 8), None, "a later write makes it stale");
        clock.store(101, Ordering::SeqCst);
        assert_eq!(cache.get("a", 7), Some(1));
        clock.store(102, Ordering::SeqCst);
        assert_eq!(cache.get("a", 7), None, "expired");
        assert_eq!(cache.get("b", 7), None);
    }

    #[test]
    fn a_ttl_of_zero_keeps_nothing() {
        let (cache, _) = cache(0);
        cache.put("a", 1, 0);
        assert_eq!(cache.get("a", 0), None);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let (cache, _) = cache(5);
        for i in 0..CAPACITY {
            cache.put(&i.to_string(), 1, 0);
        }
        assert_eq!(cache.get("0", 0), Some(1));
        cache.put("new", 2, 0);
        assert_eq!(cache.get("0", 0), None);
        assert_eq!(cache.get("new", 0), Some(2));
    }

    #[tokio::test]
    async fn no_stamp_while_a_write_is_under_way_and_each_write_moves_it() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .expect("a lazy pool");
        let writes = Writes::default();
        let before = writes.quiet_stamp().expect("quiet");
        assert_eq!(before, writes.current());
        let loan = Writing::new(&pool, &writes);
        assert_eq!(writes.quiet_stamp(), None, "a write is under way");
        assert_ne!(writes.current(), before, "entries read before it are stale");
        drop(loan);
        let after = writes.quiet_stamp().expect("quiet again");
        assert_ne!(after, before);
    }
}
