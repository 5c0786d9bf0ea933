//! RFC 9449 §11.1: DPoP proofs already used.
use super::{Result, Store};

impl Store {
    /// Records a proof (by hash) until `expires_at`; false if it was already recorded, which
    /// makes this the one check against replay, on every replica.
    pub async fn record_dpop_proof(&self, proof_hash: &str, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "insert into dpop_proofs (proof_hash, expires_at) values ($1, $2) on conflict do nothing",
        )
        .bind(proof_hash)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
