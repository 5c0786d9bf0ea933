//! The keystore: RS256 signing keys generated on the blocking pool, sealed with the master key
//! before they reach the store, parsed once and cached for signing, published as a JWKS, and
//! rotated on a schedule (see `rotation`). Signing goes through aws-lc-rs only.
//! Imports `store`, `crypto`, `clock` and `config`.
mod master;
pub mod rotation;

pub use master::MasterKey;
pub use rotation::Policy;

use crate::crypto::{b64url, random_id, sha256};
use crate::domain::KeyState;
use crate::store::{self, Store, StoredKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use rotation::Action;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The only algorithm we sign with, and so the only one we accept (SECURITY.md: JWTs we accept).
pub const ALG: &str = "RS256";
const LEASE: &str = "key-rotation";
const LEASE_TTL: i64 = 60;

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
    #[error("no key with kid {0}")]
    UnknownKid(String),
    #[error("another process is changing the keys; try again")]
    Busy,
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

/// What a key's metadata says, for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub created_at: i64,
    pub activates_at: Option<i64>,
    pub retires_at: Option<i64>,
}

/// An immutable snapshot: the signer, every published key, and the JWKS bytes.
struct KeySet {
    signer: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    jwks: Arc<str>,
    etag: Arc<str>,
    infos: Vec<KeyInfo>,
}

/// Signs with the current key; verifies with any published key; rotates on schedule.
pub struct Keystore {
    store: Store,
    master: MasterKey,
    policy: Policy,
    set: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("current_kid", &self.current_kid())
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
    /// Loads the keys, first bringing the store up to date (creating the first key if there is
    /// none). With several replicas starting at once, one creates and the others wait for it.
    pub async fn open(
        store: Store,
        master: MasterKey,
        policy: Policy,
        now: i64,
    ) -> Result<Self, KeyError> {
        let mut rows = store.list_signing_keys().await?;
        for _ in 0..100 {
            if rows
                .iter()
                .any(|r| r.state == KeyState::Current || r.state == KeyState::Next)
            {
                break;
            }
            match run_steps(&store, &master, &policy, now).await {
                Ok(()) | Err(KeyError::Busy) => {}
                Err(e) => return Err(e),
            }
            rows = store.list_signing_keys().await?;
            if !rows
                .iter()
                .any(|r| r.state == KeyState::Current || r.state == KeyState::Next)
            {
                // Another replica holds the lease and is creating the key.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let set = build_set(&rows, &master, None)?;
        Ok(Self {
            store,
            master,
            policy,
            set: RwLock::new(Arc::new(set)),
        })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the store (other replicas may have rotated); parsed keys are reused by kid.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let rows = self.store.list_signing_keys().await?;
        let previous = self.snapshot();
        let set = build_set(&rows, &self.master, Some(&previous))?;
        if set.signer.kid != previous.signer.kid {
            tracing::info!(kid = %set.signer.kid, "signing with a new key");
        }
        match self.set.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    /// One scheduled pass: under the lease, make every due change; then reload. Another
    /// replica holding the lease is not an error: its changes arrive with the reload.
    pub async fn tick(&self, now: i64) -> Result<(), KeyError> {
        match run_steps(&self.store, &self.master, &self.policy, now).await {
            Ok(()) | Err(KeyError::Busy) => {}
            Err(e) => return Err(e),
        }
        self.reload().await
    }

    /// Starts a rotation now. Normally the new key is published and signs one publish lead
    /// later; with `immediate` it signs at once (breaks relying parties' JWKS caches).
    pub async fn rotate(&self, now: i64, immediate: bool) -> Result<String, KeyError> {
        let kid = self
            .with_lease(now, async {
                let rows = self.store.list_signing_keys().await?;
                if !immediate && let Some(next) = rows.iter().find(|r| r.state == KeyState::Next) {
                    return Ok(next.kid.clone());
                }
                let activates_at = if immediate {
                    now
                } else {
                    now + self.policy.publish_lead
                };
                let kid = create_key(&self.store, &self.master, KeyState::Next, now, activates_at)
                    .await?;
                if immediate {
                    self.store
                        .promote_signing_key(&kid, now, now + self.policy.retire_after)
                        .await?;
                }
                Ok(kid)
            })
            .await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Removes a compromised key from the JWKS at once; tokens it signed stop verifying here.
    /// If it is the signer, a new key takes over immediately.
    pub async fn revoke(&self, kid: &str, now: i64) -> Result<(), KeyError> {
        self.with_lease(now, async {
            let rows = self.store.list_signing_keys().await?;
            let row = rows
                .iter()
                .find(|r| r.kid == kid)
                .ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
            if row.state == KeyState::Current {
                let new = create_key(&self.store, &self.master, KeyState::Next, now, now).await?;
                self.store
                    .promote_signing_key(&new, now, now + self.policy.retire_after)
                    .await?;
            }
            self.store.delete_signing_key(kid).await?;
            crate::audit::emit(
                crate::audit::Event::KeyRevoked,
                "keystore",
                &crate::audit::key(kid),
                None,
            );
            Ok(())
        })
        .await?;
        self.reload().await
    }

    async fn with_lease<T>(
        &self,
        now: i64,
        f: impl Future<Output = Result<T, KeyError>>,
    ) -> Result<T, KeyError> {
        // A fresh holder per acquisition: two tasks of one process exclude each other too.
        let holder = random_id();
        acquire(&self.store, &holder, now).await?;
        let result = f.await;
        self.store.release_lease(LEASE, &holder).await?;
        result
    }

    /// The JWKS document (public parts only) and its ETag, serialized once per key change.
    pub fn jwks(&self) -> (Arc<str>, Arc<str>) {
        let s = self.snapshot();
        (s.jwks.clone(), s.etag.clone())
    }

    pub fn current_kid(&self) -> String {
        self.snapshot().signer.kid.clone()
    }

    pub fn infos(&self) -> Vec<KeyInfo> {
        self.snapshot().infos.clone()
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The verification key for a kid we publish, if any.
    pub fn decoding_key(&self, kid: &str) -> Option<jsonwebtoken::DecodingKey> {
        self.snapshot().by_kid.get(kid).map(|k| k.decoding.clone())
    }

    /// A compact JWS (RFC 7515) over `claims`, RS256 with the current key's `kid`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let set = self.snapshot();
        let key = &set.signer;
        let header = serde_json::json!({ "alg": ALG, "typ": typ, "kid": key.kid });
        let mut out = b64url(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&b64url(
            &serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?,
        ));
        let mut sig = vec![0u8; key.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        key.pair
            .sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
            .map_err(|_| KeyError::Sign)?;
        out.push('.');
        out.push_str(&b64url(&sig));
        Ok(out)
    }
}

/// Takes the rotation lease, waiting a little while another process holds it (its steps take
/// at most a key generation or two).
async fn acquire(store: &Store, holder: &str, now: i64) -> Result<(), KeyError> {
    for _ in 0..30 {
        if store
            .try_acquire_lease(LEASE, holder, now, LEASE_TTL)
            .await?
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(KeyError::Busy)
}

/// Applies every due action under the lease (a handful at most: create, promote, delete).
async fn run_steps(
    store: &Store,
    master: &MasterKey,
    policy: &Policy,
    now: i64,
) -> Result<(), KeyError> {
    let holder = &random_id();
    acquire(store, holder, now).await?;
    let mut result = Ok(());
    for _ in 0..8 {
        let rows = match store.list_signing_keys().await {
            Ok(r) => r,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        let Some(action) = rotation::plan(&rows, policy, now) else {
            break;
        };
        tracing::info!(?action, "key rotation step");
        let done = match action {
            Action::CreateCurrent => create_key(store, master, KeyState::Current, now, now)
                .await
                .map(|_| ()),
            Action::CreateNext { activates_at } => {
                create_key(store, master, KeyState::Next, now, activates_at)
                    .await
                    .map(|_| ())
            }
            Action::Promote { kid } => store
                .promote_signing_key(&kid, now, now + policy.retire_after)
                .await
                .map_err(Into::into),
            Action::Delete { kid } => store
                .delete_signing_key(&kid)
                .await
                .map(|_| ())
                .map_err(Into::into),
        };
        if let Err(e) = done {
            result = Err(e);
            break;
        }
    }
    store.release_lease(LEASE, holder).await?;
    result
}

/// Generates a 2048-bit RSA key on the blocking pool, seals it and stores it.
async fn create_key(
    store: &Store,
    master: &MasterKey,
    state: KeyState,
    now: i64,
    activates_at: i64,
) -> Result<String, KeyError> {
    let pair = tokio::task::spawn_blocking(|| KeyPair::generate(KeySize::Rsa2048))
        .await
        .map_err(|_| KeyError::Generate)?
        .map_err(|_| KeyError::Generate)?;
    let mut row = seal_key(&pair, master, now)?;
    row.state = state;
    row.activates_at = Some(activates_at);
    store.insert_signing_key(&row).await?;
    tracing::info!(kid = %row.kid, state = %state, activates_at, "generated a new RS256 signing key");
    crate::audit::emit(
        crate::audit::Event::KeyRotated,
        "keystore",
        &crate::audit::key(&row.kid),
        None,
    );
    Ok(row.kid)
}

/// Builds a snapshot; keys already parsed in `previous` are reused.
fn build_set(
    rows: &[StoredKey],
    master: &MasterKey,
    previous: Option<&KeySet>,
) -> Result<KeySet, KeyError> {
    let mut by_kid = HashMap::new();
    for row in rows {
        let key = match previous.and_then(|p| p.by_kid.get(&row.kid)) {
            Some(k) => k.clone(),
            None => Arc::new(unseal_key(row, master)?),
        };
        by_kid.insert(row.kid.clone(), key);
    }
    // The newest activated current key signs; all replicas reading the same rows agree.
    let signer = rows
        .iter()
        .filter(|r| r.state == KeyState::Current)
        .max_by_key(|r| {
            (
                r.activates_at.unwrap_or(r.created_at),
                r.created_at,
                r.kid.clone(),
            )
        })
        .and_then(|r| by_kid.get(&r.kid))
        .cloned()
        .ok_or(KeyError::NoKey)?;
    // JWKS order: the signer, then next, then retired keys.
    let rank = |s: KeyState| match s {
        KeyState::Current => 0,
        KeyState::Next => 1,
        KeyState::Retired => 2,
    };
    let mut ordered: Vec<&StoredKey> = rows.iter().collect();
    ordered.sort_by_key(|r| (r.kid != signer.kid, rank(r.state), r.created_at));
    let keys: Vec<&Jwk> = ordered
        .iter()
        .filter_map(|r| by_kid.get(&r.kid))
        .map(|k| &k.jwk)
        .collect();
    let jwks: Arc<str> = serde_json::json!({ "keys": keys }).to_string().into();
    let etag = format!("\"{}\"", &b64url(&sha256(jwks.as_bytes()))[..22]).into();
    let infos = rows
        .iter()
        .map(|r| KeyInfo {
            kid: r.kid.clone(),
            alg: r.alg.clone(),
            state: r.state,
            created_at: r.created_at,
            activates_at: r.activates_at,
            retires_at: r.retires_at,
        })
        .collect();
    Ok(KeySet {
        signer,
        by_kid,
        jwks,
        etag,
        infos,
    })
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
        state: KeyState::Current,
        sealed_private_key: sealed,
        public_jwk: serde_json::to_string(&jwk).map_err(|_| KeyError::Generate)?,
        created_at: now,
        activates_at: Some(now),
        retires_at: None,
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

/// True when base64url `data` holds the DER rsaEncryption OID: a plaintext PKCS#8 key would.
#[doc(hidden)]
pub fn contains_rsa_oid(data: &str) -> bool {
    const OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    crate::crypto::b64url_decode(data).is_some_and(|b| b.windows(OID.len()).any(|w| w == OID))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_pkcs8_is_detected() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        assert!(contains_rsa_oid(&b64url(der.as_ref())));
    }

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
            !contains_rsa_oid(&row.sealed_private_key),
            "never plaintext DER/PEM"
        );
        let set = build_set(std::slice::from_ref(&row), &master, None).unwrap();
        assert_eq!(set.signer.kid, row.kid);
        assert!(!set.jwks.contains("\"d\""), "public parts only");
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        v.validate_aud = false;
        let header = serde_json::json!({ "alg": ALG, "typ": "JWT", "kid": row.kid });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(br#"{"sub":"x"}"#)
        );
        let mut sig = vec![0u8; set.signer.pair.public_modulus_len()];
        set.signer
            .pair
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        let jwt = format!("{signing_input}.{}", b64url(&sig));
        let data =
            jsonwebtoken::decode::<serde_json::Value>(&jwt, &set.by_kid[&row.kid].decoding, &v)
                .unwrap();
        assert_eq!(data.claims["sub"], "x");
    }

    #[test]
    fn wrong_master_key_is_a_clear_error() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let row = seal_key(&pair, &MasterKey::from_bytes([1u8; 32]), 1).unwrap();
        let err = build_set(&[row], &MasterKey::from_bytes([2u8; 32]), None)
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::Unseal { .. }));
    }
}
