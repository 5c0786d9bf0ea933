use super::{Result, Store};
use sqlx::Row;

/// A signing key as stored: the private part sealed by the keystore, never plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub sealed_private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Inserts unless a key with that kid exists (two replicas starting at once).
    pub async fn insert_signing_key(&self, k: &StoredKey) -> Result<()> {
        sqlx::query(
            "insert into signing_keys (kid, alg, state, private_key, public_jwk, created_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (kid) do nothing",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.state)
        .bind(&k.sealed_private_key)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// All keys, oldest first.
    pub async fn list_signing_keys(&self) -> Result<Vec<StoredKey>> {
        let rows = sqlx::query(
            "select kid, alg, state, private_key, public_jwk, created_at from signing_keys order by created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    state: r.try_get("state")?,
                    sealed_private_key: r.try_get("private_key")?,
                    public_jwk: r.try_get("public_jwk")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
