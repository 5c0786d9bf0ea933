//! RFC 7009 token revocation and RFC 7662 introspection. Both answer only about the caller's
//! own business and never reveal whether an unknown token existed.
use super::authorize::Params;
use super::claims::AccessTokenClaims;
use super::error::OAuthError;
use super::jwt;
use crate::crypto::hash_secret;
use crate::domain::Client;
use crate::keys::Keystore;
use crate::store::Store;
use serde_json::{Value, json};

/// RFC 7009 §2.1: revokes a refresh token (its whole family, RFC 7009 §2.1 SHOULD) or an access
/// token, if it was issued to the caller. Anything else changes nothing; the answer is the same.
pub async fn revoke(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    now: i64,
    client: &Client,
    params: &Params,
) -> Result<(), OAuthError> {
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some(r) = find_refresh_token(store, token).await? {
        if r.grant.client_id == client.id {
            store.revoke_grant(&r.grant.id, now).await?;
            tracing::info!(client_id = %client.id, "refresh token family revoked");
        }
        return Ok(());
    }
    if let Ok(claims) = jwt::decode_access(keys, issuer, token)
        && claims.client_id == client.id
    {
        // Denied until it would have expired; the entry is swept after that.
        store
            .deny_access_token(&claims.jti, claims.exp.max(now))
            .await?;
        tracing::info!(client_id = %client.id, "access token revoked");
    }
    Ok(())
}

/// Our refresh tokens are opaque and never contain a dot; access tokens are JWTs, which always
/// do. Telling them apart first saves a lookup on every access-token introspection.
async fn find_refresh_token(
    store: &Store,
    token: &str,
) -> Result<Option<crate::store::RefreshRecord>, crate::store::Error> {
    if token.contains('.') {
        return Ok(None);
    }
    store.find_refresh_token(&hash_secret(token)).await
}

fn inactive() -> Value {
    json!({ "active": false })
}

/// Whether `caller` may learn about an access token (RFC 7662 §4): it was issued to the caller,
/// or the caller is registered as the resource server (API) the token is meant for.
fn concerns(caller: &Client, claims: &AccessTokenClaims, issuer: &str) -> bool {
    claims.client_id == caller.id
        || caller
            .resource_audiences
            .iter()
            .any(|a| a != issuer && claims.aud.contains(a))
}

/// RFC 7662 §2.2. Public clients may not introspect.
pub async fn introspect(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    now: i64,
    caller: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if caller.is_public() {
        return Err(OAuthError::invalid_client().with_detail("public clients cannot introspect"));
    }
    if let Some(r) = find_refresh_token(store, token).await? {
        let live = r.rotated_at.is_none()
            && r.expires_at >= now
            && r.grant.revoked_at.is_none()
            && r.grant.expires_at >= now;
        let user_ok = store
            .find_user(&r.grant.user_id)
            .await?
            .is_some_and(|u| !u.disabled);
        if !(live && user_ok && r.grant.client_id == caller.id) {
            return Ok(inactive());
        }
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": r.grant.scope,
            "client_id": r.grant.client_id,
            "sub": r.grant.user_id,
            "iss": issuer,
            "iat": r.created_at,
            "exp": r.expires_at,
        }));
    }
    let Ok(claims) = jwt::decode_access(keys, issuer, token) else {
        return Ok(inactive());
    };
    if claims.exp < now
        || !concerns(caller, &claims, issuer)
        || !super::userinfo::is_active(store, &claims).await?
    {
        return Ok(inactive());
    }
    let mut out = json!({
        "active": true,
        // RFC 9449 §6.2: a bound token is a DPoP token, and `cnf` names its key.
        "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    // RFC 9068 §2.2.1 / RFC 8176: how the user authenticated, when a user did.
    if let Some(obj) = out.as_object_mut() {
        if let Some(t) = claims.auth_time {
            obj.insert("auth_time".into(), t.into());
        }
        if !claims.amr.is_empty() {
            obj.insert("amr".into(), claims.amr.clone().into());
        }
        if let Some(acr) = &claims.acr {
            obj.insert("acr".into(), acr.clone().into());
        }
        if let Some(cnf) = &claims.cnf {
            obj.insert("cnf".into(), json!({ "jkt": cnf.jkt }));
        }
    }
    Ok(out)
}
