//! APIs and their scopes, roles and groups, and who holds them. Changes apply to the next token:
//! tokens already issued keep their scopes until they expire (RFC 9068).
use super::{Actor, AdminError};
use crate::audit::{self, Event};
use crate::crypto::random_id;
use crate::domain::access::{validate_access_name, validate_api_identifier, validate_scope_name};
use crate::domain::{Access, Api, ApiScope, Group, Role};
use crate::store::Store;

fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::InvalidField {
        field,
        message: message.into(),
    }
}

fn emit(store: &Store, event: Event, actor: Actor<'_>, resource: &str) {
    store
        .journal()
        .emit(event, actor.id, resource, actor.address);
}

fn api_resource(id: &str) -> String {
    format!("api:{id}")
}

fn role_resource(id: &str) -> String {
    format!("role:{id}")
}

fn group_resource(id: &str) -> String {
    format!("group:{id}")
}

/// Names and descriptions shown to people: trimmed, 1–200 characters, no control characters.
fn display_text(field: &'static str, text: &str, required: bool) -> Result<String, AdminError> {
    let t = text.trim();
    if required && t.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if t.chars().count() > 200 || t.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "at most 200 characters, without control characters",
        ));
    }
    Ok(t.to_owned())
}

/// The most scopes an API or a role, or roles a group, may hold: a consent page and a token
/// stay readable, and one write stays small.
pub const MAX_LIST: usize = 100;

fn too_long(field: &'static str, list: &[impl Sized]) -> Result<(), AdminError> {
    if list.len() > MAX_LIST {
        return Err(invalid(field, format!("at most {MAX_LIST} entries")));
    }
    Ok(())
}

fn check_scopes(scopes: &[ApiScope]) -> Result<Vec<ApiScope>, AdminError> {
    too_long("scopes", scopes)?;
    let mut out: Vec<ApiScope> = Vec::new();
    for s in scopes {
        validate_scope_name(&s.name).map_err(|m| invalid("scopes", m))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(invalid(
                "scopes",
                format!("scope {} is listed twice", s.name),
            ));
        }
        out.push(ApiScope {
            name: s.name.clone(),
            description: display_text("scopes", &s.description, true).map_err(|_| {
                invalid(
                    "scopes",
                    format!(
                        "scope {} needs the words the consent page shows (1 to 200 characters)",
                        s.name
                    ),
                )
            })?,
        });
    }
    Ok(out)
}

/// A new API.
pub struct NewApi<'a> {
    pub identifier: &'a str,
    pub name: &'a str,
    pub scopes: Vec<ApiScope>,
}

pub async fn create_api(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    new: NewApi<'_>,
) -> Result<Api, AdminError> {
    validate_api_identifier(new.identifier).map_err(|m| invalid("identifier", m))?;
    let api = Api {
        id: random_id(),
        identifier: new.identifier.to_owned(),
        name: display_text("name", new.name, true)?,
        scopes: check_scopes(&new.scopes)?,
        created_at: now,
        updated_at: now,
    };
    store.insert_api(&api).await?;
    emit(store, Event::ApiCreated, actor, &api_resource(&api.id));
    Ok(api)
}

/// What changes of an API: a new name, its whole scope list, scopes added (or described anew)
/// and scopes removed, in that order. The identifier never changes: tokens carry it.
#[derive(Debug, Default)]
pub struct ApiChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<ApiScope>>,
    pub add_scopes: Vec<ApiScope>,
    pub remove_scopes: Vec<String>,
}

pub async fn update_api(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    key: &str,
    changes: ApiChanges,
) -> Result<Api, AdminError> {
    let api = find_api(store, key).await?;
    let name = match changes.name {
        Some(name) => display_text("name", &name, true)?,
        None => api.name.clone(),
    };
    let mut remove: Vec<String> = Vec::new();
    let mut upsert: Vec<ApiScope> = Vec::new();
    if let Some(set) = changes.scopes {
        remove.extend(
            api.scopes
                .iter()
                .filter(|s| !set.iter().any(|n| n.name == s.name))
                .map(|s| s.name.clone()),
        );
        upsert.extend(set);
    }
    for s in changes.add_scopes {
        upsert.retain(|o| o.name != s.name);
        upsert.push(s);
    }
    for name in changes.remove_scopes {
        if !api.owns(&name) {
            return Err(invalid(
                "scopes",
                format!("{} has no scope {name}", api.identifier),
            ));
        }
        upsert.retain(|o| o.name != name);
        remove.push(name);
    }
    let upsert = check_scopes(&upsert)?;
    let kept = api.scopes.iter().filter(|s| !remove.contains(&s.name));
    let total = kept
        .filter(|s| !upsert.iter().any(|u| u.name == s.name))
        .count()
        + upsert.len();
    if total > MAX_LIST {
        return Err(invalid(
            "scopes",
            format!("an API has at most {MAX_LIST} scopes"),
        ));
    }
    store
        .update_api(&api.id, &name, now, &upsert, &remove)
        .await?;
    emit(store, Event::ApiChanged, actor, &api_resource(&api.id));
    find_api(store, &api.id).await
}

/// Deletes an API with its scopes; roles lose those scopes.
pub async fn delete_api(store: &Store, actor: Actor<'_>, key: &str) -> Result<(), AdminError> {
    let api = find_api(store, key).await?;
    if !store.delete_api(&api.id).await? {
        return Err(AdminError::NotFound);
    }
    emit(store, Event::ApiDeleted, actor, &api_resource(&api.id));
    Ok(())
}

/// An API by id or identifier.
pub async fn find_api(store: &Store, key: &str) -> Result<Api, AdminError> {
    store.find_api(key).await?.ok_or(AdminError::NotFound)
}

/// Scopes a role may hold: each one an API defines.
async fn check_role_scopes(store: &Store, scopes: &[String]) -> Result<Vec<String>, AdminError> {
    too_long("scopes", scopes)?;
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    let names: Vec<&str> = out.iter().map(String::as_str).collect();
    let apis = store.apis_for(&names, &[]).await?;
    if let Some(missing) = out.iter().find(|s| !apis.iter().any(|a| a.owns(s))) {
        return Err(invalid(
            "scopes",
            format!("no API defines the scope {missing}; add it with `gatehouse api update`"),
        ));
    }
    out.sort();
    Ok(out)
}

pub async fn create_role(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    name: &str,
    description: &str,
    scopes: &[String],
) -> Result<Role, AdminError> {
    validate_access_name("role", name).map_err(|m| invalid("name", m))?;
    let role = Role {
        id: random_id(),
        name: name.to_owned(),
        description: display_text("description", description, false)?,
        scopes: check_role_scopes(store, scopes).await?,
        created_at: now,
    };
    store.insert_role(&role).await?;
    emit(store, Event::RoleCreated, actor, &role_resource(&role.id));
    Ok(role)
}

/// What changes of a role or group: its description, its whole list (scopes of a role, roles
/// of a group), then entries added and removed.
#[derive(Debug, Default)]
pub struct ListChanges {
    pub description: Option<String>,
    pub set: Option<Vec<String>>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl ListChanges {
    fn apply(self, description: &mut String, list: &mut Vec<String>) -> Result<(), AdminError> {
        if let Some(d) = self.description {
            *description = display_text("description", &d, false)?;
        }
        if let Some(set) = self.set {
            *list = set;
        }
        for a in self.add {
            if !list.contains(&a) {
                list.push(a);
            }
        }
        for r in &self.remove {
            if !list.contains(r) {
                return Err(invalid("remove", format!("{r} is not on the list")));
            }
            list.retain(|x| x != r);
        }
        Ok(())
    }
}

pub async fn update_role(
    store: &Store,
    actor: Actor<'_>,
    key: &str,
    changes: ListChanges,
) -> Result<Role, AdminError> {
    let mut role = find_role(store, key).await?;
    changes.apply(&mut role.description, &mut role.scopes)?;
    role.scopes = check_role_scopes(store, &role.scopes).await?;
    store.update_role(&role).await?;
    emit(store, Event::RoleChanged, actor, &role_resource(&role.id));
    Ok(role)
}

pub async fn delete_role(store: &Store, actor: Actor<'_>, key: &str) -> Result<(), AdminError> {
    let role = find_role(store, key).await?;
    if !store.delete_role(&role.id).await? {
        return Err(AdminError::NotFound);
    }
    emit(store, Event::RoleDeleted, actor, &role_resource(&role.id));
    Ok(())
}

/// A role by id or name.
pub async fn find_role(store: &Store, key: &str) -> Result<Role, AdminError> {
    store.find_role(key).await?.ok_or(AdminError::NotFound)
}

/// The ids of roles named by name or id, each of which must exist.
async fn role_ids(
    store: &Store,
    names: &[String],
) -> Result<(Vec<String>, Vec<String>), AdminError> {
    too_long("roles", names)?;
    let mut ids = Vec::new();
    let mut found = Vec::new();
    for n in names {
        let role = store
            .find_role(n)
            .await?
            .ok_or_else(|| invalid("roles", format!("there is no role {n}")))?;
        if !ids.contains(&role.id) {
            ids.push(role.id);
            found.push(role.name);
        }
    }
    Ok((ids, found))
}

pub async fn create_group(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    name: &str,
    description: &str,
    roles: &[String],
) -> Result<Group, AdminError> {
    validate_access_name("group", name).map_err(|m| invalid("name", m))?;
    let (ids, names) = role_ids(store, roles).await?;
    let group = Group {
        id: random_id(),
        name: name.to_owned(),
        description: display_text("description", description, false)?,
        roles: names,
        created_at: now,
    };
    store.insert_group(&group, &ids).await?;
    emit(
        store,
        Event::GroupCreated,
        actor,
        &group_resource(&group.id),
    );
    find_group(store, &group.id).await
}

pub async fn update_group(
    store: &Store,
    actor: Actor<'_>,
    key: &str,
    changes: ListChanges,
) -> Result<Group, AdminError> {
    let mut group = find_group(store, key).await?;
    changes.apply(&mut group.description, &mut group.roles)?;
    let (ids, _) = role_ids(store, &group.roles).await?;
    store.update_group(&group, &ids).await?;
    emit(
        store,
        Event::GroupChanged,
        actor,
        &group_resource(&group.id),
    );
    find_group(store, &group.id).await
}

pub async fn delete_group(store: &Store, actor: Actor<'_>, key: &str) -> Result<(), AdminError> {
    let group = find_group(store, key).await?;
    if !store.delete_group(&group.id).await? {
        return Err(AdminError::NotFound);
    }
    emit(
        store,
        Event::GroupDeleted,
        actor,
        &group_resource(&group.id),
    );
    Ok(())
}

/// A group by id or name.
pub async fn find_group(store: &Store, key: &str) -> Result<Group, AdminError> {
    store.find_group(key).await?.ok_or(AdminError::NotFound)
}

/// Adds a user to a group, or with `member` false takes them out. False when already so.
pub async fn set_group_member(
    store: &Store,
    actor: Actor<'_>,
    group: &str,
    user_id: &str,
    member: bool,
) -> Result<bool, AdminError> {
    let group = find_group(store, group).await?;
    store
        .find_user(user_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let changed = store.set_group_member(&group.id, user_id, member).await?;
    if changed {
        let event = if member {
            Event::GroupMemberAdded
        } else {
            Event::GroupMemberRemoved
        };
        let resource = format!("{}/{}", group_resource(&group.id), audit::user(user_id));
        emit(store, event, actor, &resource);
    }
    Ok(changed)
}

/// Grants a user a role directly, or with `held` false takes it back. False when already so.
pub async fn set_user_role(
    store: &Store,
    actor: Actor<'_>,
    user_id: &str,
    role: &str,
    held: bool,
) -> Result<bool, AdminError> {
    let role = find_role(store, role).await?;
    store
        .find_user(user_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let changed = store.set_user_role(user_id, &role.id, held).await?;
    if changed {
        let event = if held {
            Event::UserRoleAdded
        } else {
            Event::UserRoleRemoved
        };
        let resource = format!("{}/{}", audit::user(user_id), role_resource(&role.id));
        emit(store, event, actor, &resource);
    }
    Ok(changed)
}

/// What a user holds: roles (direct and through groups), groups and the scopes they may be
/// granted.
pub async fn user_access(store: &Store, user_id: &str) -> Result<Access, AdminError> {
    Ok(store.user_access(user_id).await?)
}
