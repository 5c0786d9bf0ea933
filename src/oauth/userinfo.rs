//! Access-token verification and the UserInfo response (OIDC Core §5.3, RFC 6750).
use super::claims::{AccessTokenClaims, user_claims};
use super::error::{ErrorCode, OAuthError};
use super::jwt;
use crate::domain::ScopeSet;
use crate::keys::Keystore;
use crate::store::{Store, TokenSubject};
use serde_json::Value;
use std::sync::Arc;

/// How an access token was presented: RFC 6750 `Bearer`, or RFC 9449 §7.1 `DPoP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// Details that decide the challenge (RFC 6750 §3.1, RFC 9449 §7.1).
pub const NO_TOKEN: &str = "no token";
pub const DPOP_BOUND: &str = "DPoP-bound token sent as a bearer token";

/// RFC 9449 §7: a bound token is honoured only by the DPoP scheme with a proof of its key, and
/// an unbound one only as a bearer token. `proof_jkt` is the key of the request's proof, which
/// the DPoP scheme always carries.
pub fn check_binding(
    claims: &AccessTokenClaims,
    proof_jkt: Option<&str>,
) -> Result<(), OAuthError> {
    match (&claims.cnf, proof_jkt) {
        (None, None) => Ok(()),
        (Some(cnf), Some(jkt))
            if crate::crypto::constant_time_eq(cnf.jkt.as_bytes(), jkt.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), Some(_)) => Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof is not made with the token's key",
        )),
        (Some(_), None) => Err(OAuthError::invalid_token(DPOP_BOUND)),
        (None, Some(_)) => Err(OAuthError::invalid_token(
            "a bearer token sent with the DPoP scheme",
        )),
    }
}

/// Verifies one of our access tokens for use at our own endpoints: signature, `typ`, our
/// issuer in `iss` and `aud`, unexpired by our clock, and not revoked.
pub async fn verify_access_token(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    now: i64,
    token: &str,
) -> Result<Arc<AccessTokenClaims>, OAuthError> {
    let claims = jwt::decode_access(keys, issuer, token)?;
    if !claims.aud.contains(issuer) {
        return Err(OAuthError::invalid_token("not meant for this server"));
    }
    if claims.exp < now {
        return Err(OAuthError::invalid_token("expired"));
    }
    if !is_active(store, &claims).await? {
        return Err(OAuthError::invalid_token("revoked or unknown"));
    }
    Ok(claims)
}

/// The standing of a verified, unexpired access token: not on the deny list, its client still
/// registered, and a user's token still backed by a live grant of an enabled user. A user's
/// token without a grant (issued before every redemption recorded one) is not honoured.
pub async fn is_active(
    store: &Store,
    claims: &AccessTokenClaims,
) -> Result<bool, crate::store::Error> {
    if claims.sub != claims.client_id && claims.gid.is_none() {
        return Ok(false);
    }
    store
        .access_token_is_active(&TokenSubject {
            jti: &claims.jti,
            client_id: &claims.client_id,
            subject: &claims.sub,
            grant_id: claims.gid.as_deref(),
        })
        .await
}

/// The claims a valid token's scope allows; `sub` always (OIDC Core §5.3.2).
pub async fn userinfo(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    now: i64,
    token: &str,
    proof_jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    let claims = verify_access_token(store, keys, issuer, now, token).await?;
    userinfo_of(store, &claims, proof_jkt).await
}

/// The UserInfo response for a verified token presented with `proof_jkt`'s proof (or none).
pub async fn userinfo_of(
    store: &Store,
    claims: &AccessTokenClaims,
    proof_jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    check_binding(claims, proof_jkt)?;
    let scope = ScopeSet::parse_supported(&claims.scope);
    if !scope.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the openid scope is required",
        ));
    }
    let user = store
        .find_user_cached(&claims.sub)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_token("user gone or disabled"))?;
    let mut out = user_claims(&user, &scope);
    if scope.contains("groups") {
        out.insert(
            "groups".into(),
            store.user_access_cached(&user.id).await?.groups.into(),
        );
    }
    out.insert("sub".into(), user.id.into());
    Ok(Value::Object(out))
}
