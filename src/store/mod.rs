//! The only module that writes SQL. One query string serves SQLite and PostgreSQL (sqlx's Any
//! driver; SQLite accepts `$N` placeholders); one migration set serves both.
//! Imports `domain`, `config` and `crypto` only.
mod access;
mod audit;
mod cache;
mod clients;
mod codes;
mod consents;
mod factors;
mod flows;
mod grants;
mod keys;
mod logouts;
mod mail;
mod outbox;
mod pushed;
mod seen;
mod sessions;
mod throttle;
mod tokens;
mod users;

pub use access::SCOPE_TAKEN;
pub use audit::AuditQuery;
pub use clients::CHANGED;
pub use codes::{CodeGrant, NewCode, Redemption};
pub use factors::{FactorSummary, LAST_ADMIN, StoredPasskey, StoredTotp};
pub use flows::FlowCaps;
pub use grants::{GrantPlan, GrantRecord, GrantRow, NewRefresh, RefreshRecord};
pub use keys::StoredKey;
pub use logouts::{LOGOUT_DELIVERY_WINDOW, QueuedLogout};
pub use mail::{AccountLink, QueuedMail};
pub use sessions::{BROWSER_KEY, PARTIAL_KEY, SIGNED_IN_KEY, SessionStore, session_row_key};
pub use tokens::TokenSubject;

use sqlx::AnyPool;
use sqlx::SqlStr;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

/// Storage failures. Absence where it is normal is `Ok(None)`, not an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The database is down, restarting, unreachable or busy: the request may succeed if
    /// retried, so callers answer 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                // PostgreSQL: connection exceptions (08…), operator intervention such as a
                // shutdown or a server still starting (57P…), too many connections (53300),
                // a read-only standby after failover (25006), serialization failures and
                // deadlocks (40001, 40P01). SQLite: busy or locked.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || matches!(code.as_ref(), "53300" | "25006" | "40001" | "40P01")
                    || code == "5"
                    || code == "6"
                    || db.message().contains("database is locked")
            }
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go. On SQLite, one connection: writers queue here, in order, instead of in
    /// SQLite's busy handler, whose sleeps (up to 100 ms each) made the tail of every writing
    /// endpoint. On PostgreSQL, the same pool as reads. Lent through `writer()`, which counts
    /// the writes the caches must hear of.
    write_pool: AnyPool,
    writes: std::sync::Arc<cache::Writes>,
    backend: Backend,
    /// Bumped by every client change through this handle, so caches of client data in this
    /// process can tell they are stale (other processes are picked up by the caches' TTL).
    clients_version: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The server's cache of clients by id; the CLI reads through.
    client_cache: Option<std::sync::Arc<cache::TimedCache<crate::domain::Client>>>,
    /// The server's caches of what introspection and UserInfo read; the CLI reads through.
    read_caches: Option<std::sync::Arc<cache::ReadCaches>>,
    /// Where audit events go: the log only until `with_journal` attaches the SQL writer.
    journal: crate::audit::Journal,
    /// When this process last recorded each client's use, so it writes at most hourly.
    touched: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    /// Wakes this process's back-channel logout sender when a logout is queued.
    logout_wake: std::sync::Arc<tokio::sync::Notify>,
}

const GROWING_TABLES: [&str; 10] = [
    "flows",
    "session_clients",
    "logout_outbox",
    "pushed_requests",
    "seen_jwts",
    "sessions",
    "authorization_codes",
    "grants",
    "refresh_tokens",
    "revoked_tokens",
];

/// Migration `n` is element `n - 1`. One source serves both backends: the SQL is the subset
/// SQLite and PostgreSQL agree on, so a dialect cannot drift from the other.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_login_throttle.sql"),
    include_str!("../../migrations/0003_code_replay.sql"),
    include_str!("../../migrations/0004_key_lifecycle.sql"),
    include_str!("../../migrations/0005_token_lifecycle.sql"),
    include_str!("../../migrations/0006_flow_bounds.sql"),
    include_str!("../../migrations/0007_pkce_policy.sql"),
    include_str!("../../migrations/0008_profile.sql"),
    include_str!("../../migrations/0009_mfa.sql"),
    include_str!("../../migrations/0010_session_owner.sql"),
    include_str!("../../migrations/0011_self_contained_tokens.sql"),
    include_str!("../../migrations/0012_signing_algs.sql"),
    include_str!("../../migrations/0013_audit_log.sql"),
    include_str!("../../migrations/0014_client_revision.sql"),
    include_str!("../../migrations/0015_managed_clients.sql"),
    include_str!("../../migrations/0016_dynamic_registration.sql"),
    include_str!("../../migrations/0017_usage_and_user_revision.sql"),
    include_str!("../../migrations/0018_redirect_uses.sql"),
    include_str!("../../migrations/0019_mail_and_account_links.sql"),
    include_str!("../../migrations/0020_apis_roles_groups.sql"),
    include_str!("../../migrations/0021_pushed_requests.sql"),
    include_str!("../../migrations/0022_dpop.sql"),
    include_str!("../../migrations/0023_client_keys.sql"),
    include_str!("../../migrations/0024_backchannel_logout.sql"),
    include_str!("../../migrations/0025_dpop_code_binding.sql"),
];

/// How long a pooled connection may sit unused before the pool tests it again before lending
/// it: under load connections come back within milliseconds and are never tested twice.
const TEST_AFTER_IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// The pool tests a connection that sat idle (the database may have restarted meanwhile) but
/// not one that was just handed back: sqlx already tests every connection it takes back, and a
/// second test on every checkout cost a round trip per statement (a hand-off to SQLite's
/// thread, a network round trip to PostgreSQL).
fn pool_options(max: u32, acquire_timeout_secs: u64) -> AnyPoolOptions {
    use sqlx::Connection;
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(std::time::Duration::from_secs(acquire_timeout_secs))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= TEST_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

impl Store {
    /// Connects to `sqlite:…` or `postgres://…`. A SQLite file and its directory are created.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url);
        }
        let max = if backend == Backend::Sqlite { 8 } else { 16 };
        // A request waiting for a connection fails (503) after a few seconds instead of hanging
        // while the database is away; the pool reconnects by itself once it is back.
        let pool = pool_options(max, 3).connect(url).await?;
        let writer = if backend == Backend::Sqlite {
            // WAL lets readers proceed during a write; the setting persists in the file.
            sqlx::query("pragma journal_mode = wal")
                .execute(&pool)
                .await?;
            pool_options(1, 5).connect(url).await?
        } else {
            pool.clone()
        };
        Ok(Self {
            pool,
            write_pool: writer,
            writes: Default::default(),
            backend,
            clients_version: Default::default(),
            client_cache: None,
            read_caches: None,
            journal: crate::audit::Journal::log_only(crate::clock::Clock::system()),
            touched: Default::default(),
            logout_wake: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Changes whenever this process changes a client.
    pub fn clients_version(&self) -> u64 {
        self.clients_version
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The writer pool for a write that the caches of what introspection and UserInfo read
    /// must hear of: tokens' standing, grants, users, clients, roles and groups.
    fn writer(&self) -> cache::Writing<'_> {
        cache::Writing::new(&self.write_pool, &self.writes)
    }

    /// The writer pool for tables no cache reads (sessions, flows, codes, throttling, the audit
    /// log, queues, keys), so that their traffic leaves the caches warm.
    fn writer_for_uncached(&self) -> &AnyPool {
        &self.write_pool
    }

    fn clients_changed(&self) {
        self.clients_version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Applies the embedded migrations of this backend's dialect.
    pub async fn migrate(&self) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .zip(1i64..)
            .map(|(sql, v)| {
                Migration::new(
                    v,
                    Cow::Owned(format!("migration {v}")),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&self.write_pool)
            .await?;
        Ok(())
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Connections open, idle, and the most the pool opens.
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }

    /// Rows in the tables that requests grow (flows, sessions, codes, grants, refresh tokens,
    /// revocations): what the benchmark and the token-path tests count.
    pub async fn growing_rows(&self) -> Result<i64> {
        let mut n = 0;
        for table in GROWING_TABLES {
            let count: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                    .fetch_one(&self.pool)
                    .await?;
            n += count;
        }
        Ok(n)
    }

    /// Expired rows the next sweep will delete: the sweeper's backlog.
    pub async fn expired_backlog(&self, now: i64) -> Result<i64> {
        let mut n = 0;
        for table in [
            "flows",
            "pushed_requests",
            "seen_jwts",
            "revoked_tokens",
            "sessions",
            "refresh_tokens",
            "grants",
        ] {
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select count(*) from {table} where expires_at < $1"
            )))
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
            n += count;
        }
        Ok(n)
    }

    /// Deletes flows, codes, tokens, sessions and throttle counters past their expiry. A
    /// consumed code is kept `keep_consumed_codes` seconds after redemption, so a late replay is
    /// still recognised and revokes what the code issued (RFC 6749 §4.1.2). The sealed copy of
    /// a rotated refresh token's response is erased once its replay window has passed. These
    /// writes leave the caches alone: what they delete has expired, and the one standing that
    /// can change (a token outliving its expired grant) shows within the cache's TTL.
    pub async fn delete_expired(
        &self,
        now: i64,
        keep_consumed_codes: i64,
        forget_failures_before: i64,
        replay_window: i64,
        session_ttl: i64,
    ) -> Result<u64> {
        let mut n = sqlx::query(
            "update refresh_tokens set replay_response = null \
             where replay_response is not null and rotated_at < $1",
        )
        .bind(now - replay_window)
        .execute(self.writer_for_uncached())
        .await?
        .rows_affected();
        for sql in [
            "delete from flows where expires_at < $1",
            "delete from pushed_requests where expires_at < $1",
            "delete from seen_jwts where expires_at < $1",
            "delete from registration_tokens where expires_at < $1",
            "delete from account_links where expires_at < $1",
            // Undelivered past its links' lifetime: sending it now would help nobody.
            "delete from mail_outbox where expires_at < $1",
            "delete from logout_outbox where expires_at < $1",
            "delete from revoked_tokens where expires_at < $1",
            "delete from sessions where expires_at < $1",
            // Idle-expired refresh tokens; the rest stay while their family lives, so re-use of
            // a rotated token is still recognised.
            "delete from refresh_tokens where expires_at < $1",
            "delete from grants where expires_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(now)
                .execute(self.writer_for_uncached())
                .await?
                .rows_affected();
        }
        n += sqlx::query(
            "delete from authorization_codes where expires_at < $1 and (consumed_at is null or consumed_at < $2)",
        )
        .bind(now)
        .bind(now - keep_consumed_codes)
        .execute(self.writer_for_uncached())
        .await?
        .rows_affected();
        // A session's clients go with it. A session saved before its rows recorded its key
        // cannot be told from a dead one, but it lives at most a session lifetime past its
        // clients' last code.
        n += sqlx::query(
            "delete from session_clients where seen_at < $1 and not exists \
             (select 1 from sessions s where s.session_key = session_clients.session_key \
              and s.expires_at >= $2)",
        )
        .bind(now - session_ttl)
        .bind(now)
        .execute(self.writer_for_uncached())
        .await?
        .rows_affected();
        n += sqlx::query(
            "delete from login_throttle where last_failure_at < $1 and blocked_until < $2",
        )
        .bind(forget_failures_before)
        .bind(now)
        .execute(self.writer_for_uncached())
        .await?
        .rows_affected();
        Ok(n)
    }

    pub async fn close(&self) {
        self.journal.flush().await;
        self.pool.close().await;
        self.write_pool.close().await;
    }
}

fn create_sqlite_parent_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Turns a unique violation into `Conflict`.
fn on_conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(what),
        _ => Error::Database(e),
    }
}

/// `$from, $from+1, …` for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn parse_list(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt(e.to_string()))
}
