use crate::accounts::password::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::Keystore;
use crate::store::Store;
use std::sync::Arc;

/// Everything a handler may use.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: Arc<Keystore>,
    pub clock: Clock,
    pub hasher: Hasher,
    /// Discovery document, serialized once, and its ETag.
    pub discovery: Arc<str>,
    pub discovery_etag: Arc<str>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        keys: Arc<Keystore>,
        clock: Clock,
        hasher: Hasher,
    ) -> Self {
        let discovery: Arc<str> = crate::oauth::discovery::metadata(&config.issuer)
            .to_string()
            .into();
        let digest = crate::crypto::b64url(&crate::crypto::sha256(discovery.as_bytes()));
        let discovery_etag = format!("\"{}\"", &digest[..22]).into();
        Self {
            config,
            store,
            keys,
            clock,
            hasher,
            discovery,
            discovery_etag,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn token_issuer(&self) -> crate::oauth::token::Issuer<'_> {
        crate::oauth::token::Issuer {
            store: &self.store,
            keys: &self.keys,
            config: &self.config,
            now: self.clock.now(),
        }
    }
}
