use super::{Error, Result, Store};
use crate::domain::Flow;

/// How many pending flows one browser, and one client address, may hold at once.
#[derive(Clone, Copy, Debug)]
pub struct FlowCaps {
    pub per_browser: i64,
    pub per_address: i64,
}

impl Store {
    /// Saves a pending flow, then evicts the oldest flows of the same browser and of the same
    /// address beyond `caps`, so anonymous requests cost bounded state. The new flow is never
    /// the one evicted.
    pub async fn insert_flow(&self, flow: &Flow, address: &str, caps: FlowCaps) -> Result<()> {
        let data = serde_json::to_string(flow).map_err(|e| Error::Corrupt(e.to_string()))?;
        // SQLite has one writer: the insert and its evictions share one commit. On PostgreSQL
        // each runs alone, so two browsers behind one address never wait on each other's row
        // locks in opposite order (a deadlock).
        let mut tx = match self.backend {
            super::Backend::Sqlite => Some(self.writer_for_uncached().begin().await?),
            super::Backend::Postgres => None,
        };
        let insert = sqlx::query(
            "insert into flows (id, data, expires_at, browser_key, address, created_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&flow.id)
        .bind(data)
        .bind(flow.expires_at)
        .bind(&flow.browser_key)
        .bind(address)
        .bind(flow.created_at);
        match tx.as_mut() {
            Some(tx) => insert.execute(&mut **tx).await?,
            None => insert.execute(self.writer_for_uncached()).await?,
        };
        // Past the cap, the oldest others go. The walk follows the (column, created_at) index
        // from the newest, skipping the cap's worth, so it costs that many index steps and never
        // a sort; the limit bounds one insert's deletions even when the cap was just lowered.
        for (column, value, cap) in [
            ("browser_key", flow.browser_key.as_str(), caps.per_browser),
            ("address", address, caps.per_address),
        ] {
            let evict = sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from flows where id in \
                 (select id from flows where {column} = $1 and id <> $2 \
                  order by created_at desc limit 100 offset $3)"
            )))
            .bind(value)
            .bind(&flow.id)
            .bind((cap - 1).max(0));
            match tx.as_mut() {
                Some(tx) => evict.execute(&mut **tx).await?,
                None => evict.execute(self.writer_for_uncached()).await?,
            };
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        Ok(())
    }

    /// A pending flow that has not expired.
    pub async fn find_flow(&self, id: &str, now: i64) -> Result<Option<Flow>> {
        let data: Option<String> =
            sqlx::query_scalar("select data from flows where id = $1 and expires_at >= $2")
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| Error::Corrupt(e.to_string())))
            .transpose()
    }

    /// Removes the flow; true when this call removed it (so only one finisher wins).
    pub async fn delete_flow(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("delete from flows where id = $1")
            .bind(id)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Live (sessions, pending flows), for the growth figures of the bench and tests.
    pub async fn count_sessions_and_flows(&self, now: i64) -> Result<(i64, i64)> {
        let sessions: i64 =
            sqlx::query_scalar("select count(*) from sessions where expires_at > $1")
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
        let flows: i64 = sqlx::query_scalar("select count(*) from flows where expires_at >= $1")
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok((sessions, flows))
    }
}
