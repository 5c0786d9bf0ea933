//! `/clients`: register, read, change, rotate and delete OAuth clients, with the RFC 7591
//! metadata names.
use super::{
    Admin, ApiQuery, Page, Problem, etag, if_match, json_body, optional_json_body, page_size,
    with_etag,
};
use crate::admin::clients::{self as ops, NewClient};
use crate::domain::{Alg, Client, ClientChanges, GrantType};
use crate::web::error::ApiError;
use crate::web::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(rotate_secret))
}

/// A registered client as the API shows it: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientView {
    client_id: String,
    client_name: String,
    /// RFC 7591 §3.2.1: when it was registered (Unix seconds).
    client_id_issued_at: i64,
    /// `none` for a public client (PKCE only), `private_key_jwt` for a client with keys
    /// (RFC 7523), else `client_secret_basic` (the secret may also be sent in the body,
    /// `client_secret_post`).
    token_endpoint_auth_method: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    /// Space-separated scopes it may be granted; absent means every supported OIDC scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// The APIs its access tokens are for (their `aud`).
    audiences: Vec<String>,
    /// The APIs this client serves: it may introspect tokens meant for them.
    resource_audiences: Vec<String>,
    /// Browser origins allowed to call the token, userinfo and revocation endpoints.
    allowed_origins: Vec<String>,
    skip_consent: bool,
    require_mfa: bool,
    /// RFC 9126 §6: authorization requests must be pushed to /par first.
    require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: every token request must carry a DPoP proof.
    dpop_bound_access_tokens: bool,
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    /// OpenID Connect Back-Channel Logout 1.0: where its back end hears of a session's end.
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    pkce_required: bool,
    refresh_token_ttl: Option<i64>,
    refresh_idle_ttl: Option<i64>,
    id_token_signed_response_alg: String,
    access_token_signed_response_alg: String,
    /// When the secret was last set (Unix seconds), for confidential clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_set_at: Option<i64>,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        let code = c.allows_grant(GrantType::AuthorizationCode);
        Self {
            client_id: c.id.clone(),
            client_name: c.name.clone(),
            client_id_issued_at: c.created_at,
            token_endpoint_auth_method: c.auth_method().into(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            response_types: if code { vec!["code".into()] } else { vec![] },
            scope: c.allowed_scopes.as_ref().map(|s| s.join(" ")),
            audiences: c.audiences.clone(),
            resource_audiences: c.resource_audiences.clone(),
            allowed_origins: c.allowed_origins.clone(),
            skip_consent: c.skip_consent,
            require_mfa: c.require_mfa,
            require_pushed_authorization_requests: c.require_par,
            dpop_bound_access_tokens: c.dpop_bound,
            jwks: c.jwks_json(),
            jwks_uri: c.jwks_uri.clone(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            pkce_required: c.requires_pkce(),
            refresh_token_ttl: c.refresh_token_ttl,
            refresh_idle_ttl: c.refresh_idle_ttl,
            id_token_signed_response_alg: c.id_token_signed_response_alg.as_str().into(),
            access_token_signed_response_alg: c.access_token_signed_response_alg.as_str().into(),
            client_secret_set_at: c.secret_set_at,
        }
    }
}

/// A client with the secret just issued: the only response that ever carries it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// RFC 7591 §3.2.1: 0, the secret does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<i64>,
}

/// `null` and absent differ: absent keeps the stored value, `null` resets it.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Client metadata to register or change. Members left out keep their value (on creation,
/// the default); lists given replace the stored ones.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// On creation only: a chosen id (letters, digits, `-_.:`); generated when absent.
    client_id: Option<String>,
    /// On creation only, for automation that provisions the app too: a chosen secret of at
    /// least 22 characters. Generated when absent.
    client_secret: Option<String>,
    client_name: Option<String>,
    /// On creation only: `client_secret_basic` (default), `client_secret_post` or `none`
    /// (a public client: single-page and native apps).
    token_endpoint_auth_method: Option<String>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    grant_types: Option<Vec<String>>,
    /// Only `code` is supported.
    response_types: Option<Vec<String>>,
    /// Space-separated scopes it may be granted; `null` allows every supported OIDC scope.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    scope: Option<Option<String>>,
    audiences: Option<Vec<String>>,
    resource_audiences: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    skip_consent: Option<bool>,
    require_mfa: Option<bool>,
    require_pushed_authorization_requests: Option<bool>,
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 7523 `private_key_jwt`: the client's public keys (a JWK Set), or where it
    /// publishes them. Either makes it a client without a secret.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    /// OpenID Connect Back-Channel Logout 1.0 §2.2; `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    backchannel_logout_uri: Option<Option<String>>,
    backchannel_logout_session_required: Option<bool>,
    /// Confidential clients only may set `false` (RFC 9700 §2.1.1).
    pkce_required: Option<bool>,
    /// Seconds; `null` for the server default.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    refresh_token_ttl: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    refresh_idle_ttl: Option<Option<i64>>,
    /// `RS256`, `ES256` or `EdDSA`, among the configured ones.
    id_token_signed_response_alg: Option<String>,
    access_token_signed_response_alg: Option<String>,
}

fn alg(field: &'static str, v: Option<String>) -> Result<Option<Alg>, ApiError> {
    v.map(|s| {
        Alg::parse(&s).ok_or_else(|| {
            ApiError::from(crate::domain::InvalidMetadata {
                field,
                message: format!("{s}: one of RS256, ES256, EdDSA"),
            })
        })
    })
    .transpose()
}

impl ClientInput {
    fn into_changes(self) -> Result<ClientChanges, ApiError> {
        if let Some(rt) = &self.response_types
            && rt.iter().any(|t| t != "code")
        {
            return Err(crate::domain::InvalidMetadata {
                field: "response_types",
                message: "only code is supported".into(),
            }
            .into());
        }
        Ok(ClientChanges {
            name: self.client_name,
            redirect_uris: self.redirect_uris,
            audiences: self.audiences,
            skip_consent: self.skip_consent,
            allowed_scopes: self.scope.map(|s| {
                s.map(|s| {
                    s.split(' ')
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
            }),
            grant_types: self.grant_types,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            allowed_origins: self.allowed_origins,
            resource_audiences: self.resource_audiences,
            refresh_token_ttl: self.refresh_token_ttl,
            refresh_idle_ttl: self.refresh_idle_ttl,
            pkce_optional: self.pkce_required.map(|r| !r),
            require_mfa: self.require_mfa,
            require_par: self.require_pushed_authorization_requests,
            dpop_bound: self.dpop_bound_access_tokens,
            jwks: self.jwks.map(|j| Some(j.to_string())),
            jwks_uri: self.jwks_uri.map(Some),
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_signed_response_alg: alg(
                "id_token_signed_response_alg",
                self.id_token_signed_response_alg,
            )?,
            access_token_signed_response_alg: alg(
                "access_token_signed_response_alg",
                self.access_token_signed_response_alg,
            )?,
        })
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Matches the client id or name, ignoring case.
    q: Option<String>,
    /// 1 to 200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Lists clients by id, searched on the server.
#[utoipa::path(get, path = "/clients", operation_id = "listClients", tag = "clients", params(ListQuery),
    responses((status = 200, body = Page<ClientView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = page_size(q.limit)?;
    let found = state
        .store
        .search_clients(q.q.as_deref(), q.cursor.as_deref(), limit + 1)
        .await?;
    let page = Page::of(found, limit, |c| c.id.clone(), |c| ClientView::from(&c));
    Ok(Json(page).into_response())
}

/// Registers a client. The response carries its secret, once.
#[utoipa::path(post, path = "/clients", operation_id = "createClient", tag = "clients", request_body = ClientInput,
    responses((status = 201, body = ClientWithSecret), (status = 400, body = Problem),
        (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn create(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut input: ClientInput = json_body(&headers, &body)?;
    let public = match input.token_endpoint_auth_method.take().as_deref() {
        None | Some("client_secret_basic") | Some("client_secret_post") => {
            if input.jwks.is_some() || input.jwks_uri.is_some() {
                return Err(crate::domain::InvalidMetadata {
                    field: "token_endpoint_auth_method",
                    message: "a client with jwks or jwks_uri uses private_key_jwt".into(),
                }
                .into());
            }
            false
        }
        Some("none") => true,
        Some("private_key_jwt") => {
            if input.jwks.is_none() && input.jwks_uri.is_none() {
                return Err(crate::domain::InvalidMetadata {
                    field: "jwks",
                    message: "private_key_jwt needs jwks or jwks_uri".into(),
                }
                .into());
            }
            false
        }
        Some(other) => {
            return Err(crate::domain::InvalidMetadata {
                field: "token_endpoint_auth_method",
                message: format!(
                    "{other}: one of client_secret_basic, client_secret_post, none, private_key_jwt"
                ),
            }
            .into());
        }
    };
    if input.client_name.is_none() {
        return Err(crate::domain::InvalidMetadata {
            field: "client_name",
            message: "is required".into(),
        }
        .into());
    }
    let client_id = input.client_id.take();
    let client_secret = input.client_secret.take();
    let (client, secret) = ops::create(
        &state.store,
        &state.config.signing_algs,
        state.now(),
        admin.as_actor(),
        NewClient {
            client_id,
            client_secret,
            public,
            changes: input.into_changes()?,
        },
    )
    .await?;
    let location = format!(
        "{}/clients/{}",
        crate::oauth::endpoints::ADMIN_API,
        client.id
    );
    let tag = etag(client.created_at, client.revision);
    let resp = (
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        Json(ClientWithSecret {
            client: ClientView::from(&client),
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            client_secret: secret.map(|s| s.0),
        }),
    )
        .into_response();
    Ok(with_etag(resp, tag))
}

/// A client and its ETag.
fn view(c: &Client) -> Response {
    with_etag(
        Json(ClientView::from(c)).into_response(),
        etag(c.created_at, c.revision),
    )
}

async fn fresh(state: &AppState, id: &str) -> Result<Client, ApiError> {
    state
        .store
        .find_client_fresh(id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Reads one client; its ETag is what a change must send in If-Match.
#[utoipa::path(get, path = "/clients/{client_id}", operation_id = "readClient", tag = "clients",
    params(("client_id" = String, Path)),
    responses((status = 200, body = ClientView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn read(
    State(state): State<AppState>,
    _admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let c = fresh(&state, &client_id).await?;
    Ok(view(&c))
}

/// Changes the members given. Needs If-Match: a change made from an older read gets 412.
#[utoipa::path(patch, path = "/clients/{client_id}", operation_id = "updateClient", tag = "clients", request_body = ClientInput,
    params(("client_id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = ClientView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: ClientInput = json_body(&headers, &body)?;
    for (field, given) in [
        ("client_id", input.client_id.is_some()),
        ("client_secret", input.client_secret.is_some()),
        (
            "token_endpoint_auth_method",
            input.token_endpoint_auth_method.is_some(),
        ),
    ] {
        if given {
            return Err(ApiError::invalid_field(
                field,
                format!("{field} cannot be changed: rotate the secret or register a new client"),
            ));
        }
    }
    let current = fresh(&state, &client_id).await?;
    let revision = if_match(&headers, current.created_at)?;
    let c = ops::update(
        &state.store,
        &state.config.signing_algs,
        admin.as_actor(),
        &client_id,
        Some(revision.unwrap_or(current.revision)),
        input.into_changes()?,
    )
    .await?;
    Ok(view(&c))
}

/// Deletes a client; its tokens stop working. Needs If-Match.
#[utoipa::path(delete, path = "/clients/{client_id}", operation_id = "deleteClient", tag = "clients",
    params(("client_id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 428, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = fresh(&state, &client_id).await?;
    let revision = if_match(&headers, current.created_at)?;
    ops::delete(
        &state.store,
        admin.as_actor(),
        &client_id,
        Some(revision.unwrap_or(current.revision)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A chosen secret for `rotate-secret`; absent (or an empty body) generates one.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    client_secret: Option<String>,
}

/// Issues a new secret, shown once in the response; the old one stops working at once.
#[utoipa::path(post, path = "/clients/{client_id}/rotate-secret", operation_id = "rotateClientSecret", tag = "clients",
    params(("client_id" = String, Path)), request_body(content = Option<RotateInput>),
    responses((status = 200, body = ClientWithSecret), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn rotate_secret(
    State(state): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: RotateInput = optional_json_body(&headers, &body)?;
    let revision = match headers.get(axum::http::header::IF_MATCH) {
        None => None,
        Some(_) => {
            let current = fresh(&state, &client_id).await?;
            if_match(&headers, current.created_at)?
        }
    };
    let (c, secret) = ops::rotate_secret(
        &state.store,
        state.now(),
        admin.as_actor(),
        &client_id,
        revision,
        input.client_secret,
    )
    .await?;
    Ok(with_etag(
        Json(ClientWithSecret {
            client: ClientView::from(&c),
            client_secret: Some(secret.0),
            client_secret_expires_at: Some(0),
        })
        .into_response(),
        etag(c.created_at, c.revision),
    ))
}
