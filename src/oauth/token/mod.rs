//! The token endpoint (RFC 6749 §3.2, §5): grant dispatch and the one place each token is
//! minted. The grants live in `code`, `refresh` and `client_credentials`.
mod client_credentials;
mod code;
mod refresh;

use super::authorize::Params;
use super::claims::{
    AccessTokenClaims, Audience, Confirmation, IdTokenClaims, at_hash, user_claims,
};
use super::error::{ErrorCode, OAuthError};
use super::resource;
use crate::config::Config;
use crate::crypto::{hash_secret, random_token};
use crate::domain::{Access, Acr, Alg, Amr, Client, GrantType, ScopeSet, User};
use crate::keys::{Keystore, new_jti};
use crate::store::{NewRefresh, Store};
use serde::{Deserialize, Serialize};

pub use client_credentials::client_credentials;
pub use code::exchange_code;
pub use refresh::refresh;

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
    /// The thumbprint of the key a valid DPoP proof showed (RFC 9449 §5): the tokens are bound
    /// to it.
    pub dpop_jkt: Option<&'a str>,
}

impl Issuer<'_> {
    fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// RFC 6749 §5.1; RFC 9449 §5: `DPoP` when the access token is bound to a key.
    fn response(
        &self,
        access_token: Minted,
        refresh_token: Option<String>,
        id_token: Option<String>,
        scope: String,
    ) -> TokenResponse {
        TokenResponse {
            access_token: access_token.token,
            token_type: if self.dpop_jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }
            .into(),
            expires_in: access_token.expires_in,
            refresh_token,
            id_token,
            scope,
        }
    }
}

/// Dispatches on `grant_type` (RFC 6749 §5.2).
pub async fn grant(
    ctx: Issuer<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let name = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let Some(grant_type) = GrantType::parse(name) else {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "grant_type is not supported",
        ));
    };
    // RFC 9449 §5.2.1: such a client never gets a bearer token.
    if client.dpop_bound && ctx.dpop_jkt.is_none() {
        return Err(OAuthError::invalid_dpop_proof(
            "this client must send a DPoP proof",
        ));
    }
    // Refresh tokens from offline access are usable whatever the registration says.
    if !client.allows_grant(grant_type) && grant_type != GrantType::RefreshToken {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ));
    }
    let issued = match grant_type {
        GrantType::AuthorizationCode => exchange_code(ctx, client, params).await,
        GrantType::RefreshToken => refresh(ctx, client, params).await,
        GrantType::ClientCredentials => client_credentials(ctx, client, params).await,
    }?;
    crate::metrics::token_issued(grant_type.as_str());
    Ok(issued)
}

/// Whom an access token speaks for.
enum Principal<'a> {
    /// A user, through a grant of theirs.
    User(&'a Subject<'a>),
    /// The client itself (client credentials).
    Client,
}

/// A user's tokens and where they come from.
struct Subject<'a> {
    user: &'a User,
    auth_time: i64,
    /// RFC 8176 methods of that authentication.
    amr: Vec<Amr>,
    nonce: Option<String>,
    grant_id: &'a str,
    /// A token never outlives its grant, so a swept grant has no live tokens.
    grant_expires_at: i64,
    /// The browser session the grant was made in (Back-Channel Logout 1.0 §2.1).
    sid: Option<String>,
}

/// The algorithm a client asked for, or RS256 (OIDC's default, which every relying party
/// supports) when this server no longer signs with it: a token the client may refuse beats a
/// spent code and an error.
fn alg_for(ctx: Issuer<'_>, client: &Client, wanted: Alg) -> Alg {
    if ctx.keys.can_sign(wanted) {
        return wanted;
    }
    tracing::warn!(client_id = %client.id, %wanted, "the client's signing algorithm is not configured (GATEHOUSE_SIGNING_ALGS); signing with RS256");
    Alg::RS256
}

/// A signed access token and its lifetime in seconds (RFC 6749 §5.1 `expires_in`).
struct Minted {
    token: String,
    expires_in: i64,
}

/// The one place access tokens are minted (RFC 9068), signed with `typ` "at+jwt" so they never
/// pass as ID tokens (RFC 9068 §2.1). Self-contained: nothing is written; revocation goes by
/// `jti` or, for a user's token, by its grant.
async fn access_token(
    ctx: Issuer<'_>,
    client: &Client,
    principal: Principal<'_>,
    aud: Vec<String>,
    scope: &str,
    roles: Vec<String>,
    groups: Option<Vec<String>>,
) -> Result<Minted, OAuthError> {
    let subject = match &principal {
        Principal::User(s) => Some(*s),
        Principal::Client => None,
    };
    let mut exp = ctx.now + ctx.config.access_token_ttl;
    if let Some(s) = subject {
        exp = exp.min(s.grant_expires_at);
    }
    let at = AccessTokenClaims {
        iss: ctx.issuer().to_owned(),
        sub: subject.map_or_else(|| client.id.clone(), |s| s.user.id.clone()),
        aud: Audience::from_list(aud),
        client_id: client.id.clone(),
        scope: scope.to_owned(),
        jti: new_jti(),
        exp,
        iat: ctx.now,
        auth_time: subject.map(|s| s.auth_time),
        amr: subject.map(|s| wire_amr(&s.amr)).unwrap_or_default(),
        acr: subject.map(|s| Acr::of(&s.amr).as_str().to_owned()),
        gid: subject.map(|s| s.grant_id.to_owned()),
        roles,
        groups,
        cnf: ctx.dpop_jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    Ok(Minted {
        token: ctx.keys.sign(
            alg_for(ctx, client, client.access_token_signed_response_alg),
            "at+jwt",
            &at,
        )?,
        expires_in: exp - ctx.now,
    })
}

/// A user's tokens for one API of their grant, or for none (`resource`, RFC 8707 §2.2): the
/// access token and, with `openid`, the ID token (OIDC Core §2, §3.1.3.6), and the scope they
/// carry. API scopes are granted only while one of the user's roles carries them.
async fn mint(
    ctx: Issuer<'_>,
    client: &Client,
    s: &Subject<'_>,
    granted: &ScopeSet,
    resource: Option<&str>,
) -> Result<(Minted, Option<String>, ScopeSet), OAuthError> {
    let api = match resource {
        Some(id) => ctx
            .store
            .apis_for_cached(&[], &[id])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    let groups_asked = granted.contains("groups");
    let access = if api.is_some() || groups_asked {
        ctx.store.user_access(&s.user.id).await?
    } else {
        Access::default()
    };
    let resource::TokenAccess { scope, api, roles } =
        resource::token_access(granted, api.as_ref(), client, &access);
    // RFC 9068 §3: a token for an API names it; the issuer too with `openid`, for UserInfo.
    let mut aud = match api {
        Some(api) => vec![api.identifier.clone()],
        None => legacy_audiences(ctx, client).await?,
    };
    if scope.contains("openid") || aud.is_empty() {
        aud.push(ctx.issuer().to_owned());
    }
    let groups = groups_asked.then(|| access.groups.clone());
    let wire = scope.to_wire();
    let access_token = access_token(
        ctx,
        client,
        Principal::User(s),
        aud,
        &wire,
        roles,
        groups.clone(),
    )
    .await?;
    if !scope.contains("openid") {
        return Ok((access_token, None, scope));
    }
    let id_alg = alg_for(ctx, client, client.id_token_signed_response_alg);
    let mut user = user_claims(s.user, &scope);
    if let Some(groups) = groups {
        user.insert("groups".into(), groups.into());
    }
    let claims = IdTokenClaims {
        iss: ctx.issuer().to_owned(),
        sub: s.user.id.clone(),
        aud: client.id.clone(),
        azp: client.id.clone(),
        exp: ctx.now + ctx.config.id_token_ttl,
        iat: ctx.now,
        auth_time: s.auth_time,
        nonce: s.nonce.clone(),
        at_hash: at_hash(id_alg, &access_token.token),
        amr: wire_amr(&s.amr),
        acr: Some(Acr::of(&s.amr).as_str().to_owned()),
        sid: s.sid.clone(),
        user,
    };
    let id_token = ctx.keys.sign(id_alg, "JWT", &claims)?;
    Ok((access_token, Some(id_token), scope))
}

/// The audience list of a token for no API: the client's audiences that are not registered
/// APIs. A registered API is reached only through its scopes, which roles grant.
async fn legacy_audiences(ctx: Issuer<'_>, client: &Client) -> Result<Vec<String>, OAuthError> {
    if client.audiences.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = client.audiences.iter().map(String::as_str).collect();
    let apis = ctx.store.apis_for_cached(&[], &ids).await?;
    Ok(client
        .audiences
        .iter()
        .filter(|a| !apis.iter().any(|api| &api.identifier == *a))
        .cloned()
        .collect())
}

/// A new refresh token for a family: the token, and what the store keeps of it (its hash, and
/// an expiry at the idle lifetime or the family's end).
fn new_refresh_token(
    ctx: Issuer<'_>,
    client: &Client,
    grant_expires_at: i64,
) -> (String, NewRefresh) {
    let token = random_token();
    let idle = client
        .refresh_idle_ttl
        .unwrap_or(ctx.config.refresh_idle_ttl);
    let record = NewRefresh {
        token_hash: hash_secret(&token),
        expires_at: (ctx.now + idle).min(grant_expires_at),
    };
    (token, record)
}

fn wire_amr(amr: &[Amr]) -> Vec<String> {
    amr.iter().map(|a| a.as_str().to_owned()).collect()
}

/// Through the cache UserInfo reads: a user disabled by another process is refused within its
/// TTL, as their access tokens are.
async fn active_user(store: &Store, user_id: &str) -> Result<User, OAuthError> {
    store
        .find_user_cached(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("user gone or disabled"))
}
