use super::{Error, Result, Store};
use crate::domain::{Alg, KeyState};
use sqlx::Row;

/// A signing key as stored: the private part sealed by the keystore, never plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    pub sealed_private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    /// When it starts (or started) signing.
    pub activates_at: Option<i64>,
    /// When a retired key leaves the JWKS and is deleted.
    pub retires_at: Option<i64>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Inserts unless a key with that kid exists.
    pub async fn insert_signing_key(&self, k: &StoredKey) -> Result<()> {
        sqlx::query(
            "insert into signing_keys (kid, alg, state, private_key, public_jwk, created_at, activates_at, retires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (kid) do nothing",
        )
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(k.state.as_str())
        .bind(&k.sealed_private_key)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.activates_at)
        .bind(k.retires_at)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// All keys, oldest first.
    pub async fn list_signing_keys(&self) -> Result<Vec<StoredKey>> {
        let rows = sqlx::query(
            "select kid, alg, state, private_key, public_jwk, created_at, activates_at, retires_at \
             from signing_keys order by created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    kid: r.try_get("kid")?,
                    alg: Alg::parse(&r.try_get::<String, _>("alg")?)
                        .ok_or_else(|| Error::Corrupt("unknown key algorithm".into()))?,
                    state: KeyState::parse(&r.try_get::<String, _>("state")?)
                        .ok_or_else(|| Error::Corrupt("unknown key state".into()))?,
                    sealed_private_key: r.try_get("private_key")?,
                    public_jwk: r.try_get("public_jwk")?,
                    created_at: r.try_get("created_at")?,
                    activates_at: r.try_get("activates_at")?,
                    retires_at: r.try_get("retires_at")?,
                })
            })
            .collect()
    }

    /// Makes `kid` the signing key, then retires every other current key of its algorithm until
    /// `retires_at`.
    /// In that order, a crash in between leaves two current keys (both still published), which
    /// the next rotation step resolves; never none.
    pub async fn promote_signing_key(&self, kid: &str, now: i64, retires_at: i64) -> Result<()> {
        sqlx::query(
            "update signing_keys set state = 'current', activates_at = $1 where kid = $2 and state = 'next'",
        )
        .bind(now)
        .bind(kid)
        .execute(self.writer_for_uncached())
        .await?;
        sqlx::query(
            "update signing_keys set state = 'retired', retires_at = $1 where state = 'current' and kid <> $2 \
             and alg = (select alg from signing_keys where kid = $3)",
        )
        .bind(retires_at)
        .bind(kid)
        .bind(kid)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(())
    }

    /// Removes a key at once (expired retirement, or revocation). True when it existed.
    pub async fn delete_signing_key(&self, kid: &str) -> Result<bool> {
        let done = sqlx::query("delete from signing_keys where kid = $1")
            .bind(kid)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Takes the named lease for `ttl` seconds if it is free or expired; one statement, so
    /// exactly one contender wins on either backend.
    pub async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "insert into leases (name, holder, expires_at) values ($1, $2, $3) \
             on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at \
             where leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl)
        .bind(now)
        .execute(self.writer_for_uncached())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("delete from leases where name = $1 and holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.writer_for_uncached())
            .await?;
        Ok(())
    }
}
