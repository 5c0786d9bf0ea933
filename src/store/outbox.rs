//! The shape both delivery queues share (mail, logout tokens): a due row is claimed under a
//! lease before it is worked on, so of several senders (replicas) exactly one has it, and a
//! sender that dies leaves it to another once the lease runs out.
use super::{Result, Store};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A queue table: its name and the columns a claim returns besides `id` and `attempts`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outbox {
    pub table: &'static str,
    pub columns: &'static str,
}

/// A claimed row: its id, its attempts counting this one, and the row itself.
pub(super) struct Claimed {
    pub id: String,
    pub attempts: i64,
    pub row: AnyRow,
}

impl Store {
    /// Claims the oldest due, unexpired row until `lease_until`, counting the attempt. The claim
    /// is conditional on the lease it read, so two senders never both win.
    pub(super) async fn claim_due(
        &self,
        outbox: Outbox,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Claimed>> {
        let select = format!(
            "select id, attempts, claimed_until, {} from {} \
             where next_attempt_at <= $1 and claimed_until <= $1 and expires_at >= $1 \
             order by next_attempt_at, id limit 1",
            outbox.columns, outbox.table
        );
        let update = format!(
            "update {} set claimed_until = $1, attempts = attempts + 1 \
             where id = $2 and claimed_until = $3",
            outbox.table
        );
        for _ in 0..5 {
            let row = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(now)
                .fetch_optional(self.writer_for_uncached())
                .await?;
            let Some(row) = row else { return Ok(None) };
            let id: String = row.try_get("id")?;
            let claimed_until: i64 = row.try_get("claimed_until")?;
            let done = sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(lease_until)
                .bind(&id)
                .bind(claimed_until)
                .execute(self.writer_for_uncached())
                .await?;
            if done.rows_affected() == 1 {
                let attempts = row.try_get::<i64, _>("attempts")? + 1;
                return Ok(Some(Claimed { id, attempts, row }));
            }
        }
        Ok(None)
    }

    /// Delivered, or never to be.
    pub(super) async fn delete_queued(&self, outbox: Outbox, id: &str) -> Result<()> {
        let sql = format!("delete from {} where id = $1", outbox.table);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(())
    }

    /// Releases a claimed row to be tried again at `next_attempt_at`.
    pub(super) async fn retry_queued(
        &self,
        outbox: Outbox,
        id: &str,
        next_attempt_at: i64,
    ) -> Result<()> {
        let sql = format!(
            "update {} set next_attempt_at = $1, claimed_until = 0 where id = $2",
            outbox.table
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(next_attempt_at)
            .bind(id)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(())
    }

    /// Rows waiting: (all, tried at least once and not yet delivered).
    pub(super) async fn queue_backlog(&self, outbox: Outbox) -> Result<(i64, i64)> {
        let sql = format!(
            "select count(*) as total, \
             coalesce(sum(case when attempts > 0 then 1 else 0 end), 0) as retried from {}",
            outbox.table
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("total")?, row.try_get("retried")?))
    }
}
