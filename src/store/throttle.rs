use super::{Result, Store};

impl Store {
    /// (recent failures, blocked_until) for a key; failures older than `forget_before` count 0.
    pub async fn login_throttle_state(&self, key: &str, forget_before: i64) -> Result<(i64, i64)> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "select failures, last_failure_at, blocked_until from login_throttle where key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((failures, last, blocked)) if last >= forget_before => (failures, blocked),
            Some((_, _, blocked)) => (0, blocked),
            None => (0, 0),
        })
    }

    /// Takes back one counted attempt (it turned out to be a success).
    pub async fn forgive_login_attempt(&self, key: &str) -> Result<()> {
        sqlx::query(
            "update login_throttle set failures = failures - 1 where key = $1 and failures > 0",
        )
        .bind(key)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// Counts one failure in a single statement (parallel attempts cannot lose counts); a key
    /// whose last failure is older than `forget_before` starts again from one.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "insert into login_throttle (key, failures, last_failure_at, blocked_until) values ($1, 1, $2, 0) \
             on conflict (key) do update set \
             failures = case when login_throttle.last_failure_at < $3 then 1 else login_throttle.failures + 1 end, \
             last_failure_at = excluded.last_failure_at \
             returning failures",
        )
        .bind(key)
        .bind(now)
        .bind(forget_before)
        .fetch_one(self.writer_for_uncached())
        .await?)
    }

    /// Takes the turn for `key` if none is running at `now`, and holds it until `until`; in one
    /// statement, so of concurrent callers exactly one gets it.
    pub async fn take_turn(&self, key: &str, now: i64, until: i64) -> Result<bool> {
        let done = sqlx::query(
            "insert into login_throttle (key, failures, last_failure_at, blocked_until) \
             values ($1, 1, $2, $3) \
             on conflict (key) do update set failures = login_throttle.failures + 1, \
             last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until \
             where login_throttle.blocked_until <= $2",
        )
        .bind(key)
        .bind(now)
        .bind(until)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn block_login(&self, key: &str, until: i64) -> Result<()> {
        sqlx::query(
            "update login_throttle set blocked_until = $1 where key = $2 and blocked_until < $1",
        )
        .bind(until)
        .bind(key)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("delete from login_throttle where key = $1")
            .bind(key)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(())
    }

    /// Removes `key` and every key starting with `prefix`.
    pub async fn clear_login_failures_for(&self, key: &str, prefix: &str) -> Result<u64> {
        Ok(sqlx::query(
            "delete from login_throttle where key = $1 or substr(key, 1, cast($2 as integer)) = $3",
        )
        .bind(key)
        .bind(prefix.len() as i64)
        .bind(prefix)
        .execute(self.writer_for_uncached())
        .await?
        .rows_affected())
    }
}
