//! Access-token standing. Tokens are self-contained JWTs and issuing one writes nothing; what
//! can end one early is a deny-list entry (by `jti`) or the end of its grant, its user or its
//! client.
use super::{Result, Store};

/// Whom an access token was issued under, as its claims say.
#[derive(Clone, Copy, Debug)]
pub struct TokenSubject<'a> {
    pub jti: &'a str,
    pub client_id: &'a str,
    /// `sub`: the user, or the client acting for itself.
    pub subject: &'a str,
    /// The grant of a user's token; `None` for a client acting for itself.
    pub grant_id: Option<&'a str>,
}

impl Store {
    /// RFC 7009: the token is denied until it would have expired anyway.
    pub async fn deny_access_token(&self, jti: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "insert into revoked_tokens (jti, expires_at) values ($1, $2) on conflict (jti) do nothing",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    /// True unless the token was revoked, its client is gone, or (for a user's token) its
    /// grant was revoked or is gone, or its user is gone or disabled. One query, so
    /// introspection and UserInfo cost one round trip, and none while the server's cache holds
    /// the answer.
    pub async fn access_token_is_active(&self, t: &TokenSubject<'_>) -> Result<bool> {
        self.read_through(|c| &c.standing, t.jti, async {
            let (denied, client, grant): (i64, i64, i64) = sqlx::query_as(
                "select (select count(*) from revoked_tokens where jti = $1), \
                 (select count(*) from clients where id = $2), \
                 (select count(*) from grants g join users u on u.id = g.user_id \
                  where g.id = $3 and g.client_id = $2 and g.user_id = $4 and g.revoked_at is null \
                  and u.disabled = 0)",
            )
            .bind(t.jti)
            .bind(t.client_id)
            .bind(t.grant_id.unwrap_or(""))
            .bind(t.subject)
            .fetch_one(&self.pool)
            .await?;
            Ok(denied == 0 && client == 1 && (t.grant_id.is_none() || grant == 1))
        })
        .await
    }
}
