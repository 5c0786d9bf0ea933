//! The keystore: signing keys (RS256, and ES256 and Ed25519 where configured) generated on the
//! blocking pool, sealed with the master key before they reach the store, parsed once and
//! cached for signing, published as one JWKS, and rotated on a schedule, each algorithm on its
//! own (see `rotation`). Signing goes through aws-lc-rs only.
//! Imports `store`, `crypto`, `clock` and `config`.
mod master;
pub mod pem;
pub mod rotation;

pub use master::MasterKey;
pub use rotation::Policy;

use crate::crypto::{b64url, random_id, sha256};
use crate::domain::{Alg, AlgSet, KeyState};
use crate::store::{self, Store, StoredKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use rotation::Action;
use serde::Serialize;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

const LEASE: &str = "key-rotation";
const LEASE_TTL: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("store: {0}")]
    Store(#[from] store::Error),
    #[error("signing key {kid} cannot be decrypted: wrong master key or corrupted row")]
    Unseal { kid: String },
    #[error("signing key {kid} is not a valid key for its algorithm")]
    Parse { kid: String },
    #[error("no {0} signing key is available")]
    NoKey(Alg),
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
    /// A key to import that cannot be used.
    #[error("{0}")]
    Import(String),
}

/// A private key of one of the algorithms we sign with.
enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Pair {
    /// RSA takes tens of milliseconds; callers run this on the blocking pool.
    fn generate(alg: Alg) -> Result<Self, KeyError> {
        match alg {
            Alg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048).map(Self::Rsa),
            Alg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map(Self::Ec),
            Alg::EdDSA => Ed25519KeyPair::generate().map(Self::Ed),
        }
        .map_err(|_| KeyError::Generate)
    }

    fn from_pkcs8(alg: Alg, der: &[u8]) -> Option<Self> {
        match alg {
            Alg::RS256 => RsaKeyPair::from_pkcs8(der).ok().map(Self::Rsa),
            Alg::ES256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .ok()
                .map(Self::Ec),
            Alg::EdDSA => Ed25519KeyPair::from_pkcs8(der).ok().map(Self::Ed),
        }
    }

    fn alg(&self) -> Alg {
        match self {
            Self::Rsa(_) => Alg::RS256,
            Self::Ec(_) => Alg::ES256,
            Self::Ed(_) => Alg::EdDSA,
        }
    }

    fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        let der = match self {
            Self::Rsa(p) => p.as_der().map(|d| d.as_ref().to_vec()),
            Self::Ec(p) => p.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            Self::Ed(p) => p.to_pkcs8().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|_| KeyError::Generate)
    }

    /// The public half as a JWK (RFC 7518 §6.2/§6.3, RFC 8037 §2), its kid the RFC 7638
    /// thumbprint.
    fn public_jwk(&self) -> Jwk {
        let mut jwk = match self {
            Self::Rsa(p) => {
                let public = p.public_key();
                Jwk {
                    kty: "RSA".into(),
                    n: Some(b64url(public.modulus().big_endian_without_leading_zero())),
                    e: Some(b64url(public.exponent().big_endian_without_leading_zero())),
                    ..Jwk::default()
                }
            }
            Self::Ec(p) => {
                // Uncompressed SEC1 point: 0x04, then x and y, 32 bytes each.
                let point = p.public_key().as_ref();
                Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(b64url(&point[1..33])),
                    y: Some(b64url(&point[33..65])),
                    ..Jwk::default()
                }
            }
            Self::Ed(p) => Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64url(p.public_key().as_ref())),
                ..Jwk::default()
            },
        };
        jwk.use_ = "sig".into();
        jwk.alg = self.alg().as_str().into();
        jwk.kid = jwk.thumbprint();
        jwk
    }

    /// The JWS signature over `input`: PKCS#1 v1.5 for RS256, r‖s (64 bytes, RFC 7518 §3.4)
    /// for ES256, the 64-byte Ed25519 signature for EdDSA.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Self::Rsa(p) => {
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(&RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            Self::Ec(p) => p
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            Self::Ed(p) => Ok(p.sign(input).as_ref().to_vec()),
        }
    }
}

/// One parsed key pair: the private part for signing, the public parts for JWKS/verification.
struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    jwk: Jwk,
    decoding: jsonwebtoken::DecodingKey,
}

/// A public key in JWK form (RFC 7517/7518, RFC 8037): RSA keys carry `n` and `e`, EC and OKP
/// keys `crv` and `x` (and EC `y`).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    /// Empty when a key someone else sent leaves them out (RFC 7517 §4: all optional).
    #[serde(rename = "use", default)]
    pub use_: String,
    #[serde(default)]
    pub alg: String,
    #[serde(default)]
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
}

impl Jwk {
    /// RFC 7638 §3.2 (RFC 8037 §2 for OKP): SHA-256 over the required members, in
    /// lexicographic order, with no whitespace.
    pub fn thumbprint(&self) -> String {
        let get = |v: &Option<String>| v.clone().unwrap_or_default();
        let canonical = match self.kty.as_str() {
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                get(&self.e),
                get(&self.n)
            ),
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                get(&self.crv),
                get(&self.x),
                get(&self.y)
            ),
            _ => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
                get(&self.crv),
                self.kty,
                get(&self.x)
            ),
        };
        b64url(&sha256(canonical.as_bytes()))
    }

    pub(crate) fn decoding_key(&self) -> Option<jsonwebtoken::DecodingKey> {
        let get = |v: &Option<String>| v.as_deref().unwrap_or_default().to_owned();
        match self.kty.as_str() {
            "RSA" => jsonwebtoken::DecodingKey::from_rsa_components(&get(&self.n), &get(&self.e)),
            "EC" => jsonwebtoken::DecodingKey::from_ec_components(&get(&self.x), &get(&self.y)),
            _ => jsonwebtoken::DecodingKey::from_ed_components(&get(&self.x)),
        }
        .ok()
    }
}

/// What a key's metadata says, for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    pub created_at: i64,
    pub activates_at: Option<i64>,
    pub retires_at: Option<i64>,
}

/// An immutable snapshot: the signer of each algorithm, every published key, and the JWKS bytes.
struct KeySet {
    signers: HashMap<Alg, Arc<SigningKey>>,
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
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

/// A token this process verified: the key that verified it, and what the caller made of it.
struct Verified {
    key: Arc<SigningKey>,
    value: Arc<dyn Any + Send + Sync>,
}

/// Past this many remembered tokens the memory starts over (a few hundred bytes each).
const VERIFIED_CAPACITY: usize = 4096;

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("current_kid", &self.current_kid())
            .finish_non_exhaustive()
    }
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
            if rotation::is_ready(&rows, &policy) {
                break;
            }
            match run_steps(&store, &master, &policy, now).await {
                Ok(()) | Err(KeyError::Busy) => {}
                Err(e) => return Err(e),
            }
            rows = store.list_signing_keys().await?;
            if !rotation::is_ready(&rows, &policy) {
                // Another replica holds the lease and is creating the key.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let set = build_set(&rows, &master, policy.algs, None)?;
        Ok(Self {
            store,
            master,
            policy,
            set: RwLock::new(Arc::new(set)),
            verified: Mutex::new(HashMap::new()),
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
        let set = build_set(&rows, &self.master, self.policy.algs, Some(&previous))?;
        for (alg, signer) in &set.signers {
            if previous
                .signers
                .get(alg)
                .is_none_or(|p| p.kid != signer.kid)
            {
                tracing::info!(kid = %signer.kid, %alg, "signing with a new key");
            }
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

    /// Starts a rotation of one algorithm's key now. Normally the new key is published and
    /// signs one publish lead later; with `immediate` it signs at once (breaks relying parties'
    /// JWKS caches).
    pub async fn rotate(
        &self,
        alg: Alg,
        now: i64,
        immediate: bool,
        actor: &str,
    ) -> Result<String, KeyError> {
        if !self.policy.algs.contains(alg) {
            return Err(KeyError::NoKey(alg));
        }
        let kid = self
            .with_lease(now, async {
                let rows = self.store.list_signing_keys().await?;
                if !immediate
                    && let Some(next) = rows
                        .iter()
                        .find(|r| r.alg == alg && r.state == KeyState::Next)
                {
                    return Ok(next.kid.clone());
                }
                let activates_at = if immediate {
                    now
                } else {
                    now + self.policy.publish_lead
                };
                let kid = create_key(
                    &self.store,
                    &self.master,
                    (alg, KeyState::Next),
                    now,
                    activates_at,
                    actor,
                )
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

    /// Brings in an RSA key from the provider being replaced (PKCS#8 DER), under its own kid or
    /// the one it had there, so tokens that provider signed keep verifying. It is published at
    /// once and signs after the publish lead (with `immediate`, at once), taking the place of a
    /// generated RS256 key still waiting to sign.
    pub async fn import_rsa(
        &self,
        pkcs8: Vec<u8>,
        kid: Option<String>,
        now: i64,
        immediate: bool,
        actor: &str,
    ) -> Result<String, KeyError> {
        if !self.policy.algs.contains(Alg::RS256) {
            return Err(KeyError::NoKey(Alg::RS256));
        }
        let pair = Pair::from_pkcs8(Alg::RS256, &pkcs8).ok_or_else(|| {
            KeyError::Import("the key is not an RSA key aws-lc-rs can use".into())
        })?;
        let mut jwk = pair.public_jwk();
        if let Some(k) = kid {
            if k.is_empty() || k.len() > 128 || !k.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(KeyError::Import(
                    "a kid is 1 to 128 printable ASCII characters".into(),
                ));
            }
            jwk.kid = k;
        }
        let kid = self
            .with_lease(now, async {
                let rows = self.store.list_signing_keys().await?;
                if rows.iter().any(|r| r.kid == jwk.kid) {
                    return Err(KeyError::Import(format!(
                        "a key with kid {} exists",
                        jwk.kid
                    )));
                }
                for pending in rows
                    .iter()
                    .filter(|r| r.alg == Alg::RS256 && r.state == KeyState::Next)
                {
                    self.store.delete_signing_key(&pending.kid).await?;
                }
                let mut row = seal_with_kid(&pair, jwk.clone(), &self.master, now)?;
                row.state = KeyState::Next;
                row.activates_at = Some(if immediate {
                    now
                } else {
                    now + self.policy.publish_lead
                });
                self.store.insert_signing_key(&row).await?;
                if immediate {
                    self.store
                        .promote_signing_key(&row.kid, now, now + self.policy.retire_after)
                        .await?;
                }
                self.store.journal().emit(
                    crate::audit::Event::KeyImported,
                    actor,
                    &crate::audit::key(&row.kid),
                    None,
                );
                Ok(row.kid)
            })
            .await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Removes a compromised key from the JWKS at once; tokens it signed stop verifying here.
    /// If it is its algorithm's signer, a new key of that algorithm takes over immediately.
    pub async fn revoke(&self, kid: &str, now: i64, actor: &str) -> Result<(), KeyError> {
        self.with_lease(now, async {
            let rows = self.store.list_signing_keys().await?;
            let row = rows
                .iter()
                .find(|r| r.kid == kid)
                .ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
            if row.state == KeyState::Current && self.policy.algs.contains(row.alg) {
                let new = create_key(
                    &self.store,
                    &self.master,
                    (row.alg, KeyState::Next),
                    now,
                    now,
                    actor,
                )
                .await?;
                self.store
                    .promote_signing_key(&new, now, now + self.policy.retire_after)
                    .await?;
            }
            self.store.delete_signing_key(kid).await?;
            self.store.journal().emit(
                crate::audit::Event::KeyRevoked,
                actor,
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
    /// A key for `label`, derived from the master key: the same on every replica.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        self.master.derive(label)
    }

    pub fn jwks(&self) -> (Arc<str>, Arc<str>) {
        let s = self.snapshot();
        (s.jwks.clone(), s.etag.clone())
    }

    /// True when this process has a key of `alg` to sign with.
    pub fn can_sign(&self, alg: Alg) -> bool {
        self.snapshot().signers.contains_key(&alg)
    }

    /// The kid of the RS256 signer (every deployment has one).
    pub fn current_kid(&self) -> String {
        self.current_kid_of(Alg::RS256).unwrap_or_default()
    }

    pub fn current_kid_of(&self, alg: Alg) -> Option<String> {
        self.snapshot().signers.get(&alg).map(|k| k.kid.clone())
    }

    /// The algorithms tokens can be signed with, RS256 first.
    pub fn algs(&self) -> impl Iterator<Item = Alg> {
        self.policy.algs.iter()
    }

    pub fn infos(&self) -> Vec<KeyInfo> {
        self.snapshot().infos.clone()
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// What `verify` made of `token`, remembered by the SHA-256 of `purpose` and its exact
    /// bytes for as long as the very key that verified it is published (a kid revoked and then
    /// imported again with another key does not count). A resource server introspects, and an
    /// app calls UserInfo with, the same token many times, and one RS256 verification costs
    /// more than the rest of such a request. Only successes are kept; `verify` names the kid
    /// that verified the token, and `purpose` names the rules it checked (callers with other
    /// rules use another). What changes with time (expiry, revocation) stays the caller's to
    /// check on every use.
    pub fn verified<T, E>(
        &self,
        purpose: &str,
        token: &str,
        verify: impl FnOnce() -> Result<(String, T), E>,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
    {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        context.update(purpose.as_bytes());
        context.update(&[0]);
        context.update(token.as_bytes());
        let mut digest = [0u8; 32];
        digest.copy_from_slice(context.finish().as_ref());
        let hit = self
            .verified
            .lock()
            .ok()
            .and_then(|m| m.get(&digest).map(|e| (e.key.clone(), e.value.clone())));
        let published = |key: &Arc<SigningKey>, set: &KeySet| {
            set.by_kid
                .get(&key.kid)
                .is_some_and(|k| Arc::ptr_eq(k, key))
        };
        if let Some((key, value)) = hit
            && published(&key, &self.snapshot())
            && let Ok(value) = value.downcast::<T>()
        {
            return Ok(value);
        }
        // The key under the kid before and after the check must be one and the same, so the
        // entry is tied to the key that verified, not to whatever holds the kid later.
        let before = self.snapshot();
        let (kid, value) = verify()?;
        let value = Arc::new(value);
        let key = before.by_kid.get(&kid).cloned();
        if let Some(key) = key.filter(|k| published(k, &self.snapshot()))
            && let Ok(mut m) = self.verified.lock()
        {
            if m.len() >= VERIFIED_CAPACITY {
                m.clear();
            }
            m.insert(
                digest,
                Verified {
                    key,
                    value: value.clone(),
                },
            );
        }
        Ok(value)
    }

    /// The verification key for a kid we publish, with the one algorithm it verifies.
    pub fn decoding_key(&self, kid: &str) -> Option<(Alg, jsonwebtoken::DecodingKey)> {
        self.snapshot()
            .by_kid
            .get(kid)
            .map(|k| (k.alg, k.decoding.clone()))
    }

    /// A compact JWS (RFC 7515) over `claims`, signed by `alg`'s current key and naming its
    /// `kid`.
    pub fn sign<T: Serialize>(&self, alg: Alg, typ: &str, claims: &T) -> Result<String, KeyError> {
        let set = self.snapshot();
        let key = set.signers.get(&alg).ok_or(KeyError::NoKey(alg))?;
        let header = serde_json::json!({ "alg": alg.as_str(), "typ": typ, "kid": key.kid });
        let mut out = b64url(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&b64url(
            &serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?,
        ));
        let sig = key.pair.sign(out.as_bytes())?;
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
            Action::CreateCurrent { alg } => create_key(
                store,
                master,
                (alg, KeyState::Current),
                now,
                now,
                "keystore",
            )
            .await
            .map(|_| ()),
            Action::CreateNext { alg, activates_at } => create_key(
                store,
                master,
                (alg, KeyState::Next),
                now,
                activates_at,
                "keystore",
            )
            .await
            .map(|_| ()),
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

/// Generates a key (RSA 2048, P-256 or Ed25519) on the blocking pool, seals it and stores it.
async fn create_key(
    store: &Store,
    master: &MasterKey,
    (alg, state): (Alg, KeyState),
    now: i64,
    activates_at: i64,
    actor: &str,
) -> Result<String, KeyError> {
    let pair = tokio::task::spawn_blocking(move || Pair::generate(alg))
        .await
        .map_err(|_| KeyError::Generate)??;
    let mut row = seal_key(&pair, master, now)?;
    row.state = state;
    row.activates_at = Some(activates_at);
    store.insert_signing_key(&row).await?;
    tracing::info!(kid = %row.kid, %alg, state = %state, activates_at, "generated a new signing key");
    store.journal().emit(
        crate::audit::Event::KeyRotated,
        actor,
        &crate::audit::key(&row.kid),
        None,
    );
    Ok(row.kid)
}

/// Builds a snapshot; keys already parsed in `previous` are reused.
fn build_set(
    rows: &[StoredKey],
    master: &MasterKey,
    algs: AlgSet,
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
    // Per algorithm this process signs with, the newest activated current key signs; all
    // replicas reading the same rows agree. Every stored key is published and verifies.
    let mut signers = HashMap::new();
    for alg in algs.iter() {
        let newest = rows
            .iter()
            .filter(|r| r.alg == alg && r.state == KeyState::Current)
            .max_by_key(|r| {
                (
                    r.activates_at.unwrap_or(r.created_at),
                    r.created_at,
                    r.kid.clone(),
                )
            })
            .and_then(|r| by_kid.get(&r.kid));
        if let Some(key) = newest {
            signers.insert(alg, key.clone());
        }
    }
    if !signers.contains_key(&Alg::RS256) {
        return Err(KeyError::NoKey(Alg::RS256));
    }
    // JWKS order: signers (RS256 first), then next, then retired keys; relying parties that
    // take the first key get the RS256 signer.
    let rank = |s: KeyState| match s {
        KeyState::Current => 0,
        KeyState::Next => 1,
        KeyState::Retired => 2,
    };
    let is_signer = |r: &StoredKey| signers.get(&r.alg).is_some_and(|k| k.kid == r.kid);
    let mut ordered: Vec<&StoredKey> = rows.iter().collect();
    ordered.sort_by_key(|r| (!is_signer(r), rank(r.state), r.alg, r.created_at));
    let keys: Vec<&Jwk> = ordered
        .iter()
        .filter_map(|r| by_kid.get(&r.kid))
        .map(|k| &k.jwk)
        .collect();
    let jwks: Arc<str> = serde_json::json!({ "keys": keys }).to_string().into();
    let etag = format!("\"{}\"", &b64url(&sha256(jwks.as_bytes()))[..22]).into();
    let mut infos: Vec<KeyInfo> = rows
        .iter()
        .map(|r| KeyInfo {
            kid: r.kid.clone(),
            alg: r.alg,
            state: r.state,
            created_at: r.created_at,
            activates_at: r.activates_at,
            retires_at: r.retires_at,
        })
        .collect();
    // Listed by algorithm, oldest first.
    infos.sort_by_key(|k| (k.alg, k.created_at));
    Ok(KeySet {
        signers,
        by_kid,
        jwks,
        etag,
        infos,
    })
}

fn seal_key(pair: &Pair, master: &MasterKey, now: i64) -> Result<StoredKey, KeyError> {
    seal_with_kid(pair, pair.public_jwk(), master, now)
}

/// Seals a key under its kid (the AAD binds the two), which for an imported key may be the
/// one its former provider published.
fn seal_with_kid(
    pair: &Pair,
    jwk: Jwk,
    master: &MasterKey,
    now: i64,
) -> Result<StoredKey, KeyError> {
    let der = pair.to_pkcs8()?;
    let sealed = master.seal(&der, jwk.kid.as_bytes())?;
    Ok(StoredKey {
        kid: jwk.kid.clone(),
        alg: pair.alg(),
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
    let parse_error = || KeyError::Parse {
        kid: row.kid.clone(),
    };
    let pair = Pair::from_pkcs8(row.alg, &der).ok_or_else(parse_error)?;
    let mut jwk = pair.public_jwk();
    // An imported key keeps its former kid: the stored public key must still be this one.
    if jwk.kid != row.kid {
        let stored: Jwk = serde_json::from_str(&row.public_jwk).map_err(|_| parse_error())?;
        if stored.thumbprint() != jwk.kid || stored.kid != row.kid {
            return Err(parse_error());
        }
        jwk.kid = row.kid.clone();
    }
    let decoding = jwk.decoding_key().ok_or_else(parse_error)?;
    Ok(SigningKey {
        kid: row.kid.clone(),
        alg: row.alg,
        pair,
        jwk,
        decoding,
    })
}

/// A fresh random id for JWT `jti`.
pub fn new_jti() -> String {
    random_id()
}

/// True when base64url `data` holds the DER OID of rsaEncryption, id-ecPublicKey or Ed25519:
/// a plaintext PKCS#8 key of ours would.
#[doc(hidden)]
pub fn contains_key_oid(data: &str) -> bool {
    const OIDS: [&[u8]; 3] = [
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ],
        &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
        &[0x06, 0x03, 0x2b, 0x65, 0x70],
    ];
    crate::crypto::b64url_decode(data).is_some_and(|b| {
        OIDS.iter()
            .any(|oid| b.windows(oid.len()).any(|w| w == *oid))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(jwt: &str, key: &SigningKey) -> serde_json::Value {
        let alg = match key.alg {
            Alg::RS256 => jsonwebtoken::Algorithm::RS256,
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        };
        let mut v = jsonwebtoken::Validation::new(alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        v.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(jwt, &key.decoding, &v)
            .unwrap()
            .claims
    }

    #[test]
    fn plaintext_pkcs8_is_detected() {
        for alg in Alg::ALL {
            let der = Pair::generate(alg).unwrap().to_pkcs8().unwrap();
            assert!(contains_key_oid(&b64url(&der)), "{alg}");
        }
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1 example key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = Jwk {
            kty: "RSA".into(),
            n: Some(n.into()),
            e: Some("AQAB".into()),
            ..Jwk::default()
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc8037_thumbprint_example() {
        // RFC 8037 Appendix A.3: the Ed25519 example key's thumbprint.
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
            ..Jwk::default()
        };
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn every_algorithm_seals_round_trips_and_signs_verifiably() {
        let master = MasterKey::from_bytes([7u8; 32]);
        let rows: Vec<StoredKey> = Alg::ALL
            .into_iter()
            .map(|alg| seal_key(&Pair::generate(alg).unwrap(), &master, 1).unwrap())
            .collect();
        let set = build_set(&rows, &master, AlgSet::ALL, None).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&set.jwks).unwrap();
        assert_eq!(
            jwks["keys"][0]["alg"], "RS256",
            "the RS256 signer comes first"
        );
        for (row, alg) in rows.iter().zip(Alg::ALL) {
            assert_eq!(row.alg, alg);
            assert!(
                !contains_key_oid(&row.sealed_private_key),
                "never plaintext DER/PEM"
            );
            let key = &set.signers[&alg];
            assert_eq!(key.kid, row.kid);
            let header = serde_json::json!({ "alg": alg.as_str(), "typ": "JWT", "kid": row.kid });
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(br#"{"sub":"x"}"#)
            );
            let sig = key.pair.sign(input.as_bytes()).unwrap();
            let expected = if alg == Alg::RS256 { 256 } else { 64 };
            assert_eq!(sig.len(), expected, "{alg}: JWS signature size");
            let jwt = format!("{input}.{}", b64url(&sig));
            assert_eq!(verify(&jwt, &set.by_kid[&row.kid])["sub"], "x");
            let published = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == row.kid.as_str())
                .unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(published.get(private).is_none(), "public parts only");
            }
        }
    }

    #[test]
    fn a_jwt_signed_by_one_algorithm_does_not_verify_as_another() {
        let master = MasterKey::from_bytes([7u8; 32]);
        let ec = seal_key(&Pair::generate(Alg::ES256).unwrap(), &master, 1).unwrap();
        let ed = seal_key(&Pair::generate(Alg::EdDSA).unwrap(), &master, 1).unwrap();
        let ec = unseal_key(&ec, &master).unwrap();
        let ed = unseal_key(&ed, &master).unwrap();
        let input = format!(
            "{}.{}",
            b64url(br#"{"alg":"EdDSA","typ":"JWT"}"#),
            b64url(br#"{"sub":"x"}"#)
        );
        let sig = ec.pair.sign(input.as_bytes()).unwrap();
        let jwt = format!("{input}.{}", b64url(&sig));
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        v.required_spec_claims.clear();
        assert!(jsonwebtoken::decode::<serde_json::Value>(&jwt, &ed.decoding, &v).is_err());
    }

    #[test]
    fn wrong_master_key_is_a_clear_error() {
        let pair = Pair::generate(Alg::ES256).unwrap();
        let row = seal_key(&pair, &MasterKey::from_bytes([1u8; 32]), 1).unwrap();
        let err = build_set(&[row], &MasterKey::from_bytes([2u8; 32]), AlgSet::ALL, None)
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::Unseal { .. }));
    }

    #[test]
    fn a_key_under_the_wrong_algorithm_is_refused() {
        let master = MasterKey::from_bytes([1u8; 32]);
        let mut row = seal_key(&Pair::generate(Alg::EdDSA).unwrap(), &master, 1).unwrap();
        row.alg = Alg::ES256;
        assert!(matches!(
            unseal_key(&row, &master),
            Err(KeyError::Parse { .. })
        ));
    }
}
