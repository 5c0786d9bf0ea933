//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9), and `none` for
//! public clients. One method per request.
use super::authorize::Params;
use super::claims::Audience;
use super::client_keys::ClientKeys;
use super::error::OAuthError;
use super::jwt::{FOREIGN_ALGS, ForeignKey, unverified_part};
use crate::crypto::{Secret, constant_time_eq, hash_secret};
use crate::domain::Client;
use crate::store::Store;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    None,
    PrivateKeyJwt,
}

/// RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may still live when it arrives: clients make one per request.
pub const MAX_ASSERTION_LIFETIME: i64 = 300;

/// What the request claims about its client.
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<Secret>,
    /// RFC 7523: the signed client assertion.
    pub assertion: Option<Secret>,
    pub method: Method,
}

/// What checking a client assertion needs: the clients' keys, and who it must be meant for.
#[derive(Clone, Copy)]
pub struct AssertionCheck<'a> {
    pub keys: &'a ClientKeys,
    pub issuer: &'a str,
    /// The URL of the endpoint it was sent to (`/token`, `/par`, `/revoke`, `/introspect`).
    pub endpoint: &'a str,
    pub now: i64,
}

/// RFC 7523 §3 and OIDC Core §9 claims.
#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// RFC 7521 §4.2: the assertion names the client in `sub` when the body does not.
fn unverified_subject(assertion: &str) -> Option<String> {
    unverified_part(assertion, 1)?
        .get("sub")?
        .as_str()
        .map(str::to_owned)
}

/// RFC 7521 §4.2 / RFC 7523 §2.2: `client_assertion_type` and `client_assertion`, alone.
fn assertion_credentials(
    authorization: Option<&str>,
    params: &Params,
) -> Option<Result<ClientCredentials, OAuthError>> {
    let kind = params.get("client_assertion_type");
    let assertion = params.get("client_assertion");
    if kind.is_none() && assertion.is_none() {
        return None;
    }
    Some((|| {
        if authorization.is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "use only one client authentication method",
            ));
        }
        if kind != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client()
                .with_detail("client_assertion_type missing or not jwt-bearer"));
        }
        let assertion =
            assertion.ok_or_else(|| OAuthError::invalid_request("client_assertion is required"))?;
        let client_id = match params.get("client_id") {
            Some(id) => id.to_owned(),
            None => unverified_subject(assertion).ok_or_else(|| {
                OAuthError::invalid_client().with_detail("the assertion names no client")
            })?,
        };
        Ok(ClientCredentials {
            client_id,
            secret: None,
            assertion: Some(Secret::new(assertion)),
            method: Method::PrivateKeyJwt,
        })
    })())
}

/// Reads credentials from the `Authorization` header or the body. RFC 6749 §2.3: more than one
/// method in a request is an error; §2.3.1: Basic values are form-urlencoded before base64.
pub fn parse_credentials(
    authorization: Option<&str>,
    params: &Params,
) -> Result<ClientCredentials, OAuthError> {
    if let Some(creds) = assertion_credentials(authorization, params) {
        return creds;
    }
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(header) = authorization {
        let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(
                OAuthError::invalid_client().with_detail("unsupported authorization scheme")
            );
        }
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use only one client authentication method",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                OAuthError::invalid_client().with_detail("malformed basic credentials")
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            OAuthError::invalid_client().with_detail("malformed basic credentials")
        })?;
        let id = form_decode(id);
        // RFC 6749 §5.2: a failed Basic authentication is invalid_client (401).
        if super::authorize::has_control(&id) {
            return Err(OAuthError::invalid_client().with_detail("control character in client_id"));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_client()
                .with_detail("client_id in body differs from basic credentials"));
        }
        return Ok(ClientCredentials {
            client_id: id,
            secret: Some(Secret::new(form_decode(secret))),
            assertion: None,
            method: Method::Basic,
        });
    }
    let id =
        body_id.ok_or_else(|| OAuthError::invalid_client().with_detail("no client credentials"))?;
    Ok(match body_secret {
        Some(s) => ClientCredentials {
            client_id: id.to_owned(),
            secret: Some(Secret::new(s)),
            assertion: None,
            method: Method::Post,
        },
        None => ClientCredentials {
            client_id: id.to_owned(),
            secret: None,
            assertion: None,
            method: Method::None,
        },
    })
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Confidential clients must present their secret (compared in constant time against the
/// stored SHA-256) or, with keys, an assertion signed by one of them; public clients must
/// present nothing.
pub async fn authenticate(
    store: &Store,
    creds: &ClientCredentials,
    check: AssertionCheck<'_>,
) -> Result<Client, OAuthError> {
    let client = store
        .find_client(&creds.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client().with_detail("unknown client"))?;
    // A client with keys authenticates with them and nothing else (RFC 7591 §2).
    match (&creds.assertion, client.has_keys()) {
        (Some(assertion), true) => {
            verify_assertion(store, &client, assertion.expose(), check).await?;
            return Ok(client);
        }
        (Some(_), false) => {
            return Err(OAuthError::invalid_client().with_detail("the client has no keys"));
        }
        (None, true) => {
            return Err(
                OAuthError::invalid_client().with_detail("the client must use private_key_jwt")
            );
        }
        (None, false) => {}
    }
    match (&client.secret_hash, &creds.secret) {
        (Some(stored), Some(given)) => {
            let computed = hash_secret(given.expose());
            if constant_time_eq(stored.as_bytes(), computed.as_bytes()) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client().with_detail("wrong client secret"))
            }
        }
        (None, None) => Ok(client),
        (Some(_), None) => {
            Err(OAuthError::invalid_client().with_detail("confidential client sent no secret"))
        }
        (None, Some(_)) => {
            Err(OAuthError::invalid_client().with_detail("public client sent a secret"))
        }
    }
}

/// RFC 7523 §3 and OIDC Core §9: signed by one of the client's keys with an algorithm we
/// accept, `iss` and `sub` the client, `aud` this server (its issuer or the endpoint's URL),
/// unexpired and short-lived, and its `jti` never seen before on any replica.
async fn verify_assertion(
    store: &Store,
    client: &Client,
    assertion: &str,
    check: AssertionCheck<'_>,
) -> Result<(), OAuthError> {
    let refused =
        |why: &str| OAuthError::invalid_client().with_detail(format!("client assertion: {why}"));
    let header = unverified_part(assertion, 0).ok_or_else(|| refused("not a JWT"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !FOREIGN_ALGS.contains(&alg) {
        return Err(refused("algorithm not accepted"));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let verified = |keys: &[Value]| -> Option<AssertionClaims> {
        keys.iter()
            .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
            .filter_map(|k| ForeignKey::new(alg, k).ok())
            .find_map(|k| k.verify(assertion, &["exp", "iss", "sub", "aud"]).ok())
    };
    let keys = check.keys.keys(client, check.now, false).await?;
    let claims = match verified(&keys) {
        Some(c) => c,
        // A key the cached set lacks: the client may have rotated; ask its URL again.
        None if client.jwks_uri.is_some() => {
            let keys = check.keys.keys(client, check.now, true).await?;
            verified(&keys).ok_or_else(|| refused("no registered key verifies it"))?
        }
        None => return Err(refused("no registered key verifies it")),
    };
    if claims.iss != client.id || claims.sub != client.id {
        return Err(refused("iss and sub must be the client_id"));
    }
    if !(claims.aud.contains(check.issuer) || claims.aud.contains(check.endpoint)) {
        return Err(refused("aud is not this server"));
    }
    if claims.exp <= check.now || claims.exp > check.now + MAX_ASSERTION_LIFETIME {
        return Err(refused("expired, or valid for too long"));
    }
    if claims.nbf.is_some_and(|t| t > check.now) || claims.iat.is_some_and(|t| t > check.now + 60) {
        return Err(refused("not valid yet"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(refused("jti missing or too long"));
    }
    let id = hash_secret(&format!("assertion {} {}", client.id, claims.jti));
    if !store.record_seen_jwt(&id, claims.exp).await? {
        return Err(refused("jti already used"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let c = parse_credentials(Some(&basic("my%20app", "s%3Acret")), &params(&[])).unwrap();
        assert_eq!(c.client_id, "my app");
        assert_eq!(c.secret.unwrap().expose(), "s:cret");
        assert_eq!(c.method, Method::Basic);
    }

    #[test]
    fn control_characters_in_basic_client_id_are_invalid_client() {
        let e = parse_credentials(Some(&basic("a%00b", "s")), &params(&[])).unwrap_err();
        assert_eq!(e.code, crate::oauth::ErrorCode::InvalidClient);
    }

    #[test]
    fn two_methods_are_refused() {
        let e = parse_credentials(Some(&basic("a", "b")), &params(&[("client_secret", "b")]))
            .unwrap_err();
        assert_eq!(e.code, super::super::ErrorCode::InvalidRequest);
    }

    #[test]
    fn body_methods() {
        assert_eq!(
            parse_credentials(None, &params(&[("client_id", "a"), ("client_secret", "b")]))
                .unwrap()
                .method,
            Method::Post
        );
        assert_eq!(
            parse_credentials(None, &params(&[("client_id", "a")]))
                .unwrap()
                .method,
            Method::None
        );
        assert!(parse_credentials(None, &params(&[])).is_err());
        assert!(parse_credentials(Some("Bearer x"), &params(&[])).is_err());
    }
}
