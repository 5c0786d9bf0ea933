use super::{Result, Store};

impl Store {
    /// The scopes this user has approved for this client, wire form.
    pub async fn find_consent(&self, user_id: &str, client_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("select scope from consents where user_id = $1 and client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn upsert_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "insert into consents (user_id, client_id, scope, created_at, updated_at) values ($1, $2, $3, $4, $4) \
             on conflict (user_id, client_id) do update set scope = excluded.scope, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
