//! RFC 9126 pushed authorization requests.
use super::{Result, Store};

impl Store {
    /// Keeps a pushed request (its parameters, JSON) under the hash of its `request_uri`.
    pub async fn insert_pushed_request(
        &self,
        uri_hash: &str,
        client_id: &str,
        params: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "insert into pushed_requests (uri_hash, client_id, params, expires_at) values ($1, $2, $3, $4)",
        )
        .bind(uri_hash)
        .bind(client_id)
        .bind(params)
        .bind(expires_at)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// Uses a pushed request once, in one statement: its parameters, if it is this client's
    /// and unexpired. Presented for another client, it stays as it was.
    pub async fn take_pushed_request(
        &self,
        uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "delete from pushed_requests where uri_hash = $1 and client_id = $2 and expires_at >= $3 \
             returning params",
        )
        .bind(uri_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(self.writer_for_uncached())
        .await?)
    }
}
