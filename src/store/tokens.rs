use super::{Result, Store};

/// A record of an issued access token, so it can be revoked before it expires.
#[derive(Debug)]
pub struct NewAccessToken<'a> {
    pub jti: &'a str,
    pub client_id: &'a str,
    pub user_id: Option<&'a str>,
    pub code_hash: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub scope: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

impl Store {
    pub async fn insert_access_token(&self, t: &NewAccessToken<'_>) -> Result<()> {
        sqlx::query(
            "insert into access_tokens (jti, client_id, user_id, code_hash, grant_id, scope, expires_at, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.jti)
        .bind(t.client_id)
        .bind(t.user_id)
        .bind(t.code_hash)
        .bind(t.grant_id)
        .bind(t.scope)
        .bind(t.expires_at)
        .bind(t.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// RFC 6749 §4.1.2: a reused code revokes every token issued from it.
    pub async fn revoke_tokens_from_code(&self, code_hash: &str, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "update access_tokens set revoked_at = $1 where code_hash = $2 and revoked_at is null",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        // And the refresh-token family the code started, with its access tokens.
        Ok(done.rows_affected() + self.revoke_code_grants(code_hash, now).await?)
    }

    /// True when the token was issued by us, is unexpired and not revoked, nor is its family
    /// (so a family revoked while a refresh was minting still takes the new token with it).
    pub async fn access_token_is_active(&self, jti: &str, now: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from access_tokens t left join grants g on g.id = t.grant_id \
             where t.jti = $1 and t.revoked_at is null and t.expires_at >= $2 \
             and (t.grant_id is null or g.revoked_at is null)",
        )
        .bind(jti)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}
