use crate::accounts::password::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::Keystore;
use crate::store::Store;
use std::sync::Arc;

/// Everything a handler may use. Cloned for every request, so it is one shared pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: Arc<Keystore>,
    pub clock: Clock,
    pub hasher: Hasher,
    /// Discovery document, serialized once, and its ETag.
    pub discovery: Arc<str>,
    pub discovery_etag: Arc<str>,
    pub cors: Arc<CorsOrigins>,
    /// Signs the device cookies of the sign-in back-off.
    pub devices: Arc<crate::accounts::device::DeviceKey>,
    /// Seals authenticator-app secrets.
    pub factors: Arc<crate::accounts::mfa::FactorKey>,
    /// The WebAuthn relying party; `None` when the issuer's host is an IP address.
    pub passkeys: Option<Arc<crate::accounts::passkey::Passkeys>>,
    /// Outbound mail; `None` when no SMTP server is configured, and every page that would
    /// send a link is off.
    pub mail: Option<Arc<crate::mail::Mail>>,
    /// DPoP nonces (RFC 9449 §8, §9), when the server hands them out.
    pub dpop_nonces: Option<crate::oauth::dpop::Nonces>,
    /// The keys of `private_key_jwt` clients, fetched from their `jwks_uri` and cached.
    pub client_keys: crate::oauth::client_keys::ClientKeys,
}

/// The origins clients registered for CORS, cached. Reloaded when this process changed a
/// client, and at least every key-refresh interval for changes made elsewhere (the CLI, other
/// replicas).
#[derive(Debug, Default)]
pub struct CorsOrigins {
    cached: std::sync::Mutex<Option<CachedOrigins>>,
}

#[derive(Debug)]
struct CachedOrigins {
    version: u64,
    loaded_at: i64,
    origins: Arc<std::collections::HashSet<String>>,
}

impl AppState {
    /// True when a registered client allows `origin`.
    pub async fn cors_allows(&self, origin: &str) -> Result<bool, crate::store::Error> {
        let version = self.store.clients_version();
        let now = self.now();
        let fresh = self.cors.cached.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|c| {
                    c.version == version && now - c.loaded_at < self.config.key_refresh_interval
                })
                .map(|c| c.origins.clone())
        });
        let origins = match fresh {
            Some(o) => o,
            None => {
                let origins: Arc<std::collections::HashSet<String>> = Arc::new(
                    self.store
                        .list_clients()
                        .await?
                        .iter()
                        .flat_map(|c| c.cors_origins())
                        .collect(),
                );
                if let Ok(mut c) = self.cors.cached.lock() {
                    *c = Some(CachedOrigins {
                        version,
                        loaded_at: now,
                        origins: origins.clone(),
                    });
                }
                origins
            }
        };
        Ok(origins.contains(origin))
    }
}

/// What the account pages use that is keyed from the master key.
pub struct AccountKeys {
    pub devices: crate::accounts::device::DeviceKey,
    pub factors: crate::accounts::mfa::FactorKey,
    pub mail: Option<Arc<crate::mail::Mail>>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        keys: Arc<Keystore>,
        clock: Clock,
        hasher: Hasher,
        accounts: AccountKeys,
    ) -> Self {
        let AccountKeys {
            devices,
            factors,
            mail,
        } = accounts;
        let config_issuer = config.issuer.clone();
        let config_dpop_nonce = config.dpop_nonce;
        let outbound_allow_loopback = config.outbound_allow_loopback;
        let keys_for_nonces = keys.clone();
        let algs: Vec<_> = keys.algs().collect();
        let discovery: Arc<str> = crate::oauth::discovery::metadata(
            &config.issuer,
            &algs,
            config.dynamic_registration,
            config.require_par,
        )
        .to_string()
        .into();
        let digest = crate::crypto::b64url(&crate::crypto::sha256(discovery.as_bytes()));
        let discovery_etag = format!("\"{}\"", &digest[..22]).into();
        Self(Arc::new(Shared {
            config,
            store,
            keys,
            clock,
            hasher,
            discovery,
            discovery_etag,
            cors: Arc::default(),
            devices: Arc::new(devices),
            factors: Arc::new(factors),
            passkeys: crate::accounts::passkey::Passkeys::new(&config_issuer).map(Arc::new),
            mail,
            client_keys: crate::oauth::client_keys::ClientKeys::new(
                crate::outbound::Outbound::new(outbound_allow_loopback),
            ),
            dpop_nonces: config_dpop_nonce.then(|| {
                crate::oauth::dpop::Nonces::new(keys_for_nonces.derive(b"gatehouse dpop nonce v1"))
            }),
        }))
    }

    /// Where links are mailed from, when mail is on.
    pub fn outbound(&self) -> Option<crate::accounts::recovery::Outbound<'_>> {
        self.mail
            .as_deref()
            .map(|mail| crate::accounts::recovery::Outbound {
                mail,
                issuer: &self.config.issuer,
            })
    }

    /// Whether anyone may create an account from the sign-in page.
    pub fn signup_open(&self) -> bool {
        self.mail.is_some() && self.config.signup == crate::config::Signup::Open
    }

    /// Passkeys work once the WebAuthn relying party is configured.
    pub fn passkeys_enabled(&self) -> bool {
        self.passkeys.is_some()
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn token_issuer<'a>(
        &'a self,
        address: &'a str,
        dpop_jkt: Option<&'a str>,
    ) -> crate::oauth::token::Issuer<'a> {
        crate::oauth::token::Issuer {
            store: &self.store,
            keys: &self.keys,
            config: &self.config,
            now: self.clock.now(),
            address,
            dpop_jkt,
        }
    }

    /// The request's DPoP proof for our endpoint at `path` (RFC 9449 §4.3), checked in full;
    /// `None` when it carries none.
    pub async fn dpop_proof(
        &self,
        headers: &axum::http::HeaderMap,
        method: &str,
        path: &str,
        bound: Option<(&str, &str)>,
    ) -> Result<Option<crate::oauth::dpop::Proof>, crate::oauth::OAuthError> {
        let values = headers
            .get_all("dpop")
            .iter()
            .map(|v| v.to_str())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                crate::oauth::OAuthError::invalid_dpop_proof("the DPoP header is not a JWT")
            })?;
        let url = format!("{}{path}", self.config.issuer);
        crate::oauth::dpop::check(
            &self.store,
            &values,
            crate::oauth::dpop::Expected {
                method,
                url: &url,
                access_token: bound.map(|(token, _)| token),
                bound_to: bound.map(|(_, jkt)| jkt),
                nonces: self.dpop_nonces.as_ref(),
                now: self.clock.now(),
            },
        )
        .await
    }

    /// RFC 9449 §8: a fresh nonce on every answer of the endpoints that take proofs, when
    /// nonces are on.
    pub fn dpop_nonce(&self) -> Option<axum::http::HeaderValue> {
        let nonce = self.dpop_nonces.as_ref()?.current(self.clock.now());
        axum::http::HeaderValue::from_str(&nonce).ok()
    }
}
