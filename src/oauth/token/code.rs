//! RFC 6749 §4.1.3: redeeming an authorization code.
use super::{Issuer, Subject, TokenResponse, active_user, mint, new_refresh_token};
use crate::crypto::{hash_secret, random_id};
use crate::domain::auth::amr_from_wire;
use crate::domain::{Client, GrantType, ScopeSet};
use crate::oauth::authorize::Params;
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::oauth::resource;
use crate::store::{CodeGrant, GrantPlan, Redemption};

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
    // RFC 6749 §4.1.2: a second redemption is refused, and revokes what the code granted,
    // whatever else the request got wrong. Looked at only once a request is refused, so a
    // redemption that goes through costs no extra read.
    let (redirect_uri, challenge, method) = match presented(ctx, client, params, &code_hash).await {
        Ok(presented) => presented,
        Err(e) => {
            refuse_replay(ctx, client, &code_hash).await?;
            return Err(e);
        }
    };
    let redemption = Redemption {
        code_hash: &code_hash,
        client_id: &client.id,
        redirect_uri,
        code_challenge: &challenge,
        code_challenge_method: method,
        now: ctx.now,
        // RFC 9449 §10: a code bound to a key is redeemed only with its proof.
        dpop_jkt: ctx.dpop_jkt,
    };
    // RFC 9700 §4.14: refresh tokens only for offline access or clients registered for them;
    // without offline access they are bound to the browser session and end with it. Every
    // redemption records its grant, which the access token names: without a refresh token the
    // grant lives as long as the access token.
    let mut refresh_token = None;
    let plan = |code: &CodeGrant| {
        let scope = ScopeSet::from_wire(&code.scope);
        let offline = scope.contains("offline_access");
        let refreshable = offline || client.allows_grant(GrantType::RefreshToken);
        let expires_at = ctx.now
            + if refreshable {
                client
                    .refresh_token_ttl
                    .unwrap_or(ctx.config.refresh_token_ttl)
            } else {
                ctx.config.access_token_ttl
            };
        let refresh = refreshable.then(|| {
            let (token, record) = new_refresh_token(ctx, client, expires_at);
            refresh_token = Some(token);
            record
        });
        GrantPlan {
            id: random_id(),
            scope: scope.to_wire(),
            resource: code.resource.clone(),
            session_key: if offline {
                None
            } else {
                code.session_key.clone()
            },
            expires_at,
            refresh,
            // RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key; a
            // confidential client's are bound to its credentials already.
            dpop_jkt: ctx
                .dpop_jkt
                .filter(|_| client.is_public())
                .map(str::to_owned),
            sid: code
                .session_key
                .as_deref()
                .map(|key| crate::oauth::backchannel::sid(key, &code.user_id)),
        }
    };
    let Some((grant, plan)) = ctx.store.redeem_code(&redemption, plan).await? else {
        refuse_replay(ctx, client, &code_hash).await?;
        return Err(OAuthError::invalid_grant(
            "code unknown, expired, or not bound to this client, redirect_uri, verifier and DPoP key",
        ));
    };
    let user = match active_user(ctx.store, &grant.user_id).await {
        Ok(u) => u,
        Err(e) => {
            ctx.store.revoke_grant(&plan.id, ctx.now).await?;
            return Err(e);
        }
    };
    let granted = ScopeSet::from_wire(&plan.scope);
    let covered = resource::covered(&plan.resource);
    let subject = Subject {
        user: &user,
        auth_time: grant.auth_time,
        amr: amr_from_wire(&grant.amr),
        nonce: grant.nonce,
        grant_id: &plan.id,
        grant_expires_at: plan.expires_at,
        sid: plan.sid.clone(),
    };
    let minted = match resource::pick(&covered, params.resources()) {
        Ok(api) => mint(ctx, client, &subject, &granted, api).await,
        Err(e) => Err(e),
    };
    let (access_token, id_token, scope) = match minted {
        Ok(minted) => minted,
        Err(e) => {
            // Nothing was handed out: the recorded grant must not linger as a connected app.
            ctx.store.revoke_grant(&plan.id, ctx.now).await?;
            return Err(e);
        }
    };
    // A replay that came in while we signed has revoked the grant: say so rather than hand
    // out tokens that no longer work.
    if ctx.store.code_was_replayed(&code_hash).await? {
        return Err(OAuthError::invalid_grant("code replayed during redemption"));
    }
    tracing::info!(client_id = %client.id, user_id = %user.id, scope = %scope.to_wire(), "tokens issued");
    Ok(ctx.response(access_token, refresh_token, id_token, scope.to_wire()))
}

/// What the request presents beside the code, checked before the code is spent: its
/// redirect_uri, and the challenge and method computed from its verifier.
async fn presented<'p>(
    ctx: Issuer<'_>,
    client: &Client,
    params: &'p Params,
    code_hash: &str,
) -> Result<(&'p str, String, &'static str), OAuthError> {
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
    // RFC 8707 §2.2: a resource the code does not cover is refused before the code is spent.
    if !params.resources().is_empty()
        && let Some(stored) = ctx.store.code_resource(code_hash, &client.id).await?
    {
        resource::pick(&resource::covered(&stored), params.resources())?;
    }
    Ok((redirect_uri, challenge, method))
}

/// RFC 6749 §4.1.2 / RFC 9700 §4.2.4, before a refusal goes out: a code presented again after
/// redemption is refused and revokes every token issued from it. Read first, so a refusal of
/// any other kind writes nothing.
async fn refuse_replay(
    ctx: Issuer<'_>,
    client: &Client,
    code_hash: &str,
) -> Result<(), OAuthError> {
    if !ctx.store.code_was_consumed(code_hash).await? {
        return Ok(());
    }
    if !ctx.store.mark_code_replayed(code_hash, ctx.now).await? {
        return Ok(());
    }
    let revoked = ctx.store.revoke_code_grants(code_hash, ctx.now).await?;
    tracing::warn!(client_id = %client.id, revoked, "security: authorization code replayed; tokens revoked");
    ctx.store.journal().emit(
        crate::audit::Event::CodeReuseDetected,
        &crate::audit::client(&client.id),
        &crate::audit::client(&client.id),
        Some(ctx.address),
    );
    Err(OAuthError::invalid_grant("code already used"))
}
