//! Refresh-token families ("grants") and their rotating refresh tokens.
use super::{Result, Store};
use sqlx::Row;

/// A new refresh-token family.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub scope: &'a str,
    pub auth_time: i64,
    /// RFC 8176 methods of that authentication, space-separated.
    pub amr: &'a str,
    /// The browser session it is bound to; `None` for offline access (survives logout).
    pub session_key: Option<&'a str>,
    pub code_hash: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A refresh token (by hash) with its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRecord {
    pub grant: GrantRecord,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub replay_response: Option<String>,
}

impl Store {
    pub async fn insert_grant(&self, g: &NewGrant<'_>) -> Result<()> {
        sqlx::query(
            "insert into grants (id, client_id, user_id, scope, auth_time, session_key, code_hash, created_at, expires_at, amr) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(g.id)
        .bind(g.client_id)
        .bind(g.user_id)
        .bind(g.scope)
        .bind(g.auth_time)
        .bind(g.session_key)
        .bind(g.code_hash)
        .bind(g.created_at)
        .bind(g.expires_at)
        .bind(g.amr)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn insert_refresh_token(
        &self,
        token_hash: &str,
        grant_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("insert into refresh_tokens (token_hash, grant_id, created_at, expires_at) values ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(grant_id)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        let row = sqlx::query(
            "select g.id, g.client_id, g.user_id, g.scope, g.auth_time, g.amr, g.created_at as g_created, g.expires_at as g_expires, \
             g.revoked_at, r.created_at, r.expires_at, r.rotated_at, r.replay_response \
             from refresh_tokens r join grants g on g.id = r.grant_id where r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(RefreshRecord {
                grant: GrantRecord {
                    id: r.try_get("id")?,
                    client_id: r.try_get("client_id")?,
                    user_id: r.try_get("user_id")?,
                    scope: r.try_get("scope")?,
                    auth_time: r.try_get("auth_time")?,
                    amr: r.try_get("amr")?,
                    created_at: r.try_get("g_created")?,
                    expires_at: r.try_get("g_expires")?,
                    revoked_at: r.try_get("revoked_at")?,
                },
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                rotated_at: r.try_get("rotated_at")?,
                replay_response: r.try_get("replay_response")?,
            })
        })
        .transpose()
    }

    /// Uses a refresh token in one statement: true for exactly one caller, and only while the
    /// token is unused, unexpired, its family live and issued to this client (RFC 6749 §6).
    pub async fn claim_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            // A correlated lookup of the one family: `grant_id in (select … where client_id = …)`
            // built the list of all the client's families on every refresh.
            "update refresh_tokens set rotated_at = $1 where token_hash = $2 and rotated_at is null and expires_at >= $1 \
             and exists (select 1 from grants g where g.id = refresh_tokens.grant_id and g.client_id = $3 \
             and g.revoked_at is null and g.expires_at >= $1)",
        )
        .bind(now)
        .bind(token_hash)
        .bind(client_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the (sealed) response a rotated token produced, for the replay window.
    pub async fn store_replay_response(&self, token_hash: &str, sealed: &str) -> Result<()> {
        sqlx::query("update refresh_tokens set replay_response = $1 where token_hash = $2")
            .bind(sealed)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a family, and with it every access token issued under it (their standing is
    /// checked against the grant). Returns 1 if the family was live.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<u64> {
        self.revoke_grants_where("id = $1", grant_id, None, now)
            .await
    }

    async fn revoke_grants_where(
        &self,
        condition: &str,
        value: &str,
        extra: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        // The bound values are $1 (and $2); `now` comes last.
        let at = if extra.is_some() { "$3" } else { "$2" };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "update grants set revoked_at = {at} where {condition} and revoked_at is null"
        )))
        .bind(value);
        if let Some(x) = extra {
            query = query.bind(x);
        }
        Ok(query.bind(now).execute(&self.pool).await?.rows_affected())
    }

    /// Password change: every refresh token of the user goes.
    pub async fn revoke_user_grants(&self, user_id: &str, now: i64) -> Result<u64> {
        self.revoke_grants_where("user_id = $1", user_id, None, now)
            .await
    }

    /// Logout: the families bound to this browser session (offline access survives).
    pub async fn revoke_session_grants(&self, session_key: &str, now: i64) -> Result<u64> {
        self.revoke_grants_where("session_key = $1", session_key, None, now)
            .await
    }

    /// A replayed code: the family it started.
    pub async fn revoke_code_grants(&self, code_hash: &str, now: i64) -> Result<u64> {
        self.revoke_grants_where("code_hash = $1", code_hash, None, now)
            .await
    }

    /// "Connected apps": the user withdraws an app's access.
    pub async fn revoke_user_client_grants(
        &self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<u64> {
        self.revoke_grants_where(
            "user_id = $1 and client_id = $2",
            user_id,
            Some(client_id),
            now,
        )
        .await
    }

    /// Live refresh-token families of a user: (client id, client name, scope). Grants that
    /// only back an access token (no refresh token) are not listed.
    pub async fn list_live_grants(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "select c.id, c.name, g.scope from grants g join clients c on c.id = g.client_id \
             where g.user_id = $1 and g.revoked_at is null and g.expires_at >= $2 \
             and exists (select 1 from refresh_tokens r where r.grant_id = g.id) order by g.created_at",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}
