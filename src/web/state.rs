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

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        keys: Arc<Keystore>,
        clock: Clock,
        hasher: Hasher,
        devices: crate::accounts::device::DeviceKey,
        factors: crate::accounts::mfa::FactorKey,
    ) -> Self {
        let config_issuer = config.issuer.clone();
        let algs: Vec<_> = keys.algs().collect();
        let discovery: Arc<str> =
            crate::oauth::discovery::metadata(&config.issuer, &algs, config.dynamic_registration)
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
        }))
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

    pub fn token_issuer<'a>(&'a self, address: &'a str) -> crate::oauth::token::Issuer<'a> {
        crate::oauth::token::Issuer {
            store: &self.store,
            keys: &self.keys,
            config: &self.config,
            now: self.clock.now(),
            address,
        }
    }
}
