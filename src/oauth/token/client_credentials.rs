//! RFC 6749 §4.4: the client credentials grant.
use super::{Issuer, Principal, TokenResponse, access_token};
use crate::domain::{ADMIN_SCOPE, Api, Client};
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
    let asked: Vec<String> = match params.get("scope") {
        None => Vec::new(),
        Some(raw) => raw
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    if asked.iter().any(|s| !allowed.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope not allowed for this client",
        ));
    }
    let candidates: Vec<&str> = if asked.is_empty() { &allowed } else { &asked }
        .iter()
        .map(String::as_str)
        .filter(|s| *s != ADMIN_SCOPE)
        .collect();
    let resources = params.resources();
    if resources.len() > 1 {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "a token request names at most one resource",
        ));
    }
    let ids: Vec<&str> = resources.iter().map(String::as_str).collect();
    let apis = if candidates.is_empty() && ids.is_empty() {
        Vec::new()
    } else {
        ctx.store.apis_for_cached(&candidates, &ids).await?
    };
    let target = target_api(client, &apis, resources.first(), &asked, &candidates)?;
    // Without `scope`, everything registered; with a resource, what it registered of that API.
    let scope: Vec<String> = match (asked.is_empty(), target) {
        (false, _) => asked,
        (true, Some(api)) => allowed.into_iter().filter(|s| api.owns(s)).collect(),
        (true, None) => allowed,
    };
    if target.is_some() && scope.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "this client has no scope of that API",
        ));
    }
    let scope = scope.join(" ");
    // An admin token is for this server alone: no API it names may replay it here.
    let admin = scope.split(' ').any(|s| s == ADMIN_SCOPE);
    if admin && target.is_some() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the admin scope cannot be combined with an API",
        ));
    }
    let aud = match target {
        Some(api) => vec![api.identifier.clone()],
        // Scopes no API defines keep the client's audience list, as before APIs existed.
        None if client.audiences.is_empty() || admin => vec![ctx.issuer().to_owned()],
        None => client.audiences.clone(),
    };
    let access_token = access_token(
        ctx,
        client,
        Principal::Client,
        aud,
        &scope,
        Vec::new(),
        None,
    )
    .await?;
    tracing::info!(client_id = %client.id, "client credentials token issued");
    Ok(ctx.response(access_token, None, None, scope))
}

/// The API a client credentials token is for (RFC 8707 §2.2): the `resource` named, else the one
/// API owning the scopes. Scopes of two APIs, or outside the named one, are `invalid_scope`.
fn target_api<'a>(
    client: &Client,
    apis: &'a [Api],
    resource: Option<&String>,
    asked: &[String],
    candidates: &[&str],
) -> Result<Option<&'a Api>, OAuthError> {
    let named = match resource {
        None => None,
        Some(r) => {
            let api = apis
                .iter()
                .find(|a| &a.identifier == r)
                .filter(|a| client.may_use_api(a))
                .ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidTarget,
                        "resource is not an API this client may use",
                    )
                })?;
            Some(api)
        }
    };
    let mut owner: Option<&Api> = named;
    for s in candidates {
        let Some(api) = apis.iter().find(|a| a.owns(s)) else {
            continue;
        };
        match owner {
            // Without `scope` and with a resource, the other APIs' scopes are simply not asked.
            Some(o) if o.id != api.id && named.is_some() && asked.is_empty() => {}
            // Without either, everything registered, as before APIs existed.
            Some(o) if o.id != api.id && asked.is_empty() => return Ok(None),
            Some(o) if o.id != api.id => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    if named.is_some() {
                        "a scope belongs to another API than the resource"
                    } else {
                        "the scopes belong to more than one API; name one with resource"
                    },
                ));
            }
            _ => owner = Some(api),
        }
    }
    if let Some(api) = owner
        && !client.may_use_api(api)
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "this client may not ask for that API",
        ));
    }
    Ok(owner)
}
