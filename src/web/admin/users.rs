//! `/users`, their sessions, consents and grants, and `/grants`.
use super::{Admin, ApiQuery, Page, Problem, json_body, page_size};
use crate::accounts::ProfileChanges;
use crate::admin::users::{self as ops, NewAccount};
use crate::domain::User;
use crate::domain::profile::Field;
use crate::web::error::ApiError;
use crate::web::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(set_password))
        .routes(routes!(unlock))
        .routes(routes!(reset_mfa))
        .routes(routes!(sessions, end_sessions))
        .routes(routes!(end_session))
        .routes(routes!(grant_admin, revoke_admin))
        .routes(routes!(user_consents))
        .routes(routes!(revoke_consent))
        .routes(routes!(user_grants))
        .routes(routes!(client_grants))
        .routes(routes!(client_consents))
        .routes(routes!(revoke_grant))
        .routes(routes!(invite))
}

/// Someone to invite by mail.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    email: String,
}

/// Mails an invitation: a link (7 days, once) where the person chooses a username and
/// password; their address counts as verified. Needs mail (`GATEHOUSE_SMTP_URL`): 404 without.
#[utoipa::path(post, path = "/invitations", operation_id = "inviteUser", tag = "users", request_body = Invitation,
    responses((status = 202), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn invite(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: Invitation = json_body(&headers, &body)?;
    let Some(out) = state.outbound() else {
        return Err(crate::admin::AdminError::NotFound.into());
    };
    ops::invite(
        &state.store,
        out,
        state.now(),
        admin.as_actor(),
        &input.email,
    )
    .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Which second factors a user has set up.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Factors {
    totp: bool,
    passkeys: i64,
    /// Unused recovery codes.
    recovery_codes: i64,
}

/// A user as the API shows it: never a password hash or a factor's secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The stable `sub` of their tokens.
    id: String,
    username: String,
    email: Option<String>,
    /// OIDC Core §5.1: the person followed our link to this address, or an admin vouched.
    email_verified: bool,
    name: Option<String>,
    disabled: bool,
    admin: bool,
    created_at: i64,
    updated_at: i64,
    #[serde(skip)]
    revision: i64,
    /// The other standard claims (OIDC Core §5.1).
    #[schema(value_type = Object)]
    profile: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    factors: Option<Factors>,
}

fn user_view(u: &User, admin: bool, factors: Option<Factors>) -> UserView {
    UserView {
        id: u.id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        email_verified: u.email_verified,
        name: u.name.clone(),
        disabled: u.disabled,
        admin,
        created_at: u.created_at,
        updated_at: u.updated_at,
        revision: u.revision,
        profile: serde_json::to_value(&u.profile).unwrap_or_default(),
        factors,
    }
}

/// A user's ETag: creation time and revision, like a client's; any stored change (from here,
/// the account page or the command line) makes an old tag stale.
fn etag(view: &UserView) -> HeaderValue {
    super::etag(view.created_at, view.revision)
}

async fn load(state: &AppState, id: &str) -> Result<UserView, ApiError> {
    let user = state
        .store
        .find_user(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let admin = state.store.user_is_admin(id).await?;
    let f = state.store.factor_summary(id).await?;
    Ok(user_view(
        &user,
        admin,
        Some(Factors {
            totp: f.totp,
            passkeys: f.passkeys,
            recovery_codes: f.recovery_codes,
        }),
    ))
}

fn respond(view: UserView) -> Response {
    let tag = etag(&view);
    let mut resp = Json(view).into_response();
    resp.headers_mut().insert(header::ETAG, tag);
    resp
}

/// The revision `If-Match` names for this user (`None` for `*`); 428 without one.
async fn if_match(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<Option<i64>, ApiError> {
    let current = load(state, id).await?;
    super::if_match(headers, current.created_at)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Matches the username, name or email, ignoring case.
    q: Option<String>,
    /// 1 to 200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Lists users by username, searched on the server.
#[utoipa::path(get, path = "/users", operation_id = "listUsers", tag = "users", params(UserQuery),
    responses((status = 200, body = Page<UserView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Response, ApiError> {
    let limit = page_size(q.limit)?;
    let found = state
        .store
        .search_users(q.q.as_deref(), q.cursor.as_deref(), limit + 1)
        .await?;
    let page = Page::of(
        found,
        limit,
        |(u, _)| u.username.clone(),
        |(u, admin)| user_view(&u, admin, None),
    );
    Ok(Json(page).into_response())
}

/// A new user. The password is never returned, stored or logged; only its argon2id hash is kept.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    username: String,
    password: String,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    admin: bool,
    /// The admin vouches that the address is the person's; otherwise, with mail on, it is
    /// sent a verification link.
    #[serde(default)]
    email_verified: bool,
}

/// Creates a user.
#[utoipa::path(post, path = "/users", operation_id = "createUser", tag = "users", request_body = NewUserInput,
    responses((status = 201, body = UserView), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn create(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: NewUserInput = json_body(&headers, &body)?;
    let user = ops::create(
        &state.store,
        &state.hasher,
        state.outbound(),
        state.now(),
        admin.as_actor(),
        NewAccount {
            username: &input.username,
            email: input.email.as_deref(),
            name: input.name.as_deref(),
            password: &input.password,
            admin: input.admin,
            email_verified: input.email_verified,
        },
    )
    .await?;
    let mut resp = respond(load(&state, &user.id).await?);
    *resp.status_mut() = StatusCode::CREATED;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/users/{}",
        crate::oauth::endpoints::ADMIN_API,
        user.id
    )) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Reads one user, with their second factors; the ETag is what a change must send.
#[utoipa::path(get, path = "/users/{user_id}", operation_id = "readUser", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = UserView, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn read(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(respond(load(&state, &user_id).await?))
}

/// Profile changes: `name`, `email`, and `profile` keyed by claim name (`given_name`,
/// `phone_number`, `address.locality`, …). An empty string clears a value.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    profile: std::collections::BTreeMap<String, String>,
    phone_number_verified: Option<bool>,
    /// Mark the address verified (an admin vouches for it) or not.
    email_verified: Option<bool>,
}

/// Changes a user's profile. Needs If-Match.
#[utoipa::path(patch, path = "/users/{user_id}", operation_id = "updateUser", tag = "users", request_body = UserPatch,
    params(("user_id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 428, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: UserPatch = json_body(&headers, &body)?;
    let mut fields = Vec::new();
    for (claim, value) in input.profile {
        match Field::parse(&claim).filter(|f| *f != Field::Name) {
            Some(f) => fields.push((f, value)),
            None => {
                return Err(ApiError::invalid_field(
                    "profile",
                    format!("{claim} is not a profile claim"),
                ));
            }
        }
    }
    let revision = if_match(&state, &headers, &user_id).await?;
    ops::update_profile(
        &state.store,
        state.outbound(),
        state.now(),
        admin.as_actor(),
        &user_id,
        revision,
        ProfileChanges {
            name: input.name,
            email: input.email,
            fields,
            phone_number_verified: input.phone_number_verified,
            email_verified: input.email_verified,
        },
    )
    .await?;
    Ok(respond(load(&state, &user_id).await?))
}

/// Deletes a user and everything of theirs. Needs If-Match; the last administrator stays.
#[utoipa::path(delete, path = "/users/{user_id}", operation_id = "deleteUser", tag = "users",
    params(("user_id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 428, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let revision = if_match(&state, &headers, &user_id).await?;
    ops::delete(
        &state.store,
        state.now(),
        admin.as_actor(),
        &user_id,
        revision,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Disables a user: they cannot sign in, their sessions end and their tokens stop working.
#[utoipa::path(post, path = "/users/{user_id}/disable", operation_id = "disableUser", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn disable(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    ops::set_disabled(&state.store, state.now(), admin.as_actor(), &user_id, true).await?;
    Ok(respond(load(&state, &user_id).await?))
}

#[utoipa::path(post, path = "/users/{user_id}/enable", operation_id = "enableUser", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn enable(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    ops::set_disabled(&state.store, state.now(), admin.as_actor(), &user_id, false).await?;
    Ok(respond(load(&state, &user_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    password: String,
}

/// How many sessions a change ended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ended {
    sessions_ended: u64,
}

/// Sets a user's password; their sessions end and their refresh tokens are revoked.
#[utoipa::path(post, path = "/users/{user_id}/password", operation_id = "setUserPassword", tag = "users",
    params(("user_id" = String, Path)), request_body = PasswordInput,
    responses((status = 200, body = Ended), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn set_password(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: PasswordInput = json_body(&headers, &body)?;
    let ended = ops::set_password(
        &state.store,
        &state.hasher,
        state.now(),
        admin.as_actor(),
        &user_id,
        &input.password,
    )
    .await?;
    Ok(Json(Ended {
        sessions_ended: ended,
    })
    .into_response())
}

/// Clears the user's sign-in back-off, from every browser and device.
#[utoipa::path(post, path = "/users/{user_id}/unlock", operation_id = "unlockUser", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn unlock(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    ops::unlock(&state.store, admin.as_actor(), &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes every second factor of a user who lost theirs; their sessions end.
#[utoipa::path(post, path = "/users/{user_id}/mfa/reset", operation_id = "resetUserMfa", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Ended), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn reset_mfa(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let ended = ops::reset_mfa(&state.store, state.now(), admin.as_actor(), &user_id).await?;
    Ok(Json(Ended {
        sessions_ended: ended,
    })
    .into_response())
}

/// A signed-in browser session.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// An opaque id (a digest of the cookie, which it cannot be turned back into).
    id: String,
    signed_in_at: Option<i64>,
    expires_at: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    items: Vec<SessionView>,
}

#[utoipa::path(get, path = "/users/{user_id}/sessions", operation_id = "listUserSessions", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = SessionList), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn sessions(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    load(&state, &user_id).await?;
    let items = state
        .store
        .list_user_sessions(&user_id, state.now())
        .await?
        .into_iter()
        .map(|(id, signed_in_at, expires_at)| SessionView {
            id,
            signed_in_at,
            expires_at,
        })
        .collect();
    Ok(Json(SessionList { items }).into_response())
}

/// Ends every session of the user (signing them out everywhere).
#[utoipa::path(delete, path = "/users/{user_id}/sessions", operation_id = "endUserSessions", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Ended), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn end_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let ended =
        ops::end_sessions(&state.store, state.now(), admin.as_actor(), &user_id, None).await?;
    Ok(Json(Ended {
        sessions_ended: ended,
    })
    .into_response())
}

#[utoipa::path(delete, path = "/users/{user_id}/sessions/{session_id}", operation_id = "endUserSession", tag = "users",
    params(("user_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn end_session(
    State(state): State<AppState>,
    admin: Admin,
    Path((user_id, session_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    ops::end_sessions(
        &state.store,
        state.now(),
        admin.as_actor(),
        &user_id,
        Some(&session_id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Gives the user the `admin` role.
#[utoipa::path(put, path = "/users/{user_id}/admin", operation_id = "grantAdmin", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn grant_admin(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    ops::set_admin(&state.store, admin.as_actor(), &user_id, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Takes the `admin` role away; the last administrator keeps it (409).
#[utoipa::path(delete, path = "/users/{user_id}/admin", operation_id = "revokeAdmin", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn revoke_admin(
    State(state): State<AppState>,
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    ops::set_admin(&state.store, admin.as_actor(), &user_id, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A remembered consent: who approved which client for which scopes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    user_id: String,
    client_id: String,
    /// The client's name (consents of a user) or the username (consents of a client).
    name: String,
    scope: String,
    granted_at: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsentList {
    items: Vec<ConsentView>,
}

#[utoipa::path(get, path = "/users/{user_id}/consents", operation_id = "listUserConsents", tag = "consents",
    params(("user_id" = String, Path)),
    responses((status = 200, body = ConsentList), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn user_consents(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    load(&state, &user_id).await?;
    let items = state
        .store
        .list_consents(&user_id)
        .await?
        .into_iter()
        .map(|(client_id, name, scope, granted_at)| ConsentView {
            user_id: user_id.clone(),
            client_id,
            name,
            scope,
            granted_at,
        })
        .collect();
    Ok(Json(ConsentList { items }).into_response())
}

#[utoipa::path(get, path = "/clients/{client_id}/consents", operation_id = "listClientConsents", tag = "consents",
    params(("client_id" = String, Path)),
    responses((status = 200, body = ConsentList), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn client_consents(
    State(state): State<AppState>,
    _admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    client_exists(&state, &client_id).await?;
    let items = state
        .store
        .list_client_consents(&client_id)
        .await?
        .into_iter()
        .map(|(user_id, name, scope, granted_at)| ConsentView {
            user_id,
            client_id: client_id.clone(),
            name,
            scope,
            granted_at,
        })
        .collect();
    Ok(Json(ConsentList { items }).into_response())
}

/// Withdraws the consent and revokes the client's grants for this user.
#[utoipa::path(delete, path = "/users/{user_id}/consents/{client_id}", operation_id = "revokeConsent", tag = "consents",
    params(("user_id" = String, Path), ("client_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn revoke_consent(
    State(state): State<AppState>,
    admin: Admin,
    Path((user_id, client_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    ops::revoke_consent(
        &state.store,
        state.now(),
        admin.as_actor(),
        &user_id,
        &client_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A live grant: what a sign-in or refresh-token family allows a client for a user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantView {
    id: String,
    user_id: String,
    client_id: String,
    scope: String,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantList {
    items: Vec<GrantView>,
}

async fn grants(
    state: &AppState,
    user_id: Option<&str>,
    client_id: Option<&str>,
) -> Result<Response, ApiError> {
    let items = state
        .store
        .list_grants(user_id, client_id, state.now())
        .await?
        .into_iter()
        .map(|g| GrantView {
            id: g.id,
            user_id: g.user_id,
            client_id: g.client_id,
            scope: g.scope,
            auth_time: g.auth_time,
            created_at: g.created_at,
            expires_at: g.expires_at,
        })
        .collect();
    Ok(Json(GrantList { items }).into_response())
}

async fn client_exists(state: &AppState, client_id: &str) -> Result<(), ApiError> {
    state
        .store
        .find_client_fresh(client_id)
        .await?
        .map(|_| ())
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/users/{user_id}/grants", operation_id = "listUserGrants", tag = "grants",
    params(("user_id" = String, Path)),
    responses((status = 200, body = GrantList), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn user_grants(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    load(&state, &user_id).await?;
    grants(&state, Some(&user_id), None).await
}

#[utoipa::path(get, path = "/clients/{client_id}/grants", operation_id = "listClientGrants", tag = "grants",
    params(("client_id" = String, Path)),
    responses((status = 200, body = GrantList), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn client_grants(
    State(state): State<AppState>,
    _admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    client_exists(&state, &client_id).await?;
    grants(&state, None, Some(&client_id)).await
}

/// Revokes a grant: its refresh tokens and the access tokens issued under it stop working.
#[utoipa::path(delete, path = "/grants/{grant_id}", operation_id = "revokeGrant", tag = "grants",
    params(("grant_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn revoke_grant(
    State(state): State<AppState>,
    admin: Admin,
    Path(grant_id): Path<String>,
) -> Result<Response, ApiError> {
    ops::revoke_grant(&state.store, state.now(), admin.as_actor(), &grant_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
