//! The public keys a `private_key_jwt` client signs with (RFC 7523): its registered JWK Set,
//! or the one it publishes at its `jwks_uri`, fetched through the SSRF-safe outbound client
//! and cached.
use super::error::OAuthError;
use crate::domain::Client;
use crate::domain::client::normalized_jwks;
use crate::outbound::Outbound;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A fetched set is used this long before it is fetched again.
const FRESH: i64 = 300;
/// An unknown `kid` refetches, but at most this often per client, so assertions naming made-up
/// keys cannot turn the server into a request amplifier.
const MIN_REFETCH: i64 = 10;
/// Beyond this many clients the cache starts over.
const MAX_CACHED: usize = 1000;

struct Cached {
    uri: String,
    fetched_at: i64,
    keys: Arc<Vec<Value>>,
}

pub struct ClientKeys {
    outbound: Outbound,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKeys")
    }
}

fn keys_of(jwks: &str) -> Result<Vec<Value>, OAuthError> {
    let set: Value = serde_json::from_str(jwks).map_err(OAuthError::server_error)?;
    Ok(set
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

impl ClientKeys {
    pub fn new(outbound: Outbound) -> Self {
        Self {
            outbound,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The SSRF-safe client its fetches go through, which back-channel logouts share.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// The client's keys. `refetch` (a signature no cached key verifies) asks its URL again,
    /// at most every `MIN_REFETCH` seconds.
    pub async fn keys(
        &self,
        client: &Client,
        now: i64,
        refetch: bool,
    ) -> Result<Arc<Vec<Value>>, OAuthError> {
        if let Some(jwks) = &client.jwks {
            return Ok(Arc::new(keys_of(jwks)?));
        }
        let Some(uri) = &client.jwks_uri else {
            return Err(OAuthError::invalid_client().with_detail("the client has no keys"));
        };
        let stale = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get(&client.id).filter(|c| &c.uri == uri) {
                Some(c) => {
                    let age = now - c.fetched_at;
                    if age < FRESH && !(refetch && age >= MIN_REFETCH) {
                        return Ok(c.keys.clone());
                    }
                    Some(c.keys.clone())
                }
                None => None,
            }
        };
        match self.fetch(uri).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(
                    client.id.clone(),
                    Cached {
                        uri: uri.clone(),
                        fetched_at: now,
                        keys: keys.clone(),
                    },
                );
                Ok(keys)
            }
            // A client's web server being down should not lock it out while we hold its keys.
            Err(e) => match stale {
                Some(keys) => {
                    tracing::warn!(client_id = %client.id, error = %e.detail().unwrap_or(""), "cannot refresh the client's JWKS; using the cached set");
                    Ok(keys)
                }
                None => Err(e),
            },
        }
    }

    async fn fetch(&self, uri: &str) -> Result<Vec<Value>, OAuthError> {
        let fail =
            |why: String| OAuthError::invalid_client().with_detail(format!("jwks_uri: {why}"));
        let reply = self
            .outbound
            .get(uri)
            .await
            .map_err(|e| fail(e.to_string()))?;
        // Never followed: a redirect is an answer without keys.
        if reply.status != 200 {
            return Err(fail(format!("status {}", reply.status)));
        }
        let body = std::str::from_utf8(&reply.body).map_err(|_| fail("not UTF-8".into()))?;
        let jwks = normalized_jwks(body).map_err(|e| fail(e.message))?;
        keys_of(&jwks)
    }
}
