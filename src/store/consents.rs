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
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// "Connected apps": (client id, client name, scope, since) for each app the user approved.
    pub async fn list_consents(&self, user_id: &str) -> Result<Vec<(String, String, String, i64)>> {
        Ok(sqlx::query_as(
            "select c.id, c.name, s.scope, s.created_at from consents s join clients c on c.id = s.client_id \
             where s.user_id = $1 order by s.created_at, c.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Who approved a client: (user id, username, scope, since).
    pub async fn list_client_consents(
        &self,
        client_id: &str,
    ) -> Result<Vec<(String, String, String, i64)>> {
        Ok(sqlx::query_as(
            "select u.id, u.username, s.scope, s.created_at from consents s join users u on u.id = s.user_id \
             where s.client_id = $1 order by s.created_at, u.username limit 1000",
        )
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool> {
        let done = sqlx::query("delete from consents where user_id = $1 and client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
