//! RFC 6749 §6: refreshing, with rotation and reuse detection (RFC 9700 §4.14.2).
use super::{Issuer, Subject, TokenResponse, active_user, mint, new_refresh_token};
use crate::crypto::{derive_key, hash_secret};
use crate::domain::auth::amr_from_wire;
use crate::domain::{Amr, Client, GrantType, ScopeSet};
use crate::oauth::authorize::Params;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::resource;

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
    // RFC 9449 §5: a bound refresh token works only with a proof of its key. Checked before
    // anything else, so a stolen token without the key cannot even trip reuse detection.
    if let Some(bound) = &record.grant.dpop_jkt {
        match ctx.dpop_jkt {
            None => {
                return Err(OAuthError::invalid_dpop_proof(
                    "this refresh token needs a DPoP proof",
                ));
            }
            Some(jkt) if jkt != bound => {
                return Err(OAuthError::invalid_grant(
                    "refresh token is bound to another DPoP key",
                ));
            }
            Some(_) => {}
        }
    }
    // Already rotated: a replay or a re-use, answered without signing anything new.
    if record.rotated_at.is_some() {
        return reuse(ctx, client, token, &token_hash).await;
    }
    // A second-factor requirement turned on after the sign-in also binds its refresh tokens.
    let mfa = amr_from_wire(&record.grant.amr).contains(&Amr::Mfa);
    if !mfa
        && (client.require_mfa
            || (ctx.config.admins_require_mfa
                && ctx.store.user_is_admin(&record.grant.user_id).await?))
    {
        ctx.store.revoke_grant(&record.grant.id, ctx.now).await?;
        return Err(OAuthError::invalid_grant(
            "the sign-in behind this grant lacks the second factor now required",
        ));
    }
    let granted = ScopeSet::from_wire(&record.grant.scope);
    if !client.allows_grant(GrantType::RefreshToken) && !granted.contains("offline_access") {
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
            ScopeSet::from_wire(raw)
        }
    };
    // RFC 8707 §2.2: a token for any one API the grant covers.
    let covered = resource::covered(&record.grant.resource);
    let api = resource::pick(&covered, params.resources())?;
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
        amr: amr_from_wire(&record.grant.amr),
        nonce: None,
        grant_id: &record.grant.id,
        grant_expires_at: record.grant.expires_at,
        sid: record.grant.sid.clone(),
    };
    // Signed before the claim, so the claim, the successor and the replay response are one
    // write: a token that turns out not to be claimable only cost the signatures.
    let (access_token, id_token, scope) = mint(ctx, client, &subject, &scope, api).await?;
    let (successor, record_of_successor) = new_refresh_token(ctx, client, record.grant.expires_at);
    let response = ctx.response(access_token, Some(successor), id_token, scope.to_wire());
    let sealed = if !client.is_public() && ctx.config.refresh_replay_window > 0 {
        // Sealed under a key only the presenter of the old token can derive.
        let plain = serde_json::to_vec(&response).map_err(OAuthError::server_error)?;
        Some(
            crate::crypto::seal(
                &derive_key(REPLAY_PURPOSE, token),
                &plain,
                token_hash.as_bytes(),
            )
            .ok_or_else(|| OAuthError::server_error("sealing the replay response failed"))?,
        )
    } else {
        None
    };
    if !ctx
        .store
        .rotate_refresh_token(
            &token_hash,
            &client.id,
            &record.grant.id,
            &record_of_successor,
            sealed.as_deref(),
            ctx.now,
        )
        .await?
    {
        return reuse(ctx, client, token, &token_hash).await;
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
    ctx.store.journal().emit(
        crate::audit::Event::RefreshReuseDetected,
        &crate::audit::client(&client.id),
        &format!("grant:{grant_id}"),
        Some(ctx.address),
    );
    Err(OAuthError::invalid_grant("refresh token already used"))
}
