//! Single-use JWTs: RFC 9449 §11.1 DPoP proofs and RFC 7523 §3 client assertions.
use super::{Result, Store};

impl Store {
    /// Records a JWT (by the hash of what names it) until `expires_at`; false if it was
    /// already recorded, which makes this the one check against replay, on every replica.
    pub async fn record_seen_jwt(&self, id_hash: &str, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "insert into seen_jwts (id_hash, expires_at) values ($1, $2) on conflict do nothing",
        )
        .bind(id_hash)
        .bind(expires_at)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
