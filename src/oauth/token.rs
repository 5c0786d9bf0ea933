//! The token endpoint's grants (RFC 6749 §4.1.3, §5.1; OIDC Core §3.1.3).
use super::authorize::Params;
use super::claims::{AccessTokenClaims, Audience, at_hash, user_claims};
use super::error::{ErrorCode, OAuthError};
use super::pkce;
use crate::crypto::hash_secret;
use crate::domain::{Client, ScopeSet};
use crate::keys::{Keystore, new_jti};
use crate::store::{NewAccessToken, Store};
use serde::Serialize;

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Always sent, so clients never have to guess what was granted (RFC 6749 §3.3, §5.1).
    pub scope: String,
}

/// What issuing tokens needs from the server.
#[derive(Clone, Copy, Debug)]
pub struct Issuer<'a> {
    pub store: &'a Store,
    pub keys: &'a Keystore,
    pub issuer: &'a str,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub now: i64,
}

/// Dispatches on `grant_type` (RFC 6749 §4.1.3, §5.2).
pub async fn grant(
    ctx: Issuer<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    match params.get("grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is required")),
        Some("authorization_code") => exchange_code(ctx, client, params).await,
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "grant_type is not supported",
        )),
    }
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.6: the code is redeemed once, by the client it was issued to,
/// with the same redirect_uri and a verifier matching the stored challenge.
pub async fn exchange_code(
    ctx: Issuer<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let code_hash = hash_secret(code);
    // A second redemption is refused whatever else the request got wrong.
    reject_replay(ctx, client, &code_hash).await?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    let verifier = params
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required"))?;
    if !pkce::is_valid_verifier(verifier) {
        return Err(OAuthError::invalid_request("code_verifier is malformed"));
    }
    let challenge = pkce::s256_challenge(verifier);
    let Some(grant) = ctx
        .store
        .consume_code(&code_hash, &client.id, redirect_uri, &challenge, ctx.now)
        .await?
    else {
        reject_replay(ctx, client, &code_hash).await?;
        return Err(OAuthError::invalid_grant(
            "code unknown, expired, or not bound to this client, redirect_uri and verifier",
        ));
    };
    let user = ctx
        .store
        .find_user(&grant.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("user gone or disabled"))?;
    let scope = ScopeSet::parse_supported(&grant.scope);

    let mut aud = client.audiences.clone();
    if scope.contains("openid") || aud.is_empty() {
        aud.push(ctx.issuer.to_owned());
    }
    let at = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub: user.id.clone(),
        aud: Audience::from_list(aud),
        client_id: client.id.clone(),
        scope: scope.to_wire(),
        jti: new_jti(),
        exp: ctx.now + ctx.access_token_ttl,
        iat: ctx.now,
        auth_time: Some(grant.auth_time),
        nbf: None,
    };
    ctx.store
        .insert_access_token(&NewAccessToken {
            jti: &at.jti,
            client_id: &client.id,
            user_id: Some(&user.id),
            code_hash: Some(&code_hash),
            scope: &at.scope,
            expires_at: at.exp,
            created_at: ctx.now,
        })
        .await?;
    // A replay that raced this redemption marked the code before our token was recorded.
    if ctx.store.code_was_replayed(&code_hash).await? {
        ctx.store
            .revoke_tokens_from_code(&code_hash, ctx.now)
            .await?;
        return Err(OAuthError::invalid_grant("code replayed during redemption"));
    }
    // RFC 9068 §2.1: typ "at+jwt" keeps access tokens from passing as ID tokens and back.
    let access_token = ctx.keys.sign("at+jwt", &at)?;

    let id_token = if scope.contains("openid") {
        let mut claims = user_claims(&user, &scope);
        claims.insert("iss".into(), ctx.issuer.into());
        claims.insert("sub".into(), user.id.clone().into());
        claims.insert("aud".into(), client.id.clone().into());
        claims.insert("azp".into(), client.id.clone().into());
        claims.insert("exp".into(), (ctx.now + ctx.id_token_ttl).into());
        claims.insert("iat".into(), ctx.now.into());
        claims.insert("auth_time".into(), grant.auth_time.into());
        if let Some(nonce) = grant.nonce {
            claims.insert("nonce".into(), nonce.into());
        }
        claims.insert("at_hash".into(), at_hash(&access_token).into());
        Some(ctx.keys.sign("JWT", &claims)?)
    } else {
        None
    };
    tracing::info!(client_id = %client.id, user_id = %user.id, scope = %at.scope, "tokens issued");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ctx.access_token_ttl,
        id_token,
        scope: scope.to_wire(),
    })
}

/// RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a code presented again after redemption is refused and
/// revokes every token issued from it.
async fn reject_replay(
    ctx: Issuer<'_>,
    client: &Client,
    code_hash: &str,
) -> Result<(), OAuthError> {
    if !ctx.store.mark_code_replayed(code_hash, ctx.now).await? {
        return Ok(());
    }
    let revoked = ctx
        .store
        .revoke_tokens_from_code(code_hash, ctx.now)
        .await?;
    tracing::warn!(client_id = %client.id, revoked, "authorization code replayed; tokens revoked");
    Err(OAuthError::invalid_grant("code already used"))
}
