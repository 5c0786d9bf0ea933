//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; OIDC Core §3.1.3, §12).
use super::authorize::Params;
use super::claims::{AccessTokenClaims, Audience, at_hash, user_claims};
use super::error::{ErrorCode, OAuthError};
use super::pkce;
use crate::config::Config;
use crate::crypto::{derive_key, hash_secret, random_id, random_token};
use crate::domain::{Client, ScopeSet, User};
use crate::keys::{Keystore, new_jti};
use crate::store::{NewAccessToken, NewGrant, Store};
use serde::{Deserialize, Serialize};

/// RFC 6749 §5.1 successful response.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_token: Option<String>,
    /// Always sent, so clients never have to guess what was granted (RFC 6749 §3.3, §5.1).
    pub scope: String,
}

/// What issuing tokens needs from the server.
#[derive(Clone, Copy, Debug)]
pub struct Issuer<'a> {
    pub store: &'a Store,
    pub keys: &'a Keystore,
    pub config: &'a Config,
    pub now: i64,
    /// The client's address, for audit events.
    pub address: &'a str,
}

impl Issuer<'_> {
    fn issuer(&self) -> &str {
        &self.config.issuer
    }
}

/// Dispatches on `grant_type` (RFC 6749 §5.2).
pub async fn grant(
    ctx: Issuer<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    match grant_type {
        "authorization_code" | "refresh_token" | "client_credentials" => {}
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            ));
        }
    }
    // Refresh tokens from offline access are usable whatever the registration says.
    if !client.allows_grant(grant_type) && grant_type != "refresh_token" {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ));
    }
    match grant_type {
        "authorization_code" => exchange_code(ctx, client, params).await,
        "refresh_token" => refresh(ctx, client, params).await,
        _ => client_credentials(ctx, client, params).await,
    }
}

/// Where the tokens come from.
struct Subject<'a> {
    user: &'a User,
    auth_time: i64,
    nonce: Option<String>,
    code_hash: Option<&'a str>,
    grant_id: Option<&'a str>,
}

/// Mints the access token (RFC 9068) and, with `openid`, the ID token (OIDC Core §2, §3.1.3.6).
async fn mint(
    ctx: Issuer<'_>,
    client: &Client,
    s: &Subject<'_>,
    scope: &ScopeSet,
) -> Result<(String, Option<String>), OAuthError> {
    let mut aud = client.audiences.clone();
    if scope.contains("openid") || aud.is_empty() {
        aud.push(ctx.issuer().to_owned());
    }
    let at = AccessTokenClaims {
        iss: ctx.issuer().to_owned(),
        sub: s.user.id.clone(),
        aud: Audience::from_list(aud),
        client_id: client.id.clone(),
        scope: scope.to_wire(),
        jti: new_jti(),
        exp: ctx.now + ctx.config.access_token_ttl,
        iat: ctx.now,
        auth_time: Some(s.auth_time),
    };
    ctx.store
        .insert_access_token(&NewAccessToken {
            jti: &at.jti,
            client_id: &client.id,
            user_id: Some(&s.user.id),
            code_hash: s.code_hash,
            grant_id: s.grant_id,
            scope: &at.scope,
            expires_at: at.exp,
            created_at: ctx.now,
        })
        .await?;
    // RFC 9068 §2.1: typ "at+jwt" keeps access tokens from passing as ID tokens and back.
    let access_token = ctx.keys.sign("at+jwt", &at)?;
    if !scope.contains("openid") {
        return Ok((access_token, None));
    }
    let mut claims = user_claims(s.user, scope);
    claims.insert("iss".into(), ctx.issuer().into());
    claims.insert("sub".into(), s.user.id.clone().into());
    claims.insert("aud".into(), client.id.clone().into());
    claims.insert("azp".into(), client.id.clone().into());
    claims.insert("exp".into(), (ctx.now + ctx.config.id_token_ttl).into());
    claims.insert("iat".into(), ctx.now.into());
    claims.insert("auth_time".into(), s.auth_time.into());
    if let Some(nonce) = &s.nonce {
        claims.insert("nonce".into(), nonce.clone().into());
    }
    claims.insert("at_hash".into(), at_hash(&access_token).into());
    Ok((access_token, Some(ctx.keys.sign("JWT", &claims)?)))
}

/// A new refresh token for a family, expiring at the idle lifetime or the family's end.
async fn new_refresh_token(
    ctx: Issuer<'_>,
    client: &Client,
    grant_id: &str,
    grant_expires_at: i64,
) -> Result<String, OAuthError> {
    let token = random_token();
    let idle = client
        .refresh_idle_ttl
        .unwrap_or(ctx.config.refresh_idle_ttl);
    ctx.store
        .insert_refresh_token(
            &hash_secret(&token),
            grant_id,
            ctx.now,
            (ctx.now + idle).min(grant_expires_at),
        )
        .await?;
    Ok(token)
}

async fn active_user(store: &Store, user_id: &str) -> Result<User, OAuthError> {
    store
        .find_user(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("user gone or disabled"))
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
    // RFC 7636 §4.6. A client whose policy makes PKCE optional may omit the verifier; its code
    // is then redeemed only if it was issued without a challenge, and a verifier for such a
    // code matches nothing (RFC 9700 §2.1.1, the downgrade defence).
    let (challenge, method) = match params.get("code_verifier") {
        Some(verifier) => {
            if !pkce::is_valid_verifier(verifier) {
                return Err(OAuthError::invalid_request("code_verifier is malformed"));
            }
            (pkce::s256_challenge(verifier), pkce::S256)
        }
        None if client.requires_pkce() => {
            return Err(OAuthError::invalid_request("code_verifier is required"));
        }
        None => (String::new(), pkce::NONE),
    };
    let Some(grant) = ctx
        .store
        .consume_code(
            &code_hash,
            &client.id,
            redirect_uri,
            &challenge,
            method,
            ctx.now,
        )
        .await?
    else {
        reject_replay(ctx, client, &code_hash).await?;
        return Err(OAuthError::invalid_grant(
            "code unknown, expired, or not bound to this client, redirect_uri and verifier",
        ));
    };
    let user = active_user(ctx.store, &grant.user_id).await?;
    let scope = ScopeSet::parse_supported(&grant.scope);

    // RFC 9700 §4.14: refresh tokens only for offline access or clients registered for them;
    // without offline access they are bound to the browser session and end with it.
    let offline = scope.contains("offline_access");
    let grant_id = (offline || client.allows_grant("refresh_token")).then(random_id);
    let mut grant_expires_at = 0;
    if let Some(id) = &grant_id {
        grant_expires_at = ctx.now
            + client
                .refresh_token_ttl
                .unwrap_or(ctx.config.refresh_token_ttl);
        ctx.store
            .insert_grant(&NewGrant {
                id,
                client_id: &client.id,
                user_id: &user.id,
                scope: &scope.to_wire(),
                auth_time: grant.auth_time,
                session_key: if offline {
                    None
                } else {
                    grant.session_key.as_deref()
                },
                code_hash: Some(&code_hash),
                created_at: ctx.now,
                expires_at: grant_expires_at,
            })
            .await?;
    }
    let subject = Subject {
        user: &user,
        auth_time: grant.auth_time,
        nonce: grant.nonce,
        code_hash: Some(&code_hash),
        grant_id: grant_id.as_deref(),
    };
    let (access_token, id_token) = mint(ctx, client, &subject, &scope).await?;
    // A replay that raced this redemption marked the code before our tokens were recorded.
    if ctx.store.code_was_replayed(&code_hash).await? {
        ctx.store
            .revoke_tokens_from_code(&code_hash, ctx.now)
            .await?;
        return Err(OAuthError::invalid_grant("code replayed during redemption"));
    }
    let refresh_token = match &grant_id {
        Some(id) => Some(new_refresh_token(ctx, client, id, grant_expires_at).await?),
        None => None,
    };
    tracing::info!(client_id = %client.id, user_id = %user.id, scope = %scope.to_wire(), "tokens issued");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ctx.config.access_token_ttl,
        refresh_token,
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
    tracing::warn!(client_id = %client.id, revoked, "security: authorization code replayed; tokens revoked");
    crate::audit::emit(
        crate::audit::Event::CodeReuseDetected,
        &crate::audit::client(&client.id),
        &crate::audit::client(&client.id),
        Some(ctx.address),
    );
    Err(OAuthError::invalid_grant("code already used"))
}

const REPLAY_PURPOSE: &str = "gatehouse refresh replay";

/// RFC 6749 §6 with rotation (RFC 9700 §4.14.2): each refresh token works once. Narrower scope
/// is honoured, wider refused. Re-use of a rotated token revokes the family, except that an
/// authenticated (confidential) client re-presenting it within the replay window gets the very
/// same response again: nothing new is minted and nothing is revoked.
pub async fn refresh(
    ctx: Issuer<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let token_hash = hash_secret(token);
    let Some(record) = ctx.store.find_refresh_token(&token_hash).await? else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    if record.grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "refresh token issued to another client",
        ));
    }
    let granted = ScopeSet::parse_supported(&record.grant.scope);
    if !client.allows_grant("refresh_token") && !granted.contains("offline_access") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ));
    }
    // RFC 6749 §6: the requested scope must not exceed the original grant.
    let scope = match params.get("scope") {
        None => granted.clone(),
        Some(raw) => {
            let wanted: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
            if wanted.iter().any(|s| !granted.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "requested scope exceeds the grant",
                ));
            }
            ScopeSet::parse_supported(raw)
        }
    };
    if !ctx
        .store
        .claim_refresh_token(&token_hash, &client.id, ctx.now)
        .await?
    {
        return reuse(ctx, client, token, &token_hash).await;
    }
    let user = match active_user(ctx.store, &record.grant.user_id).await {
        Ok(u) => u,
        Err(e) => {
            ctx.store.revoke_grant(&record.grant.id, ctx.now).await?;
            return Err(e);
        }
    };
    let subject = Subject {
        user: &user,
        // OIDC Core §12.2: auth_time stays the original authentication's; no nonce.
        auth_time: record.grant.auth_time,
        nonce: None,
        code_hash: None,
        grant_id: Some(&record.grant.id),
    };
    let (access_token, id_token) = mint(ctx, client, &subject, &scope).await?;
    let refresh_token =
        new_refresh_token(ctx, client, &record.grant.id, record.grant.expires_at).await?;
    let response = TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ctx.config.access_token_ttl,
        refresh_token: Some(refresh_token),
        id_token,
        scope: scope.to_wire(),
    };
    if !client.is_public() && ctx.config.refresh_replay_window > 0 {
        // Sealed under a key only the presenter of the old token can derive.
        let plain = serde_json::to_vec(&response).map_err(OAuthError::server_error)?;
        let sealed = crate::crypto::seal(
            &derive_key(REPLAY_PURPOSE, token),
            &plain,
            token_hash.as_bytes(),
        )
        .ok_or_else(|| OAuthError::server_error("sealing the replay response failed"))?;
        ctx.store
            .store_replay_response(&token_hash, &sealed)
            .await?;
    }
    tracing::info!(client_id = %client.id, user_id = %user.id, "refresh token rotated");
    Ok(response)
}

/// A refresh token that could not be claimed: a replay inside the window (same answer again),
/// or re-use of a rotated token (the family is revoked), or simply invalid.
async fn reuse(
    ctx: Issuer<'_>,
    client: &Client,
    token: &str,
    token_hash: &str,
) -> Result<TokenResponse, OAuthError> {
    let mut record = ctx.store.find_refresh_token(token_hash).await?;
    let Some(rotated_at) = record.as_ref().and_then(|r| r.rotated_at) else {
        return Err(OAuthError::invalid_grant(
            "refresh token expired or revoked",
        ));
    };
    let grant_id = record
        .as_ref()
        .map(|r| r.grant.id.clone())
        .unwrap_or_default();
    let in_window = !client.is_public() && ctx.now - rotated_at <= ctx.config.refresh_replay_window;
    if in_window
        && record
            .as_ref()
            .is_some_and(|r| r.grant.revoked_at.is_none())
    {
        // The first use may still be in flight: wait briefly for its response.
        for _ in 0..40 {
            if let Some(sealed) = record.as_ref().and_then(|r| r.replay_response.clone()) {
                let plain = crate::crypto::open(
                    &derive_key(REPLAY_PURPOSE, token),
                    &sealed,
                    token_hash.as_bytes(),
                )
                .ok_or_else(|| OAuthError::server_error("replay response cannot be opened"))?;
                tracing::info!(client_id = %client.id, "refresh token re-presented within the window; same response");
                return serde_json::from_slice(&plain).map_err(OAuthError::server_error);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            record = ctx.store.find_refresh_token(token_hash).await?;
        }
        return Err(OAuthError::invalid_grant("refresh in progress"));
    }
    let revoked = ctx.store.revoke_grant(&grant_id, ctx.now).await?;
    tracing::warn!(client_id = %client.id, grant_id = %grant_id, revoked, "security: rotated refresh token re-used; family revoked");
    crate::audit::emit(
        crate::audit::Event::RefreshReuseDetected,
        &crate::audit::client(&client.id),
        &format!("grant:{grant_id}"),
        Some(ctx.address),
    );
    Err(OAuthError::invalid_grant("refresh token already used"))
}

/// RFC 6749 §4.4: a confidential client acting for itself. Scopes come from its registration;
/// no ID token, no refresh token.
pub async fn client_credentials(
    ctx: Issuer<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let allowed = client.allowed_scopes.clone().unwrap_or_default();
    let scope: Vec<String> = match params.get("scope") {
        None => allowed.clone(),
        Some(raw) => {
            let wanted: Vec<String> = raw
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if wanted.iter().any(|s| !allowed.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "scope not allowed for this client",
                ));
            }
            wanted
        }
    };
    let scope = scope.join(" ");
    let aud = if client.audiences.is_empty() {
        vec![ctx.issuer().to_owned()]
    } else {
        client.audiences.clone()
    };
    let at = AccessTokenClaims {
        iss: ctx.issuer().to_owned(),
        sub: client.id.clone(),
        aud: Audience::from_list(aud),
        client_id: client.id.clone(),
        scope: scope.clone(),
        jti: new_jti(),
        exp: ctx.now + ctx.config.access_token_ttl,
        iat: ctx.now,
        auth_time: None,
    };
    ctx.store
        .insert_access_token(&NewAccessToken {
            jti: &at.jti,
            client_id: &client.id,
            user_id: None,
            code_hash: None,
            grant_id: None,
            scope: &scope,
            expires_at: at.exp,
            created_at: ctx.now,
        })
        .await?;
    let access_token = ctx.keys.sign("at+jwt", &at)?;
    tracing::info!(client_id = %client.id, "client credentials token issued");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ctx.config.access_token_ttl,
        refresh_token: None,
        id_token: None,
        scope,
    })
}
