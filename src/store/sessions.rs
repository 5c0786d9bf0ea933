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

/// tower-sessions computes expiry from the wall clock; stored expiry is on our clock.
fn encode(record: &Record, clock: &Clock) -> session_store::Result<(String, String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
    let mut expires_at = record.expiry_date.unix_timestamp() + clock.offset();
    if !record.data.contains_key(SIGNED_IN_KEY) {
        expires_at = expires_at.min(clock.now() + crate::config::FLOW_TTL);
    }
    Ok((key(&record.id), data, expires_at))
}

#[async_trait]
impl tower_sessions::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A colliding 128-bit id is astronomically unlikely; still, never overwrite one.
        loop {
            let (id, data, expires_at) = encode(record, &self.clock)?;
            let done = sqlx::query(
                "insert into sessions (id, data, expires_at) values ($1, $2, $3) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(data)
            .bind(expires_at)
            .execute(&self.store.pool)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, data, expires_at) = encode(record, &self.clock)?;
        sqlx::query(
            "insert into sessions (id, data, expires_at) values ($1, $2, $3) \
             on conflict (id) do update set data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(id)
        .bind(data)
        .bind(expires_at)
        .execute(&self.store.pool)
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
            .execute(&self.store.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
