//! RFC 6749 §4.4: the client credentials grant.
use super::{Issuer, Principal, TokenResponse, access_token};
use crate::domain::Client;
use crate::oauth::authorize::Params;
use crate::oauth::error::{ErrorCode, OAuthError};

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
    // An admin token is for this server alone: no API it names may replay it here.
    let admin = scope.split(' ').any(|s| s == crate::domain::ADMIN_SCOPE);
    let aud = if client.audiences.is_empty() || admin {
        vec![ctx.issuer().to_owned()]
    } else {
        client.audiences.clone()
    };
    let access_token = access_token(ctx, client, Principal::Client, aud, &scope).await?;
    tracing::info!(client_id = %client.id, "client credentials token issued");
    Ok(ctx.response(access_token, None, None, scope))
}
