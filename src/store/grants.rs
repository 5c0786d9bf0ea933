//! Refresh-token families ("grants") and their rotating refresh tokens.
use super::codes::{CodeGrant, Redemption, consume};
use super::{Result, Store};
use sqlx::Row;

/// What a redeemed code becomes, decided from the code: its grant, and that grant's first
/// refresh token if it has one.
#[derive(Debug)]
pub struct GrantPlan {
    pub id: String,
    pub scope: String,
    /// RFC 8707: the APIs it covers, space-separated identifiers.
    pub resource: String,
    /// The browser session it is bound to; `None` for offline access (survives logout).
    pub session_key: Option<String>,
    pub expires_at: i64,
    pub refresh: Option<NewRefresh>,
    /// RFC 9449 §5: the DPoP key (thumbprint) its refresh tokens are bound to.
    pub dpop_jkt: Option<String>,
    /// The `sid` its ID tokens carry (OIDC Back-Channel Logout 1.0 §2.1).
    pub sid: Option<String>,
}

/// A refresh token to record (its hash only).
#[derive(Debug)]
pub struct NewRefresh {
    pub token_hash: String,
    pub expires_at: i64,
}

async fn insert_grant_on<'e, E>(db: E, g: &NewGrant<'_>) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "insert into grants (id, client_id, user_id, scope, auth_time, session_key, code_hash, created_at, expires_at, amr, \
         resource, dpop_jkt, sid) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
    .bind(g.resource)
    .bind(g.dpop_jkt)
    .bind(g.sid)
    .execute(db)
    .await?;
    Ok(())
}

async fn insert_refresh_on<'e, E>(db: E, grant_id: &str, r: &NewRefresh, now: i64) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("insert into refresh_tokens (token_hash, grant_id, created_at, expires_at) values ($1, $2, $3, $4)")
        .bind(&r.token_hash)
        .bind(grant_id)
        .bind(now)
        .bind(r.expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// A new refresh-token family.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub scope: &'a str,
    pub resource: &'a str,
    pub auth_time: i64,
    /// RFC 8176 methods of that authentication, space-separated.
    pub amr: &'a str,
    /// The browser session it is bound to; `None` for offline access (survives logout).
    pub session_key: Option<&'a str>,
    pub code_hash: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: i64,
    pub dpop_jkt: Option<&'a str>,
    pub sid: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    /// RFC 8707: the APIs it covers, space-separated identifiers.
    pub resource: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// RFC 9449 §5: the DPoP key its refresh tokens are bound to.
    pub dpop_jkt: Option<String>,
    /// The session id its ID tokens carry.
    pub sid: Option<String>,
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
    /// Redeems a code and records the grant `plan` makes of it, with its first refresh token,
    /// in one transaction: a replay then either finds the code unredeemed or finds the grant
    /// to revoke, never the moment between. `None` (nothing written) when the code does not
    /// pass its checks.
    pub async fn redeem_code(
        &self,
        code: &Redemption<'_>,
        plan: impl FnOnce(&CodeGrant) -> GrantPlan,
    ) -> Result<Option<(CodeGrant, GrantPlan)>> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        let Some(grant) = consume(&mut *tx, code).await? else {
            return Ok(None);
        };
        let plan = plan(&grant);
        insert_grant_on(
            &mut *tx,
            &NewGrant {
                id: &plan.id,
                client_id: code.client_id,
                user_id: &grant.user_id,
                scope: &plan.scope,
                resource: &plan.resource,
                auth_time: grant.auth_time,
                amr: &grant.amr,
                session_key: plan.session_key.as_deref(),
                code_hash: Some(code.code_hash),
                created_at: code.now,
                expires_at: plan.expires_at,
                dpop_jkt: plan.dpop_jkt.as_deref(),
                sid: plan.sid.as_deref(),
            },
        )
        .await?;
        if let Some(refresh) = &plan.refresh {
            insert_refresh_on(&mut *tx, &plan.id, refresh, code.now).await?;
        }
        tx.commit().await?;
        Ok(Some((grant, plan)))
    }

    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        let row = sqlx::query(
            "select g.id, g.client_id, g.user_id, g.scope, g.resource, g.auth_time, g.amr, g.created_at as g_created, g.expires_at as g_expires, \
             g.revoked_at, g.dpop_jkt, g.sid, r.created_at, r.expires_at, r.rotated_at, r.replay_response \
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
                    resource: r.try_get("resource")?,
                    auth_time: r.try_get("auth_time")?,
                    amr: r.try_get("amr")?,
                    created_at: r.try_get("g_created")?,
                    expires_at: r.try_get("g_expires")?,
                    revoked_at: r.try_get("revoked_at")?,
                    dpop_jkt: r.try_get("dpop_jkt")?,
                    sid: r.try_get("sid")?,
                },
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                rotated_at: r.try_get("rotated_at")?,
                replay_response: r.try_get("replay_response")?,
            })
        })
        .transpose()
    }

    /// Rotates a refresh token in one transaction (RFC 9700 §4.14.2): claims it (once, by its
    /// own client, while it and its family are live), records its successor and keeps the
    /// sealed response for the replay window. False, with nothing written, when it cannot be
    /// claimed.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        grant_id: &str,
        successor: &NewRefresh,
        replay_response: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        if !claim_on(&mut *tx, token_hash, client_id, replay_response, now).await? {
            return Ok(false);
        }
        insert_refresh_on(&mut *tx, grant_id, successor, now).await?;
        tx.commit().await?;
        Ok(true)
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
        Ok(query
            .bind(now)
            .execute(&*self.writer())
            .await?
            .rows_affected())
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

    /// Live grants of a user or of a client (either filter may be left out), newest first.
    pub async fn list_grants(
        &self,
        user_id: Option<&str>,
        client_id: Option<&str>,
        now: i64,
    ) -> Result<Vec<GrantRow>> {
        let rows: Vec<(String, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "select id, user_id, client_id, scope, auth_time, created_at, expires_at from grants \
             where ($1 is null or user_id = $1) and ($2 is null or client_id = $2) \
             and revoked_at is null and expires_at >= $3 order by created_at desc, id limit 1000",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, user_id, client_id, scope, auth_time, created_at, expires_at)| GrantRow {
                    id,
                    user_id,
                    client_id,
                    scope,
                    auth_time,
                    created_at,
                    expires_at,
                },
            )
            .collect())
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

/// A live grant as the admin surface lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRow {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Uses a refresh token in one statement: true for exactly one caller, and only while the token
/// is unused, unexpired, its family live and issued to this client (RFC 6749 §6). The same
/// statement keeps the sealed response for the replay window.
async fn claim_on<'e, E>(
    db: E,
    token_hash: &str,
    client_id: &str,
    replay_response: Option<&str>,
    now: i64,
) -> Result<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let done = sqlx::query(
        // A correlated lookup of the one family: `grant_id in (select … where client_id = …)`
        // built the list of all the client's families on every refresh.
        "update refresh_tokens set rotated_at = $1, replay_response = $4 \
         where token_hash = $2 and rotated_at is null and expires_at >= $1 \
         and exists (select 1 from grants g where g.id = refresh_tokens.grant_id and g.client_id = $3 \
         and g.revoked_at is null and g.expires_at >= $1)",
    )
    .bind(now)
    .bind(token_hash)
    .bind(client_id)
    .bind(replay_response)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
