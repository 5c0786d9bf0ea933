//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592). Off unless
//! `GATEHOUSE_DYNAMIC_REGISTRATION` is on; registering then needs an initial access token an
//! admin issued. A registered client gets a registration access token with which it reads,
//! replaces and deletes its own registration. Registered clients are held to a narrow set of
//! settings: the code flow (and refresh tokens), the OIDC scopes, consent always asked.
use super::{Actor, AdminError};
use crate::audit::{self, Event};
use crate::crypto::{constant_time_eq, hash_secret, random_id, random_token};
use crate::domain::scope::SUPPORTED_SCOPES;
use crate::domain::{Alg, Client, ClientChanges, GrantType, InvalidMetadata};
use crate::store::Store;
use serde::Deserialize;

/// Who manages a registered client, and the audit actor of registrations.
pub const MANAGED_BY_REGISTRATION: &str = "registration";

/// The longest life of an initial access token: 30 days.
pub const MAX_TOKEN_TTL: i64 = 30 * 86400;

/// RFC 7591 §2: the metadata a client may send. Members Gatehouse does not know are ignored,
/// as §2 requires.
#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    pub redirect_uris: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub scope: Option<String>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub id_token_signed_response_alg: Option<String>,
    /// RFC 9126 §6: the client holds itself to pushed authorization requests.
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.2: the client always sends DPoP proofs.
    pub dpop_bound_access_tokens: Option<bool>,
    /// RFC 7591 §2 with `private_key_jwt` (RFC 7523): the client's public keys, or their URL.
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    /// OpenID Connect Back-Channel Logout 1.0 §2.2.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    /// RFC 7592 §2.2: a replacement names the client, and may repeat its current secret.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// RFC 7591 §3.2.2 and RFC 6750 errors.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// An unknown, used or expired token (RFC 6750 §3.1 `invalid_token`).
    #[error("the access token is not valid")]
    InvalidToken,
    /// No token at all (RFC 6750 §3.1: the bare challenge).
    #[error("an access token is required")]
    NoToken,
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl From<InvalidMetadata> for RegistrationError {
    fn from(e: InvalidMetadata) -> Self {
        if e.is_redirect_uri() {
            Self::InvalidRedirectUri(e.to_string())
        } else {
            Self::InvalidClientMetadata(e.to_string())
        }
    }
}

impl From<crate::store::Error> for RegistrationError {
    fn from(e: crate::store::Error) -> Self {
        Self::Admin(e.into())
    }
}

fn invalid(message: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(message.into())
}

/// A registration's answer: the client, and the secrets it is given now (once).
#[derive(Debug)]
pub struct Registered {
    pub client: Client,
    pub client_secret: Option<String>,
    pub registration_access_token: Option<String>,
}

/// Issues an initial access token valid for one registration within `ttl` seconds.
pub async fn issue_token(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    ttl: i64,
) -> Result<String, AdminError> {
    if !(1..=MAX_TOKEN_TTL).contains(&ttl) {
        return Err(AdminError::InvalidField {
            field: "ttl",
            message: format!(
                "a registration token lives 1 s to {} days",
                MAX_TOKEN_TTL / 86400
            ),
        });
    }
    let token = random_token();
    let hash = hash_secret(&token);
    store
        .insert_registration_token(&hash, actor.id, now, now + ttl)
        .await?;
    store.journal().emit(
        Event::RegistrationTokenIssued,
        actor.id,
        &format!("registration-token:{}", &hash[..12]),
        actor.address,
    );
    Ok(token)
}

/// The settings a registration asks for, held to what a registered client may have.
fn changes_of(m: &Metadata) -> Result<ClientChanges, RegistrationError> {
    if let Some(rt) = &m.response_types
        && rt.iter().any(|t| t != "code")
    {
        return Err(invalid("response_types: only code is supported"));
    }
    let grants = m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if grants
        .iter()
        .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return Err(invalid(
            "grant_types: a registered client may use authorization_code and refresh_token",
        ));
    }
    let scope: Option<Vec<String>> = m
        .scope
        .as_ref()
        .map(|s| s.split_whitespace().map(str::to_owned).collect());
    // The admin scope, or any API scope, is an admin's grant to make, never a registration's.
    if let Some(s) = scope
        .iter()
        .flatten()
        .find(|s| !SUPPORTED_SCOPES.contains(&s.as_str()))
    {
        return Err(invalid(format!(
            "scope: {s} is not an OpenID scope this server offers"
        )));
    }
    let alg = m
        .id_token_signed_response_alg
        .as_deref()
        .map(|a| {
            Alg::parse(a).ok_or_else(|| {
                invalid(format!(
                    "id_token_signed_response_alg: {a} is not supported"
                ))
            })
        })
        .transpose()?;
    Ok(ClientChanges {
        name: m.client_name.clone(),
        redirect_uris: Some(m.redirect_uris.clone().unwrap_or_default()),
        grant_types: Some(grants),
        allowed_scopes: Some(scope),
        post_logout_redirect_uris: Some(m.post_logout_redirect_uris.clone().unwrap_or_default()),
        id_token_signed_response_alg: alg,
        require_par: Some(m.require_pushed_authorization_requests.unwrap_or(false)),
        dpop_bound: Some(m.dpop_bound_access_tokens.unwrap_or(false)),
        jwks: Some(m.jwks.as_ref().map(|j| j.to_string())),
        jwks_uri: Some(m.jwks_uri.clone()),
        backchannel_logout_uri: Some(m.backchannel_logout_uri.clone()),
        backchannel_logout_session_required: Some(
            m.backchannel_logout_session_required.unwrap_or(false),
        ),
        ..ClientChanges::default()
    })
}

/// How a registered client authenticates, which decides whether it gets a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    Secret,
    None,
    Keys,
}

impl Auth {
    fn of_client(c: &Client) -> Self {
        if c.has_keys() {
            Self::Keys
        } else if c.is_public() {
            Self::None
        } else {
            Self::Secret
        }
    }
}

fn auth_of(m: &Metadata) -> Result<Auth, RegistrationError> {
    let keyed = m.jwks.is_some() || m.jwks_uri.is_some();
    let auth = match m.token_endpoint_auth_method.as_deref() {
        // RFC 7591 §2: the default is client_secret_basic.
        None | Some("client_secret_basic") | Some("client_secret_post") => Auth::Secret,
        Some("none") => Auth::None,
        Some("private_key_jwt") => Auth::Keys,
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method: {other} is not supported"
            )));
        }
    };
    if keyed != (auth == Auth::Keys) {
        return Err(invalid(
            "jwks or jwks_uri go with token_endpoint_auth_method private_key_jwt, and it with them",
        ));
    }
    Ok(auth)
}

/// A name for a client that sent none: its first redirect URI's host.
fn default_name(m: &Metadata) -> String {
    m.redirect_uris
        .iter()
        .flatten()
        .find_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Registered app".into())
}

/// RFC 7591 §3: registers a client with an initial access token. The token is checked first
/// (a caller without one learns nothing about its metadata), used only once the metadata is
/// accepted, and used and stored in one transaction.
pub async fn register(
    store: &Store,
    algs: &[Alg],
    now: i64,
    initial_token: &str,
    mut metadata: Metadata,
    address: &str,
) -> Result<Registered, RegistrationError> {
    let token_hash = hash_secret(initial_token);
    if !store.registration_token_usable(&token_hash, now).await? {
        return Err(RegistrationError::InvalidToken);
    }
    if metadata
        .client_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        metadata.client_name = Some(default_name(&metadata));
    }
    let secret = (auth_of(&metadata)? == Auth::Secret).then(random_token);
    let access = random_token();
    let mut client = Client {
        id: random_id(),
        secret_hash: secret.as_deref().map(hash_secret),
        secret_set_at: secret.as_ref().map(|_| now),
        grant_types: vec![GrantType::AuthorizationCode],
        created_at: now,
        managed_by: Some(MANAGED_BY_REGISTRATION.into()),
        registration_token_hash: Some(hash_secret(&access)),
        ..Client::default()
    };
    changes_of(&metadata)?.apply(&mut client, algs)?;
    if !store.register_client(&token_hash, &client, now).await? {
        return Err(RegistrationError::InvalidToken);
    }
    store.journal().emit(
        Event::ClientCreated,
        MANAGED_BY_REGISTRATION,
        &audit::client(&client.id),
        Some(address),
    );
    Ok(Registered {
        client,
        client_secret: secret,
        registration_access_token: Some(access),
    })
}

/// RFC 7592 §2: the registered client named by `client_id`, if `token` is its registration
/// access token. Anything else is `InvalidToken`, so nobody learns which clients exist.
pub async fn authorize(
    store: &Store,
    client_id: &str,
    token: &str,
) -> Result<Client, RegistrationError> {
    let client = store
        .find_client_fresh(client_id)
        .await?
        .ok_or(RegistrationError::InvalidToken)?;
    let presented = hash_secret(token);
    match &client.registration_token_hash {
        Some(h) if constant_time_eq(h.as_bytes(), presented.as_bytes()) => Ok(client),
        _ => Err(RegistrationError::InvalidToken),
    }
}

/// RFC 7592 §2.2: replaces the registration with `metadata` (which must name the client, and
/// may repeat but not change its secret). The registration access token stays the same.
pub async fn replace(
    store: &Store,
    algs: &[Alg],
    mut client: Client,
    mut metadata: Metadata,
    address: &str,
) -> Result<Client, RegistrationError> {
    if metadata.client_id.as_deref() != Some(client.id.as_str()) {
        return Err(invalid("client_id: must be this client's id"));
    }
    if let Some(s) = &metadata.client_secret
        && client.secret_hash.as_deref() != Some(hash_secret(s).as_str())
    {
        return Err(invalid(
            "client_secret: a replacement cannot choose a new secret",
        ));
    }
    if auth_of(&metadata)? != Auth::of_client(&client) {
        return Err(invalid(
            "token_endpoint_auth_method: register a new client to change it",
        ));
    }
    if metadata
        .client_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        metadata.client_name = Some(default_name(&metadata));
    }
    changes_of(&metadata)?.apply(&mut client, algs)?;
    store
        .update_client(&mut client)
        .await
        .map_err(AdminError::from)?;
    store.journal().emit(
        Event::ClientChanged,
        MANAGED_BY_REGISTRATION,
        &audit::client(&client.id),
        Some(address),
    );
    Ok(client)
}

/// RFC 7592 §3: every answer carries a registration access token; only its hash is kept, so
/// each answer issues a new one and the previous one stops working (§2.1, §2.2).
pub async fn new_access_token(store: &Store, client: &Client) -> Result<String, RegistrationError> {
    let token = random_token();
    store
        .set_registration_token(&client.id, &hash_secret(&token))
        .await?;
    Ok(token)
}

/// RFC 7592 §2.3: the client deregisters itself.
pub async fn deregister(
    store: &Store,
    client: &Client,
    address: &str,
) -> Result<(), RegistrationError> {
    store.delete_client(&client.id).await?;
    store.journal().emit(
        Event::ClientDeleted,
        MANAGED_BY_REGISTRATION,
        &audit::client(&client.id),
        Some(address),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(grants: &[&str], scope: Option<&str>) -> Metadata {
        Metadata {
            redirect_uris: Some(vec!["https://app.example.com/cb".into()]),
            grant_types: Some(grants.iter().map(|g| g.to_string()).collect()),
            scope: scope.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn registered_clients_get_only_the_code_flow_and_oidc_scopes() {
        assert!(
            changes_of(&meta(
                &["authorization_code", "refresh_token"],
                Some("openid email")
            ))
            .is_ok()
        );
        for (grants, scope, needle) in [
            (&["client_credentials"][..], None, "grant_types"),
            (
                &["authorization_code"][..],
                Some("openid gatehouse:admin"),
                "gatehouse:admin",
            ),
            (
                &["authorization_code"][..],
                Some("openid orders:write"),
                "orders:write",
            ),
        ] {
            let err = changes_of(&meta(grants, scope)).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
            assert!(matches!(err, RegistrationError::InvalidClientMetadata(_)));
        }
        let mut m = meta(&["authorization_code"], None);
        m.response_types = Some(vec!["token".into()]);
        assert!(changes_of(&m).is_err());
    }

    #[test]
    fn a_nameless_client_is_named_by_its_redirect_host() {
        assert_eq!(default_name(&meta(&[], None)), "app.example.com");
        assert_eq!(default_name(&Metadata::default()), "Registered app");
    }
}
