//! Back-Channel Logout 1.0: which clients got tokens in a browser session, and the logout
//! tokens waiting to reach their back ends when it ends.
use super::outbox::Outbox;
use super::{Result, Store};
use crate::crypto::random_id;
use sqlx::Row;

const LOGOUTS: Outbox = Outbox {
    table: "logout_outbox",
    columns: "client_id, user_id, sid",
};

/// How long a logout is tried before it is given up: a relying party down for longer has
/// likely ended its own session by then.
pub const LOGOUT_DELIVERY_WINDOW: i64 = 24 * 3600;
/// Logouts the queue holds at most for one client: past this, its new ones are not queued
/// (and it is logged), so a relying party that never answers neither fills the database nor
/// crowds out the others.
pub const MAX_QUEUED_PER_CLIENT: i64 = 1_000;

/// A logout to deliver, claimed by this sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedLogout {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

impl Store {
    /// Records that `client_id` got a code for `user_id` in the session `session_key`, so it is
    /// told when the session ends. Another user signing in to the same browser session gets
    /// records (and a `sid`) of their own.
    pub async fn record_session_client(
        &self,
        session_key: &str,
        client_id: &str,
        user_id: &str,
        sid: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "insert into session_clients (session_key, client_id, user_id, sid, seen_at) \
             values ($1, $2, $3, $4, $5) on conflict (session_key, client_id, user_id) do update \
             set seen_at = excluded.seen_at",
        )
        .bind(session_key)
        .bind(client_id)
        .bind(user_id)
        .bind(sid)
        .bind(now)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// The session ended: one logout per client that got tokens in it (for any user signed in
    /// to it) is queued. Returns how many were queued.
    pub async fn queue_session_logouts(&self, session_key: &str, now: i64) -> Result<u64> {
        self.queue_logouts("session_key = $1", &[session_key], now)
            .await
    }

    /// The user's sessions ended, all but `except` (a session key): their clients are told,
    /// in sessions someone else has signed in to since as well.
    pub async fn queue_user_logouts(
        &self,
        user_id: &str,
        except: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        // Session keys are never empty, so "" excepts nothing.
        let except = except.unwrap_or("");
        self.queue_logouts(
            "user_id = $1 and session_key <> $2",
            &[user_id, except],
            now,
        )
        .await
    }

    /// Queues a logout per matching record, in the transaction that forgets them, so each is
    /// queued once however many replicas end the session. Wakes this process's sender.
    async fn queue_logouts(&self, filter: &'static str, binds: &[&str], now: i64) -> Result<u64> {
        let sql =
            format!("delete from session_clients where {filter} returning client_id, user_id, sid");
        let mut tx = self.writer_for_uncached().begin().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mut queued = 0;
        for row in &rows {
            let client_id: String = row.try_get("client_id")?;
            let waiting: i64 =
                sqlx::query_scalar("select count(*) from logout_outbox where client_id = $1")
                    .bind(&client_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if waiting >= MAX_QUEUED_PER_CLIENT {
                tracing::error!(client_id = %client_id, "back-channel logout queue full for this client; logout not queued");
                continue;
            }
            sqlx::query(
                "insert into logout_outbox (id, client_id, user_id, sid, created_at, expires_at, \
                 next_attempt_at) values ($1, $2, $3, $4, $5, $6, $5)",
            )
            .bind(random_id())
            .bind(&client_id)
            .bind(row.try_get::<String, _>("user_id")?)
            .bind(row.try_get::<String, _>("sid")?)
            .bind(now)
            .bind(now + LOGOUT_DELIVERY_WINDOW)
            .execute(&mut *tx)
            .await?;
            queued += 1;
        }
        tx.commit().await?;
        if queued > 0 {
            self.logout_wake.notify_one();
        }
        Ok(queued)
    }

    /// Woken when this process queues a logout.
    pub fn logout_queued(&self) -> &tokio::sync::Notify {
        &self.logout_wake
    }

    /// Claims the oldest due logout until `lease_until`, counting the attempt.
    pub async fn claim_due_logout(
        &self,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<QueuedLogout>> {
        let Some(c) = self.claim_due(LOGOUTS, now, lease_until).await? else {
            return Ok(None);
        };
        Ok(Some(QueuedLogout {
            client_id: c.row.try_get("client_id")?,
            user_id: c.row.try_get("user_id")?,
            sid: c.row.try_get("sid")?,
            id: c.id,
            attempts: c.attempts,
        }))
    }

    /// Delivered, or never to be.
    pub async fn delete_logout(&self, id: &str) -> Result<()> {
        self.delete_queued(LOGOUTS, id).await
    }

    /// Releases a claimed logout to be tried again at `next_attempt_at`.
    pub async fn retry_logout(&self, id: &str, next_attempt_at: i64) -> Result<()> {
        self.retry_queued(LOGOUTS, id, next_attempt_at).await
    }

    /// Logouts waiting: (all, tried at least once and not yet delivered).
    pub async fn logout_backlog(&self) -> Result<(i64, i64)> {
        self.queue_backlog(LOGOUTS).await
    }
}
