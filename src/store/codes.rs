use super::{Result, Store};
use sqlx::Row;

/// An authorization code to store: only its hash is kept.
#[derive(Debug)]
pub struct NewCode<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    /// RFC 8707: the APIs it covers, space-separated identifiers.
    pub resource: &'a str,
    pub nonce: Option<&'a str>,
    pub code_challenge: &'a str,
    pub code_challenge_method: &'a str,
    /// The browser session the code was issued in (hash), for session-bound refresh tokens.
    pub session_key: Option<&'a str>,
    pub auth_time: i64,
    /// RFC 8176 methods of that authentication, space-separated.
    pub amr: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
    /// RFC 9449 §10: the DPoP key whose proof must come with the redemption.
    pub dpop_jkt: Option<&'a str>,
}

/// What a redeemed code grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeGrant {
    pub user_id: String,
    pub session_key: Option<String>,
    pub scope: String,
    /// RFC 8707: the APIs it covers, space-separated identifiers.
    pub resource: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub amr: String,
}

/// What a code redemption presents, checked against the stored code.
#[derive(Debug)]
pub struct Redemption<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// Computed from the verifier; `""` with method `none` when the client sent none.
    pub code_challenge: &'a str,
    pub code_challenge_method: &'a str,
    pub now: i64,
    /// The key of the request's DPoP proof, which a bound code must name.
    pub dpop_jkt: Option<&'a str>,
}

/// The one redeeming statement, on the pool or inside a transaction.
pub(super) async fn consume<'e, E>(db: E, r: &Redemption<'_>) -> Result<Option<CodeGrant>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "update authorization_codes set consumed_at = $1 \
         where code_hash = $2 and client_id = $3 and redirect_uri = $4 and code_challenge = $5 \
         and code_challenge_method = $6 and consumed_at is null and expires_at >= $1 \
         and (dpop_jkt is null or dpop_jkt = $7) \
         returning user_id, scope, resource, nonce, auth_time, session_key, amr",
    )
    .bind(r.now)
    .bind(r.code_hash)
    .bind(r.client_id)
    .bind(r.redirect_uri)
    .bind(r.code_challenge)
    .bind(r.code_challenge_method)
    .bind(r.dpop_jkt)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(CodeGrant {
            user_id: r.try_get("user_id")?,
            session_key: r.try_get("session_key")?,
            scope: r.try_get("scope")?,
            resource: r.try_get("resource")?,
            nonce: r.try_get("nonce")?,
            auth_time: r.try_get("auth_time")?,
            amr: r.try_get("amr")?,
        })
    })
    .transpose()
}

impl Store {
    /// The APIs an unredeemed code of this client covers, to check a `resource` before the
    /// redemption spends the code.
    pub async fn code_resource(&self, code_hash: &str, client_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "select resource from authorization_codes \
             where code_hash = $1 and client_id = $2 and consumed_at is null",
        )
        .bind(code_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn insert_code(&self, c: &NewCode<'_>) -> Result<()> {
        sqlx::query(
            "insert into authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, \
             code_challenge, code_challenge_method, auth_time, expires_at, created_at, session_key, amr, \
             resource, dpop_jkt) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(c.code_hash)
        .bind(c.client_id)
        .bind(c.user_id)
        .bind(c.redirect_uri)
        .bind(c.scope)
        .bind(c.nonce)
        .bind(c.code_challenge)
        .bind(c.code_challenge_method)
        .bind(c.auth_time)
        .bind(c.expires_at)
        .bind(c.created_at)
        .bind(c.session_key)
        .bind(c.amr)
        .bind(c.resource)
        .bind(c.dpop_jkt)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// Redeems a code in one statement (RFC 6749 §4.1.2, §4.1.3; RFC 7636 §4.6): it must be
    /// unconsumed, unexpired, issued to this client for this redirect_uri, and its stored
    /// challenge and method must equal the ones computed from the verifier (`""` and `none`
    /// for a code issued without PKCE). A mismatch changes nothing.
    pub async fn consume_code(
        &self,
        code_hash: &str,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        code_challenge_method: &str,
        now: i64,
    ) -> Result<Option<CodeGrant>> {
        let redemption = Redemption {
            code_hash,
            client_id,
            redirect_uri,
            code_challenge,
            code_challenge_method,
            now,
            dpop_jkt: None,
        };
        consume(self.writer_for_uncached(), &redemption).await
    }

    /// Marks a redeemed code as replayed; true when the code exists and had been redeemed.
    pub async fn mark_code_replayed(&self, code_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "update authorization_codes set replayed_at = $1 where code_hash = $2 and consumed_at is not null",
        )
        .bind(now)
        .bind(code_hash)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sign-out: codes issued in this browser session and not yet redeemed stop working.
    pub async fn expire_session_codes(&self, session_key: &str) -> Result<u64> {
        let done = sqlx::query(
            "update authorization_codes set expires_at = 0 where session_key = $1 and consumed_at is null",
        )
        .bind(session_key)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(done.rows_affected())
    }

    /// True when a replay of this code has been seen.
    pub async fn code_was_replayed(&self, code_hash: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from authorization_codes where code_hash = $1 and replayed_at is not null",
        )
        .bind(code_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// True when the code exists and was already redeemed.
    pub async fn code_was_consumed(&self, code_hash: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from authorization_codes where code_hash = $1 and consumed_at is not null",
        )
        .bind(code_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}
