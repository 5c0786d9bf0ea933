use super::{Error, Result, Store, flag, json_list, on_conflict, parse_list};
use crate::domain::Client;
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, name, secret_hash, redirect_uris, audiences, skip_consent, created_at, \
    allowed_scopes, grant_types, post_logout_redirect_uris, allowed_origins, refresh_token_ttl, refresh_idle_ttl, \
    resource_audiences, pkce_optional, require_mfa";

fn client_from_row(row: &AnyRow) -> Result<Client> {
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        redirect_uris: parse_list(&row.try_get::<String, _>("redirect_uris")?)?,
        audiences: parse_list(&row.try_get::<String, _>("audiences")?)?,
        skip_consent: row.try_get::<i64, _>("skip_consent")? != 0,
        created_at: row.try_get("created_at")?,
        allowed_scopes: row
            .try_get::<Option<String>, _>("allowed_scopes")?
            .map(|s| parse_list(&s))
            .transpose()?,
        grant_types: serde_json::from_str(&row.try_get::<String, _>("grant_types")?)
            .map_err(|e| Error::Corrupt(e.to_string()))?,
        post_logout_redirect_uris: parse_list(
            &row.try_get::<String, _>("post_logout_redirect_uris")?,
        )?,
        allowed_origins: parse_list(&row.try_get::<String, _>("allowed_origins")?)?,
        refresh_token_ttl: row.try_get("refresh_token_ttl")?,
        refresh_idle_ttl: row.try_get("refresh_idle_ttl")?,
        resource_audiences: parse_list(&row.try_get::<String, _>("resource_audiences")?)?,
        pkce_optional: row.try_get::<i64, _>("pkce_optional")? != 0,
        require_mfa: row.try_get::<i64, _>("require_mfa")? != 0,
    })
}

impl Store {
    pub async fn insert_client(&self, c: &Client) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into clients ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.audiences))
        .bind(flag(c.skip_consent))
        .bind(c.created_at)
        .bind(c.allowed_scopes.as_deref().map(json_list))
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_else(|_| "[]".into()))
        .bind(json_list(&c.post_logout_redirect_uris))
        .bind(json_list(&c.allowed_origins))
        .bind(c.refresh_token_ttl)
        .bind(c.refresh_idle_ttl)
        .bind(json_list(&c.resource_audiences))
        .bind(flag(c.pkce_optional))
        .bind(flag(c.require_mfa))
        .execute(&self.pool)
        .await
        .map_err(on_conflict("client"))?;
        self.clients_changed();
        Ok(())
    }

    /// Replaces every field but the id and creation time.
    pub async fn update_client(&self, c: &Client) -> Result<()> {
        let done = sqlx::query(
            "update clients set name = $1, secret_hash = $2, redirect_uris = $3, audiences = $4, skip_consent = $5, \
             allowed_scopes = $6, grant_types = $7, post_logout_redirect_uris = $8, allowed_origins = $9, \
             refresh_token_ttl = $10, refresh_idle_ttl = $11, resource_audiences = $12, pkce_optional = $13, \
             require_mfa = $14 where id = $15",
        )
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.audiences))
        .bind(flag(c.skip_consent))
        .bind(c.allowed_scopes.as_deref().map(json_list))
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_else(|_| "[]".into()))
        .bind(json_list(&c.post_logout_redirect_uris))
        .bind(json_list(&c.allowed_origins))
        .bind(c.refresh_token_ttl)
        .bind(c.refresh_idle_ttl)
        .bind(json_list(&c.resource_audiences))
        .bind(flag(c.pkce_optional))
        .bind(flag(c.require_mfa))
        .bind(&c.id)
        .execute(&self.pool)
        .await?;
        self.clients_changed();
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    pub async fn find_client(&self, id: &str) -> Result<Option<Client>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients where id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients order by created_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    pub async fn delete_client(&self, id: &str) -> Result<()> {
        let done = sqlx::query("delete from clients where id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.clients_changed();
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}
