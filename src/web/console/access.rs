//! `/admin/access`: APIs and their scopes, roles and groups, over the same admin operations as
//! the CLI and the API.
use super::{gate, page, see_other};
use crate::admin::AdminError;
use crate::admin::access::{self, ApiChanges, ListChanges, NewApi};
use crate::domain::{Api, ApiScope, Group, Role};
use crate::web::error::PageError;
use crate::web::extract::{ClientAddress, PageForm, PageQuery};
use crate::web::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

const PATH: &str = "/admin/access";

struct GroupLine {
    group: Group,
    members: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/access.html")]
struct AccessPage<'a> {
    me: &'a str,
    csrf: &'a str,
    apis: Vec<Api>,
    roles: Vec<Role>,
    groups: Vec<GroupLine>,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn access_page(
    state: &AppState,
    c: &super::Console,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let mut groups = Vec::new();
    for group in state.store.list_groups().await? {
        let members = state.store.group_members(&group.id).await?;
        groups.push(GroupLine { group, members });
    }
    let bad = error.is_some();
    let mut resp = page(&AccessPage {
        me: &c.user.username,
        csrf: &c.csrf,
        apis: state.store.list_apis().await?,
        roles: state.store.list_roles().await?,
        groups,
        notice,
        error,
    });
    if bad {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "api" => "The API is saved. Tokens for it carry the scopes users' roles grant.",
        "role" => "The role is saved. It applies from each user's next token.",
        "group" => "The group is saved. It applies from each member's next token.",
        "deleted" => "Deleted. Tokens already issued keep their scopes until they expire.",
        "member" => "The membership is changed. It applies from the user's next token.",
        _ => return None,
    })
}

pub async fn overview(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    PageQuery(q): PageQuery<DoneQuery>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, PATH, None));
    let notice = q.done.as_deref().and_then(done_message);
    access_page(&state, &c, notice, None).await
}

/// One form for every change on the page; `action` says which.
#[derive(Deserialize)]
pub struct AccessForm {
    csrf: String,
    action: String,
    identifier: Option<String>,
    name: Option<String>,
    description: Option<String>,
    /// An API's new scope, with `words`.
    scope: Option<String>,
    words: Option<String>,
    /// Space-separated lists: a role's scopes, a group's roles.
    list: Option<String>,
    username: Option<String>,
    confirm: Option<String>,
}

fn words(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn confirmed(form: &AccessForm) -> Result<(), AdminError> {
    match form.confirm {
        Some(_) => Ok(()),
        None => Err(AdminError::InvalidField {
            field: "confirm",
            message: "Tick the box to confirm the deletion.".into(),
        }),
    }
}

pub async fn change(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
    PageForm(form): PageForm<AccessForm>,
) -> Result<Response, PageError> {
    let c = admin_or_leave!(gate(&state, &session, address, PATH, Some(&form.csrf)));
    let (store, now, actor) = (&state.store, state.now(), c.actor());
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let done: Result<&str, AdminError> = match form.action.as_str() {
        "create-api" => access::create_api(
            store,
            now,
            actor,
            NewApi {
                identifier: form.identifier.as_deref().unwrap_or_default(),
                name: form.name.as_deref().unwrap_or_default(),
                scopes: Vec::new(),
            },
        )
        .await
        .map(|_| "api"),
        "add-scope" => access::update_api(
            store,
            now,
            actor,
            &id,
            ApiChanges {
                add_scopes: vec![ApiScope {
                    name: text(&form.scope).trim().to_owned(),
                    description: text(&form.words),
                }],
                ..Default::default()
            },
        )
        .await
        .map(|_| "api"),
        "remove-scope" => access::update_api(
            store,
            now,
            actor,
            &id,
            ApiChanges {
                remove_scopes: vec![text(&form.scope)],
                ..Default::default()
            },
        )
        .await
        .map(|_| "api"),
        "delete-api" => match confirmed(&form) {
            Ok(()) => access::delete_api(store, actor, &id)
                .await
                .map(|_| "deleted"),
            Err(e) => Err(e),
        },
        "create-role" | "create-group" => {
            let name = form.name.as_deref().unwrap_or_default().trim();
            let (description, list) = (text(&form.description), words(form.list.as_deref()));
            if form.action == "create-role" {
                access::create_role(store, now, actor, name, &description, &list)
                    .await
                    .map(|_| "role")
            } else {
                access::create_group(store, now, actor, name, &description, &list)
                    .await
                    .map(|_| "group")
            }
        }
        "set-role-scopes" | "set-group-roles" => {
            let changes = ListChanges {
                set: Some(words(form.list.as_deref())),
                ..Default::default()
            };
            if form.action == "set-role-scopes" {
                access::update_role(store, actor, &id, changes)
                    .await
                    .map(|_| "role")
            } else {
                access::update_group(store, actor, &id, changes)
                    .await
                    .map(|_| "group")
            }
        }
        "delete-role" => match confirmed(&form) {
            Ok(()) => access::delete_role(store, actor, &id)
                .await
                .map(|_| "deleted"),
            Err(e) => Err(e),
        },
        "delete-group" => match confirmed(&form) {
            Ok(()) => access::delete_group(store, actor, &id)
                .await
                .map(|_| "deleted"),
            Err(e) => Err(e),
        },
        "add-member" | "remove-member" => {
            let username = text(&form.username);
            match store.find_user_credentials(username.trim()).await? {
                None => Err(AdminError::InvalidField {
                    field: "username",
                    message: format!("There is no user {}.", username.trim()),
                }),
                Some((user, _)) => {
                    let member = form.action == "add-member";
                    access::set_group_member(store, actor, &id, &user.id, member)
                        .await
                        .map(|_| "member")
                }
            }
        }
        _ => return Err(PageError::bad_request("Unknown action.")),
    };
    match done {
        Ok(done) => Ok(see_other(&format!("{PATH}?done={done}"))),
        Err(AdminError::Store(e)) => Err(e.into()),
        Err(AdminError::NotFound) => Err(super::admin_error(AdminError::NotFound)),
        Err(e) => {
            let message = match e {
                AdminError::InvalidField { field, message } => format!("{field}: {message}"),
                e => e.to_string(),
            };
            access_page(&state, &c, None, Some(message)).await
        }
    }
}
