//! RFC 9126 pushed authorization requests: the client sends the request over its
//! authenticated back channel first, and the browser carries only a one-time `request_uri`.
use super::authorize::{self, Origin, Params, Rejection, check_client_id};
use super::error::{ErrorCode, OAuthError};
use crate::crypto::{hash_secret, random_token};
use crate::domain::Client;
use crate::keys::Keystore;
use crate::store::Store;

/// RFC 9126 §2.2: the `request_uri` form.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request waits for the browser (RFC 9126 §2.2 suggests a short lifetime).
pub const PUSHED_TTL: i64 = 60;

/// RFC 9126 §2.2: the answer to a push.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// RFC 9126 §2.1: checks a pushed request as `/authorize` would, for the authenticated client,
/// and keeps it once. `proof_jkt` is the key of a DPoP proof sent with the push, which binds
/// the code as `dpop_jkt` does (RFC 9449 §10.1).
pub async fn push(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    client: &Client,
    params: &Params,
    proof_jkt: Option<&str>,
    now: i64,
) -> Result<Pushed, OAuthError> {
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "a pushed request must not carry request_uri",
        ));
    }
    let mut pairs = params.to_pairs();
    match params.get("client_id") {
        Some(id) if id != client.id => {
            return Err(OAuthError::invalid_request(
                "client_id is not the authenticated client",
            ));
        }
        Some(_) => {}
        None => pairs.push(("client_id".into(), client.id.clone())),
    }
    // Client authentication went in the body or the header, never into the stored request.
    pairs.retain(|(k, _)| k != "client_secret");
    if let Some(jkt) = proof_jkt {
        match params.get("dpop_jkt") {
            // RFC 9449 §10.1: both given, they must name the same key.
            Some(given) if given != jkt => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt is not the key of the DPoP proof",
                ));
            }
            Some(_) => {}
            None => pairs.push(("dpop_jkt".into(), jkt.to_owned())),
        }
    }
    let full = Params::from_pairs(pairs.clone());
    authorize::validate(store, keys, issuer, &full, Origin::Pushed)
        .await
        .map_err(|r| match r {
            Rejection::Page(e) => e,
            Rejection::Redirect(r) => r.error,
        })?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token());
    let stored = serde_json::to_string(&pairs).map_err(OAuthError::server_error)?;
    store
        .insert_pushed_request(
            &hash_secret(&request_uri),
            &client.id,
            &stored,
            now + PUSHED_TTL,
        )
        .await?;
    Ok(Pushed {
        request_uri,
        expires_in: PUSHED_TTL,
    })
}

/// RFC 9126 §4: the parameters of an authorization request that names a pushed one, used up.
/// Everything else the browser sent is ignored; `client_id` must be the pushing client's.
/// `None` when it names none.
pub async fn resolve(
    store: &Store,
    params: &Params,
    now: i64,
) -> Result<Option<Params>, OAuthError> {
    let Some(uri) = params.get("request_uri") else {
        return Ok(None);
    };
    if params.is_repeated("request_uri") {
        return Err(OAuthError::invalid_request("request_uri is repeated"));
    }
    let client_id = check_client_id(params)?;
    let stored = store
        .take_pushed_request(&hash_secret(uri), client_id, now)
        .await?
        .ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "request_uri is unknown, used, expired or another client's",
            )
        })?;
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&stored).map_err(OAuthError::server_error)?;
    Ok(Some(Params::from_pairs(pairs)))
}
