//! Access-token verification and the UserInfo response (OIDC Core §5.3, RFC 6750).
use super::claims::{AccessTokenClaims, user_claims};
use super::error::{ErrorCode, OAuthError};
use crate::domain::ScopeSet;
use crate::keys::{ALG, Keystore};
use crate::store::Store;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

/// Verifies one of our access tokens: RS256 only, a kid of ours, `typ` at+jwt, our issuer in
/// `iss` and `aud`, unexpired by our clock, and not revoked.
pub async fn verify_access_token(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    now: i64,
    token: &str,
) -> Result<AccessTokenClaims, OAuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(OAuthError::invalid_token)?;
    if header.alg != Algorithm::RS256 {
        return Err(OAuthError::invalid_token(format!(
            "algorithm must be {ALG}"
        )));
    }
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(OAuthError::invalid_token("not an access token"));
    }
    let kid = header
        .kid
        .ok_or_else(|| OAuthError::invalid_token("no kid"))?;
    let key = keys
        .decoding_key(&kid)
        .ok_or_else(|| OAuthError::invalid_token("unknown kid"))?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[issuer]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // Expiry is checked below against our clock.
    v.validate_exp = false;
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &v)
        .map_err(OAuthError::invalid_token)?
        .claims;
    if claims.exp < now {
        return Err(OAuthError::invalid_token("expired"));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(OAuthError::invalid_token("not yet valid"));
    }
    if !store.access_token_is_active(&claims.jti, now).await? {
        return Err(OAuthError::invalid_token("revoked or unknown"));
    }
    Ok(claims)
}

/// The claims a valid token's scope allows; `sub` always (OIDC Core §5.3.2).
pub async fn userinfo(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    now: i64,
    token: &str,
) -> Result<Value, OAuthError> {
    let claims = verify_access_token(store, keys, issuer, now, token).await?;
    let scope = ScopeSet::parse_supported(&claims.scope);
    if !scope.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the openid scope is required",
        ));
    }
    let user = store
        .find_user(&claims.sub)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_token("user gone or disabled"))?;
    let mut out = user_claims(&user, &scope);
    out.insert("sub".into(), user.id.into());
    Ok(Value::Object(out))
}
