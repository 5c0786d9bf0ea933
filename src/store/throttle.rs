use super::{Result, Store};

impl Store {
    /// The latest `blocked_until` among these throttle keys (0 when none is blocked).
    pub async fn throttle_blocked_until(&self, keys: &[&str]) -> Result<i64> {
        let mut until = 0;
        for key in keys {
            let v: Option<i64> =
                sqlx::query_scalar("select blocked_until from login_throttle where key = $1")
                    .bind(*key)
                    .fetch_optional(&self.pool)
                    .await?;
            until = until.max(v.unwrap_or(0));
        }
        Ok(until)
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
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn block_login(&self, key: &str, until: i64) -> Result<()> {
        sqlx::query(
            "update login_throttle set blocked_until = $1 where key = $2 and blocked_until < $1",
        )
        .bind(until)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("delete from login_throttle where key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
