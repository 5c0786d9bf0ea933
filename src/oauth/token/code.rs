//! RFC 6749 §4.1.3: redeeming an authorization code.
use super::{Issuer, Subject, TokenResponse, active_user, mint, new_refresh_token};
use crate::crypto::{hash_secret, random_id};
use crate::domain::auth::amr_from_wire;
use crate::domain::{Client, GrantType, ScopeSet};
use crate::oauth::authorize::Params;
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::store::NewGrant;

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
    // A second redemption is refused whatever else the request got wrong. Read first: the
    // marking write is only needed for a code already redeemed.
    if ctx.store.code_was_consumed(&code_hash).await? {
        reject_replay(ctx, client, &code_hash).await?;
    }
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
    // without offline access they are bound to the browser session and end with it. Every
    // redemption records its grant, which the access token names: without a refresh token the
    // grant lives as long as the access token.
    let offline = scope.contains("offline_access");
    let refreshable = offline || client.allows_grant(GrantType::RefreshToken);
    let grant_id = random_id();
    let grant_expires_at = ctx.now
        + if refreshable {
            client
                .refresh_token_ttl
                .unwrap_or(ctx.config.refresh_token_ttl)
        } else {
            ctx.config.access_token_ttl
        };
    ctx.store
        .insert_grant(&NewGrant {
            id: &grant_id,
            client_id: &client.id,
            user_id: &user.id,
            scope: &scope.to_wire(),
            auth_time: grant.auth_time,
            amr: &grant.amr,
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
    let subject = Subject {
        user: &user,
        auth_time: grant.auth_time,
        amr: amr_from_wire(&grant.amr),
        nonce: grant.nonce,
        grant_id: &grant_id,
        grant_expires_at,
    };
    let (access_token, id_token) = mint(ctx, client, &subject, &scope).await?;
    // A replay that raced this redemption marked the code before our tokens were recorded.
    if ctx.store.code_was_replayed(&code_hash).await? {
        ctx.store.revoke_code_grants(&code_hash, ctx.now).await?;
        return Err(OAuthError::invalid_grant("code replayed during redemption"));
    }
    let refresh_token = if refreshable {
        Some(new_refresh_token(ctx, client, &grant_id, grant_expires_at).await?)
    } else {
        None
    };
    tracing::info!(client_id = %client.id, user_id = %user.id, scope = %scope.to_wire(), "tokens issued");
    Ok(ctx.response(access_token, refresh_token, id_token, scope.to_wire()))
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
    let revoked = ctx.store.revoke_code_grants(code_hash, ctx.now).await?;
    tracing::warn!(client_id = %client.id, revoked, "security: authorization code replayed; tokens revoked");
    crate::audit::emit(
        crate::audit::Event::CodeReuseDetected,
        &crate::audit::client(&client.id),
        &crate::audit::client(&client.id),
        Some(ctx.address),
    );
    Err(OAuthError::invalid_grant("code already used"))
}
