//! The keystore: RS256 signing keys generated on the blocking pool, sealed with the master key
//! before they reach the store, parsed once and cached for signing, and published as a JWKS.
//! Signing goes through aws-lc-rs only; nothing here is a request-time key parse.
//! Imports `store`, `crypto`, `clock` and `config`.
mod master;

pub use master::MasterKey;

use crate::crypto::{b64url, random_id, sha256};
use crate::store::{self, Store, StoredKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The only algorithm we sign with, and so the only one we accept (SECURITY.md: JWTs we accept).
pub const ALG: &str = "RS256";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("store: {0}")]
    Store(#[from] store::Error),
    #[error("signing key {kid} cannot be decrypted: wrong master key or corrupted row")]
    Unseal { kid: String },
    #[error("signing key {kid} is not a valid RSA key")]
    Parse { kid: String },
    #[error("no signing key is available")]
    NoKey,
    #[error("key generation failed")]
    Generate,
    #[error("signing failed")]
    Sign,
    #[error("master key: {0}")]
    Master(String),
}

/// One parsed RSA key pair: the private part for signing, the public parts for JWKS/verification.
struct SigningKey {
    kid: String,
    pair: KeyPair,
    jwk: Jwk,
    decoding: jsonwebtoken::DecodingKey,
}

/// A public key in JWK form (RFC 7517/7518).
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// Signs with the current key; verifies with any published key.
pub struct Keystore {
    current: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    /// Serialized once at load; handlers clone the Arc.
    jwks: Arc<str>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("current_kid", &self.current.kid)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of an RSA public key: SHA-256 over the required members in order.
pub fn thumbprint(n: &str, e: &str) -> String {
    b64url(&sha256(
        format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes(),
    ))
}

impl Keystore {
    /// Loads every stored key, creating the first one if the store has none.
    pub async fn load_or_create(
        store: &Store,
        master: &MasterKey,
        now: i64,
    ) -> Result<Self, KeyError> {
        let mut rows = store.list_signing_keys().await?;
        if rows.is_empty() {
            let generated = tokio::task::spawn_blocking(|| KeyPair::generate(KeySize::Rsa2048))
                .await
                .map_err(|_| KeyError::Generate)?
                .map_err(|_| KeyError::Generate)?;
            let stored = seal_key(&generated, master, now)?;
            store.insert_signing_key(&stored).await?;
            tracing::info!(kid = %stored.kid, "generated a new RS256 signing key");
            // Another replica may have won the race; everyone uses what the store holds.
            rows = store.list_signing_keys().await?;
        }
        Self::from_rows(&rows, master)
    }

    fn from_rows(rows: &[StoredKey], master: &MasterKey) -> Result<Self, KeyError> {
        let mut by_kid = HashMap::new();
        let mut current: Option<Arc<SigningKey>> = None;
        for row in rows {
            let key = Arc::new(unseal_key(row, master)?);
            // Oldest current key signs, so replicas that raced at first start agree.
            if row.state == "current" && current.is_none() {
                current = Some(key.clone());
            }
            by_kid.insert(row.kid.clone(), key);
        }
        let current = current.ok_or(KeyError::NoKey)?;
        let keys: Vec<&Jwk> = rows
            .iter()
            .filter_map(|r| by_kid.get(&r.kid))
            .map(|k| &k.jwk)
            .collect();
        let jwks = serde_json::json!({ "keys": keys }).to_string().into();
        Ok(Self {
            current,
            by_kid,
            jwks,
        })
    }

    /// The JWKS document (public parts only), serialized once.
    pub fn jwks_json(&self) -> Arc<str> {
        self.jwks.clone()
    }

    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// The verification key for a kid we published, if any.
    pub fn decoding_key(&self, kid: &str) -> Option<&jsonwebtoken::DecodingKey> {
        self.by_kid.get(kid).map(|k| &k.decoding)
    }

    /// A compact JWS (RFC 7515) over `claims`, RS256 with the current key's `kid`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = serde_json::json!({ "alg": ALG, "typ": typ, "kid": self.current.kid });
        let mut out = b64url(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&b64url(
            &serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?,
        ));
        let mut sig = vec![0u8; self.current.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.current
            .pair
            .sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
            .map_err(|_| KeyError::Sign)?;
        out.push('.');
        out.push_str(&b64url(&sig));
        Ok(out)
    }
}

fn public_jwk(pair: &KeyPair) -> Jwk {
    let public = pair.public_key();
    let n = b64url(public.modulus().big_endian_without_leading_zero());
    let e = b64url(public.exponent().big_endian_without_leading_zero());
    Jwk {
        kty: "RSA".into(),
        use_: "sig".into(),
        alg: ALG.into(),
        kid: thumbprint(&n, &e),
        n,
        e,
    }
}

fn seal_key(pair: &KeyPair, master: &MasterKey, now: i64) -> Result<StoredKey, KeyError> {
    let jwk = public_jwk(pair);
    let der = pair.as_der().map_err(|_| KeyError::Generate)?;
    let sealed = master.seal(der.as_ref(), jwk.kid.as_bytes())?;
    Ok(StoredKey {
        kid: jwk.kid.clone(),
        alg: ALG.into(),
        state: "current".into(),
        sealed_private_key: sealed,
        public_jwk: serde_json::to_string(&jwk).map_err(|_| KeyError::Generate)?,
        created_at: now,
    })
}

fn unseal_key(row: &StoredKey, master: &MasterKey) -> Result<SigningKey, KeyError> {
    let der = master
        .open(&row.sealed_private_key, row.kid.as_bytes())
        .ok_or_else(|| KeyError::Unseal {
            kid: row.kid.clone(),
        })?;
    let pair = KeyPair::from_pkcs8(&der).map_err(|_| KeyError::Parse {
        kid: row.kid.clone(),
    })?;
    let jwk = public_jwk(&pair);
    if jwk.kid != row.kid {
        return Err(KeyError::Parse {
            kid: row.kid.clone(),
        });
    }
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|_| {
            KeyError::Parse {
                kid: row.kid.clone(),
            }
        })?;
    Ok(SigningKey {
        kid: row.kid.clone(),
        pair,
        jwk,
        decoding,
    })
}

/// A fresh random id for JWT `jti`.
pub fn new_jti() -> String {
    random_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1 example key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn sealed_key_round_trips_and_signs_verifiably() {
        let master = MasterKey::from_bytes([7u8; 32]);
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let row = seal_key(&pair, &master, 1).unwrap();
        assert!(
            !row.sealed_private_key.contains("MII"),
            "never plaintext DER/PEM"
        );
        let ks = Keystore::from_rows(std::slice::from_ref(&row), &master).unwrap();
        let jwt = ks.sign("JWT", &serde_json::json!({"sub": "x"})).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.kid.as_deref(), Some(row.kid.as_str()));
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        v.validate_aud = false;
        let data =
            jsonwebtoken::decode::<serde_json::Value>(&jwt, ks.decoding_key(&row.kid).unwrap(), &v)
                .unwrap();
        assert_eq!(data.claims["sub"], "x");
    }

    #[test]
    fn wrong_master_key_is_a_clear_error() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let row = seal_key(&pair, &MasterKey::from_bytes([1u8; 32]), 1).unwrap();
        let err = Keystore::from_rows(&[row], &MasterKey::from_bytes([2u8; 32])).unwrap_err();
        assert!(matches!(err, KeyError::Unseal { .. }));
    }
}
