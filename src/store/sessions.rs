//! Browser sessions for tower-sessions, on the same pool and schema as everything else.
use super::Store;
use crate::clock::Clock;
use crate::crypto::hash_secret;
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, Error};

/// `tower_sessions::SessionStore` over our database. Rows are keyed by a hash of the session
/// id, so reading the database does not hand out live sessions.
#[derive(Clone, Debug)]
pub struct SessionStore {
    store: Store,
    clock: Clock,
}

impl SessionStore {
    pub fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
    }
}

/// The session entry that marks a signed-in browser. Until it is set, a session is anonymous
/// and lives only as long as a pending flow (`FLOW_TTL`), however long the cookie claims.
pub const SIGNED_IN_KEY: &str = "authentication";

fn key(id: &Id) -> String {
    hash_secret(&id.to_string())
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

/// The entry of a sign-in still waiting for its second factor.
pub const PARTIAL_KEY: &str = "partial_sign_in";
/// The browser key's entry: session-bound grants are keyed by its hash.
pub const BROWSER_KEY: &str = "bk";

/// A stored session row.
struct Encoded {
    id: String,
    data: String,
    expires_at: i64,
    user_id: Option<String>,
    /// The hash of its browser key: what its grants and back-channel clients are keyed by.
    session_key: Option<String>,
}

/// tower-sessions computes expiry from the wall clock; stored expiry is on our clock.
fn encode(record: &Record, clock: &Clock) -> session_store::Result<Encoded> {
    let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
    let mut expires_at = record.expiry_date.unix_timestamp() + clock.offset();
    if !record.data.contains_key(SIGNED_IN_KEY) {
        expires_at = expires_at.min(clock.now() + crate::config::FLOW_TTL);
    }
    let user_id = [SIGNED_IN_KEY, PARTIAL_KEY]
        .iter()
        .find_map(|k| record.data.get(*k)?.get("user_id")?.as_str())
        .map(str::to_owned);
    let session_key = record
        .data
        .get(BROWSER_KEY)
        .and_then(|v| v.as_str())
        .map(hash_secret);
    Ok(Encoded {
        id: key(&record.id),
        data,
        expires_at,
        user_id,
        session_key,
    })
}

/// The session key in a stored session's data: the hash of its browser key.
fn session_key_in(data: &str) -> Option<String> {
    let data: serde_json::Value = serde_json::from_str(data).ok()?;
    Some(hash_secret(data.get(BROWSER_KEY)?.as_str()?))
}

/// What a session row is keyed by, for `end_user_sessions`' exception.
pub fn session_row_key(id: &Id) -> String {
    key(id)
}

impl Store {
    /// Ends every session of a user except `keep` (a `session_row_key`), and revokes the
    /// refresh tokens bound to them. Returns how many sessions ended.
    pub async fn end_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> super::Result<u64> {
        let kept = match keep {
            Some(row) => self.session_key_of_row(row).await?,
            None => None,
        };
        let ended = self
            .end_sessions(user_id, |id| keep != Some(id), now)
            .await?;
        // Browser sessions someone else signed in to since still name this user's clients.
        self.queue_user_logouts(user_id, kept.as_deref(), now)
            .await?;
        Ok(ended)
    }

    /// The session key (hash of the browser key) of a session row.
    async fn session_key_of_row(&self, row_key: &str) -> super::Result<Option<String>> {
        let data: Option<String> = sqlx::query_scalar("select data from sessions where id = $1")
            .bind(row_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(data.as_deref().and_then(session_key_in))
    }

    /// Ends one session of a user (by its `session_row_key`); false if there is none.
    pub async fn end_user_session(
        &self,
        user_id: &str,
        row_key: &str,
        now: i64,
    ) -> super::Result<bool> {
        Ok(self.end_sessions(user_id, |id| id == row_key, now).await? > 0)
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        ends: impl Fn(&str) -> bool,
        now: i64,
    ) -> super::Result<u64> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("select id, data from sessions where user_id = $1")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        let mut ended = 0;
        for (id, data) in rows {
            if !ends(&id) {
                continue;
            }
            if let Some(session_key) = session_key_in(&data) {
                self.revoke_session_grants(&session_key, now).await?;
                self.expire_session_codes(&session_key).await?;
                self.queue_session_logouts(&session_key, now).await?;
            }
            sqlx::query("delete from sessions where id = $1")
                .bind(&id)
                .execute(self.writer_for_uncached())
                .await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// A user's signed-in sessions: (row key, signed in at, expires at), newest first.
    pub async fn list_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> super::Result<Vec<(String, Option<i64>, i64)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select id, data, expires_at from sessions where user_id = $1 and expires_at >= $2",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(String, Option<i64>, i64)> = rows
            .into_iter()
            .map(|(id, data, expires_at)| {
                let signed_in = serde_json::from_str::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|d| d.get(SIGNED_IN_KEY)?.get("auth_time")?.as_i64());
                (id, signed_in, expires_at)
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.1));
        Ok(out)
    }
}

#[async_trait]
impl tower_sessions::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A colliding 128-bit id is astronomically unlikely; still, never overwrite one.
        loop {
            let row = encode(record, &self.clock)?;
            let done = sqlx::query(
                "insert into sessions (id, data, expires_at, user_id, session_key) \
                 values ($1, $2, $3, $4, $5) on conflict (id) do nothing",
            )
            .bind(row.id)
            .bind(row.data)
            .bind(row.expires_at)
            .bind(row.user_id)
            .bind(row.session_key)
            .execute(self.store.writer_for_uncached())
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let row = encode(record, &self.clock)?;
        sqlx::query(
            "insert into sessions (id, data, expires_at, user_id, session_key) \
             values ($1, $2, $3, $4, $5) on conflict (id) do update set data = excluded.data, \
             expires_at = excluded.expires_at, user_id = excluded.user_id, \
             session_key = excluded.session_key",
        )
        .bind(row.id)
        .bind(row.data)
        .bind(row.expires_at)
        .bind(row.user_id)
        .bind(row.session_key)
        .execute(self.store.writer_for_uncached())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = self.clock.now();
        let row: Option<(String, i64)> = sqlx::query_as(
            "select data, expires_at from sessions where id = $1 and expires_at > $2",
        )
        .bind(key(session_id))
        .bind(now)
        .fetch_optional(&self.store.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *session_id,
            data: serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(
                expires_at - self.clock.offset(),
            )
            .map_err(|e| Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(key(session_id))
            .execute(self.store.writer_for_uncached())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
