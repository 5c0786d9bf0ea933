use super::{Error, Result, Store};
use crate::domain::Flow;

impl Store {
    pub async fn insert_flow(&self, flow: &Flow) -> Result<()> {
        let data = serde_json::to_string(flow).map_err(|e| Error::Corrupt(e.to_string()))?;
        sqlx::query("insert into flows (id, data, expires_at) values ($1, $2, $3)")
            .bind(&flow.id)
            .bind(data)
            .bind(flow.expires_at)
            .execute(&self.pool)
            .await?;
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
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
