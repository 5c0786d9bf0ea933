//! `/apis`, `/roles`, `/groups` and a user's roles and groups: who may be granted which API
//! scopes. Changes apply to the next token; tokens already issued keep their scopes.
use super::{Admin, Problem, json_body};
use crate::admin::access::{self, ApiChanges, ListChanges, NewApi};
use crate::domain::{Access, Api, ApiScope, Group, Role};
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
        .routes(routes!(list_apis, create_api))
        .routes(routes!(read_api, update_api, delete_api))
        .routes(routes!(list_roles, create_role))
        .routes(routes!(read_role, update_role, delete_role))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(read_group, update_group, delete_group))
        .routes(routes!(list_members))
        .routes(routes!(add_member, remove_member))
        .routes(routes!(user_access))
        .routes(routes!(add_user_role, remove_user_role))
}

fn created(body: impl Serialize, path: String) -> Response {
    let mut resp = Json(body).into_response();
    *resp.status_mut() = StatusCode::CREATED;
    if let Ok(v) = HeaderValue::from_str(&format!("{}{path}", crate::oauth::endpoints::ADMIN_API)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A scope an API defines and the words the consent page shows for it.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScopeView {
    name: String,
    description: String,
}

/// An API (resource server): its identifier is the `aud` of the tokens minted for it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiView {
    id: String,
    identifier: String,
    name: String,
    scopes: Vec<ScopeView>,
    created_at: i64,
    updated_at: i64,
}

impl From<Api> for ApiView {
    fn from(a: Api) -> Self {
        Self {
            id: a.id,
            identifier: a.identifier,
            name: a.name,
            scopes: a
                .scopes
                .into_iter()
                .map(|s| ScopeView {
                    name: s.name,
                    description: s.description,
                })
                .collect(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

fn api_scopes(v: Vec<ScopeView>) -> Vec<ApiScope> {
    v.into_iter()
        .map(|s| ApiScope {
            name: s.name,
            description: s.description,
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiList {
    items: Vec<ApiView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiBody {
    /// An absolute URI without a fragment (RFC 8707); it never changes.
    identifier: String,
    name: String,
    #[serde(default)]
    scopes: Vec<ScopeView>,
}

/// Members left out stay as they are; `scopes` replaces the whole list (roles lose scopes
/// that are removed).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiPatch {
    name: Option<String>,
    scopes: Option<Vec<ScopeView>>,
}

/// Lists the APIs.
#[utoipa::path(get, path = "/apis", operation_id = "listApis", tag = "access",
    responses((status = 200, body = ApiList), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_apis(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let items = state
        .store
        .list_apis()
        .await?
        .into_iter()
        .map(ApiView::from)
        .collect();
    Ok(Json(ApiList { items }).into_response())
}

/// Registers an API and its scopes.
#[utoipa::path(post, path = "/apis", operation_id = "createApi", tag = "access", request_body = NewApiBody,
    responses((status = 201, body = ApiView), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 415, body = Problem)))]
async fn create_api(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: NewApiBody = json_body(&headers, &body)?;
    let api = access::create_api(
        &state.store,
        state.now(),
        admin.as_actor(),
        NewApi {
            identifier: &input.identifier,
            name: &input.name,
            scopes: api_scopes(input.scopes),
        },
    )
    .await?;
    let path = format!("/apis/{}", api.id);
    Ok(created(ApiView::from(api), path))
}

/// Reads an API.
#[utoipa::path(get, path = "/apis/{api_id}", operation_id = "getApi", tag = "access", params(("api_id" = String, Path)),
    responses((status = 200, body = ApiView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn read_api(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let api = access::find_api(&state.store, &id).await?;
    Ok(Json(ApiView::from(api)).into_response())
}

/// Renames an API or replaces its scopes.
#[utoipa::path(patch, path = "/apis/{api_id}", operation_id = "updateApi", tag = "access", params(("api_id" = String, Path)),
    request_body = ApiPatch,
    responses((status = 200, body = ApiView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn update_api(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: ApiPatch = json_body(&headers, &body)?;
    let changes = ApiChanges {
        name: input.name,
        scopes: input.scopes.map(api_scopes),
        ..Default::default()
    };
    let api = access::update_api(&state.store, state.now(), admin.as_actor(), &id, changes).await?;
    Ok(Json(ApiView::from(api)).into_response())
}

/// Deletes an API and its scopes.
#[utoipa::path(delete, path = "/apis/{api_id}", operation_id = "deleteApi", tag = "access", params(("api_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn delete_api(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::delete_api(&state.store, admin.as_actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A role: a named set of API scopes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleView {
    id: String,
    name: String,
    description: String,
    scopes: Vec<String>,
    created_at: i64,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            scopes: r.scopes,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleList {
    items: Vec<RoleView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoleBody {
    name: String,
    #[serde(default)]
    description: String,
    /// Scopes APIs define.
    #[serde(default)]
    scopes: Vec<String>,
}

/// Members left out stay as they are; a list replaces the whole list.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    description: Option<String>,
    scopes: Option<Vec<String>>,
}

/// Lists the roles.
#[utoipa::path(get, path = "/roles", operation_id = "listRoles", tag = "access",
    responses((status = 200, body = RoleList), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_roles(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let items = state
        .store
        .list_roles()
        .await?
        .into_iter()
        .map(RoleView::from)
        .collect();
    Ok(Json(RoleList { items }).into_response())
}

/// Creates a role.
#[utoipa::path(post, path = "/roles", operation_id = "createRole", tag = "access", request_body = NewRoleBody,
    responses((status = 201, body = RoleView), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 415, body = Problem)))]
async fn create_role(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: NewRoleBody = json_body(&headers, &body)?;
    let role = access::create_role(
        &state.store,
        state.now(),
        admin.as_actor(),
        &input.name,
        &input.description,
        &input.scopes,
    )
    .await?;
    let path = format!("/roles/{}", role.id);
    Ok(created(RoleView::from(role), path))
}

/// Reads a role (by id or name).
#[utoipa::path(get, path = "/roles/{role_id}", operation_id = "getRole", tag = "access", params(("role_id" = String, Path)),
    responses((status = 200, body = RoleView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn read_role(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(RoleView::from(access::find_role(&state.store, &id).await?)).into_response())
}

/// Changes a role's description or scopes.
#[utoipa::path(patch, path = "/roles/{role_id}", operation_id = "updateRole", tag = "access", params(("role_id" = String, Path)),
    request_body = RolePatch,
    responses((status = 200, body = RoleView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn update_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: RolePatch = json_body(&headers, &body)?;
    let changes = ListChanges {
        description: input.description,
        set: input.scopes,
        ..Default::default()
    };
    let role = access::update_role(&state.store, admin.as_actor(), &id, changes).await?;
    Ok(Json(RoleView::from(role)).into_response())
}

/// Deletes a role; users and groups lose it.
#[utoipa::path(delete, path = "/roles/{role_id}", operation_id = "deleteRole", tag = "access", params(("role_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn delete_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::delete_role(&state.store, admin.as_actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A group: a named set of users that holds roles.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupView {
    id: String,
    name: String,
    description: String,
    /// Role names.
    roles: Vec<String>,
    created_at: i64,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self {
            id: g.id,
            name: g.name,
            description: g.description,
            roles: g.roles,
            created_at: g.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupList {
    items: Vec<GroupView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBody {
    name: String,
    #[serde(default)]
    description: String,
    /// Role names or ids.
    #[serde(default)]
    roles: Vec<String>,
}

/// Members left out stay as they are; `roles` replaces the whole list.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    description: Option<String>,
    roles: Option<Vec<String>>,
}

/// Lists the groups.
#[utoipa::path(get, path = "/groups", operation_id = "listGroups", tag = "access",
    responses((status = 200, body = GroupList), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_groups(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let items = state
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(GroupView::from)
        .collect();
    Ok(Json(GroupList { items }).into_response())
}

/// Creates a group.
#[utoipa::path(post, path = "/groups", operation_id = "createGroup", tag = "access", request_body = NewGroupBody,
    responses((status = 201, body = GroupView), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 415, body = Problem)))]
async fn create_group(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: NewGroupBody = json_body(&headers, &body)?;
    let group = access::create_group(
        &state.store,
        state.now(),
        admin.as_actor(),
        &input.name,
        &input.description,
        &input.roles,
    )
    .await?;
    let path = format!("/groups/{}", group.id);
    Ok(created(GroupView::from(group), path))
}

/// Reads a group (by id or name).
#[utoipa::path(get, path = "/groups/{group_id}", operation_id = "getGroup", tag = "access", params(("group_id" = String, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn read_group(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(GroupView::from(
        access::find_group(&state.store, &id).await?,
    ))
    .into_response())
}

/// Changes a group's description or roles.
#[utoipa::path(patch, path = "/groups/{group_id}", operation_id = "updateGroup", tag = "access", params(("group_id" = String, Path)),
    request_body = GroupPatch,
    responses((status = 200, body = GroupView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn update_group(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: GroupPatch = json_body(&headers, &body)?;
    let changes = ListChanges {
        description: input.description,
        set: input.roles,
        ..Default::default()
    };
    let group = access::update_group(&state.store, admin.as_actor(), &id, changes).await?;
    Ok(Json(GroupView::from(group)).into_response())
}

/// Deletes a group; its members lose its roles.
#[utoipa::path(delete, path = "/groups/{group_id}", operation_id = "deleteGroup", tag = "access", params(("group_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn delete_group(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::delete_group(&state.store, admin.as_actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    id: String,
    username: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberList {
    items: Vec<MemberView>,
}

/// Lists a group's members.
#[utoipa::path(get, path = "/groups/{group_id}/members", operation_id = "listGroupMembers", tag = "access",
    params(("group_id" = String, Path)),
    responses((status = 200, body = MemberList), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_members(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let group = access::find_group(&state.store, &id).await?;
    let items = state
        .store
        .group_members(&group.id)
        .await?
        .into_iter()
        .map(|(id, username)| MemberView { id, username })
        .collect();
    Ok(Json(MemberList { items }).into_response())
}

/// Adds a user to a group (idempotent).
#[utoipa::path(put, path = "/groups/{group_id}/members/{user_id}", operation_id = "addGroupMember", tag = "access",
    params(("group_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn add_member(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    access::set_group_member(&state.store, admin.as_actor(), &id, &user_id, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Takes a user out of a group (idempotent).
#[utoipa::path(delete, path = "/groups/{group_id}/members/{user_id}", operation_id = "removeGroupMember", tag = "access",
    params(("group_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn remove_member(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    access::set_group_member(&state.store, admin.as_actor(), &id, &user_id, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HeldRoleView {
    name: String,
    scopes: Vec<String>,
    /// Granted to the user directly.
    direct: bool,
    /// The user's groups that hold it.
    via: Vec<String>,
}

/// What a user holds and may be granted.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessView {
    roles: Vec<HeldRoleView>,
    groups: Vec<String>,
    /// The union of the roles' scopes.
    scopes: Vec<String>,
}

impl From<Access> for AccessView {
    fn from(a: Access) -> Self {
        let scopes = a.scopes();
        Self {
            roles: a
                .roles
                .into_iter()
                .map(|r| HeldRoleView {
                    name: r.name,
                    scopes: r.scopes,
                    direct: r.direct,
                    via: r.via,
                })
                .collect(),
            groups: a.groups,
            scopes,
        }
    }
}

/// A user's roles (direct and through groups), groups and effective scopes.
#[utoipa::path(get, path = "/users/{user_id}/access", operation_id = "getUserAccess", tag = "access",
    params(("user_id" = String, Path)),
    responses((status = 200, body = AccessView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn user_access(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .store
        .find_user(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let access = access::user_access(&state.store, &id).await?;
    Ok(Json(AccessView::from(access)).into_response())
}

/// Grants a user a role directly (idempotent).
#[utoipa::path(put, path = "/users/{user_id}/roles/{role_id}", operation_id = "addUserRole", tag = "access",
    params(("user_id" = String, Path), ("role_id" = String, Path, description = "Role id or name")),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn add_user_role(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    access::set_user_role(&state.store, admin.as_actor(), &id, &role, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Takes back a role granted directly (idempotent); roles through groups stay.
#[utoipa::path(delete, path = "/users/{user_id}/roles/{role_id}", operation_id = "removeUserRole", tag = "access",
    params(("user_id" = String, Path), ("role_id" = String, Path, description = "Role id or name")),
    responses((status = 204), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn remove_user_role(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    access::set_user_role(&state.store, admin.as_actor(), &id, &role, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
