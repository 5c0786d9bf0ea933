//! `gatehouse api`, `role` and `group`: the APIs tokens are for, and who may be granted their
//! scopes.
use crate::admin::access::{self as access, ApiChanges, ListChanges, NewApi};
use crate::admin::{Actor, AdminError};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Access, Api, ApiScope};
use crate::startup::open_store;
use clap::Subcommand;

/// `NAME="words the consent page shows"`.
fn parse_scope(arg: &str) -> Result<ApiScope, String> {
    let (name, description) = arg.split_once('=').ok_or_else(|| {
        format!("{arg}: write the scope as NAME=\"words the consent page shows\"")
    })?;
    Ok(ApiScope {
        name: name.trim().to_owned(),
        description: description.to_owned(),
    })
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Register an API: its identifier is the `aud` of the access tokens minted for it.
    Create {
        /// An absolute URI, such as https://tasks.example (RFC 8707 `resource`).
        #[arg(long)]
        identifier: String,
        #[arg(long)]
        name: String,
        /// A scope and the words the consent page shows: --scope tasks:read="Read your tasks".
        #[arg(long = "scope", value_parser = parse_scope)]
        scopes: Vec<ApiScope>,
    },
    /// List APIs.
    List,
    /// Show an API and its scopes.
    Show { api: String },
    /// Rename an API, add or re-word scopes, remove scopes (roles lose removed scopes).
    Update {
        api: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "scope", value_parser = parse_scope)]
        scopes: Vec<ApiScope>,
        #[arg(long = "remove-scope")]
        remove_scopes: Vec<String>,
    },
    /// Delete an API and its scopes.
    Delete { api: String },
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role: a named set of API scopes.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List roles.
    List,
    /// Show a role, its scopes and the users holding it directly.
    Show { role: String },
    /// Change a role's description, add scopes, remove scopes.
    Update {
        role: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long = "remove-scope")]
        remove_scopes: Vec<String>,
    },
    /// Delete a role; users and groups lose it.
    Delete { role: String },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group: a named set of users holding roles.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List groups.
    List,
    /// Show a group, its roles and its members.
    Show { group: String },
    /// Change a group's description, add roles, remove roles.
    Update {
        group: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long = "remove-role")]
        remove_roles: Vec<String>,
    },
    /// Delete a group; its members lose its roles.
    Delete { group: String },
    /// Add a user to a group.
    AddUser { group: String, username: String },
    /// Take a user out of a group.
    RemoveUser { group: String, username: String },
}

fn not_found(what: &str, key: &str) -> impl FnOnce(AdminError) -> anyhow::Error {
    let message = format!("no {what} {key}");
    move |e| match e {
        AdminError::NotFound => anyhow::anyhow!(message),
        e => e.into(),
    }
}

fn print_api(api: &Api) {
    println!("id\t{}", api.id);
    println!("identifier\t{}", api.identifier);
    println!("name\t{}", api.name);
    for s in &api.scopes {
        println!("scope\t{}\t{}", s.name, s.description);
    }
}

pub async fn api(config: &Config, clock: &Clock, cmd: ApiCommand) -> anyhow::Result<()> {
    let store = open_store(config, clock).await?;
    match cmd {
        ApiCommand::Create {
            identifier,
            name,
            scopes,
        } => {
            let api = access::create_api(
                &store,
                clock.now(),
                Actor::CLI,
                NewApi {
                    identifier: &identifier,
                    name: &name,
                    scopes,
                },
            )
            .await?;
            println!(
                "created API {} (scopes: {}; id {})",
                api.identifier,
                api.scopes
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                api.id
            );
        }
        ApiCommand::List => {
            for api in store.list_apis().await? {
                let scopes: Vec<&str> = api.scopes.iter().map(|s| s.name.as_str()).collect();
                println!(
                    "{}\t{}\t{}\t{}",
                    api.id,
                    api.identifier,
                    api.name,
                    scopes.join(" ")
                );
            }
        }
        ApiCommand::Show { api } => {
            let found = access::find_api(&store, &api)
                .await
                .map_err(not_found("API", &api))?;
            print_api(&found);
        }
        ApiCommand::Update {
            api,
            name,
            scopes,
            remove_scopes,
        } => {
            let changes = ApiChanges {
                name,
                scopes: None,
                add_scopes: scopes,
                remove_scopes,
            };
            let updated = access::update_api(&store, clock.now(), Actor::CLI, &api, changes)
                .await
                .map_err(not_found("API", &api))?;
            println!("updated API {}", updated.identifier);
        }
        ApiCommand::Delete { api } => {
            access::delete_api(&store, Actor::CLI, &api)
                .await
                .map_err(not_found("API", &api))?;
            println!("deleted API {api}");
        }
    }
    store.close().await;
    Ok(())
}

pub async fn role(config: &Config, clock: &Clock, cmd: RoleCommand) -> anyhow::Result<()> {
    let store = open_store(config, clock).await?;
    match cmd {
        RoleCommand::Create {
            name,
            description,
            scopes,
        } => {
            let role = access::create_role(
                &store,
                clock.now(),
                Actor::CLI,
                &name,
                &description,
                &scopes,
            )
            .await?;
            println!("created role {} ({})", role.name, role.scopes.join(" "));
        }
        RoleCommand::List => {
            for role in store.list_roles().await? {
                println!(
                    "{}\t{}\t{}",
                    role.name,
                    role.scopes.join(" "),
                    role.description
                );
            }
        }
        RoleCommand::Show { role } => {
            let found = access::find_role(&store, &role)
                .await
                .map_err(not_found("role", &role))?;
            println!("id\t{}", found.id);
            println!("name\t{}", found.name);
            println!("description\t{}", found.description);
            println!("scopes\t{}", found.scopes.join(" "));
            for (_, username) in store.role_holders(&found.id).await? {
                println!("user\t{username}");
            }
        }
        RoleCommand::Update {
            role,
            description,
            scopes,
            remove_scopes,
        } => {
            let changes = ListChanges {
                description,
                set: None,
                add: scopes,
                remove: remove_scopes,
            };
            let updated = access::update_role(&store, Actor::CLI, &role, changes)
                .await
                .map_err(not_found("role", &role))?;
            println!(
                "updated role {} ({})",
                updated.name,
                updated.scopes.join(" ")
            );
        }
        RoleCommand::Delete { role } => {
            access::delete_role(&store, Actor::CLI, &role)
                .await
                .map_err(not_found("role", &role))?;
            println!("deleted role {role}");
        }
    }
    store.close().await;
    Ok(())
}

pub async fn group(config: &Config, clock: &Clock, cmd: GroupCommand) -> anyhow::Result<()> {
    let store = open_store(config, clock).await?;
    match cmd {
        GroupCommand::Create {
            name,
            description,
            roles,
        } => {
            let group =
                access::create_group(&store, clock.now(), Actor::CLI, &name, &description, &roles)
                    .await?;
            println!("created group {} ({})", group.name, group.roles.join(" "));
        }
        GroupCommand::List => {
            for g in store.list_groups().await? {
                println!("{}\t{}\t{}", g.name, g.roles.join(" "), g.description);
            }
        }
        GroupCommand::Show { group } => {
            let found = access::find_group(&store, &group)
                .await
                .map_err(not_found("group", &group))?;
            println!("id\t{}", found.id);
            println!("name\t{}", found.name);
            println!("description\t{}", found.description);
            println!("roles\t{}", found.roles.join(" "));
            for (_, username) in store.group_members(&found.id).await? {
                println!("member\t{username}");
            }
        }
        GroupCommand::Update {
            group,
            description,
            roles,
            remove_roles,
        } => {
            let changes = ListChanges {
                description,
                set: None,
                add: roles,
                remove: remove_roles,
            };
            let updated = access::update_group(&store, Actor::CLI, &group, changes)
                .await
                .map_err(not_found("group", &group))?;
            println!(
                "updated group {} ({})",
                updated.name,
                updated.roles.join(" ")
            );
        }
        GroupCommand::Delete { group } => {
            access::delete_group(&store, Actor::CLI, &group)
                .await
                .map_err(not_found("group", &group))?;
            println!("deleted group {group}");
        }
        GroupCommand::AddUser { group, username } => {
            let user = super::find_user(&store, &username).await?;
            let added = access::set_group_member(&store, Actor::CLI, &group, &user.id, true)
                .await
                .map_err(not_found("group", &group))?;
            println!(
                "{username} {} in group {group}",
                if added { "is now" } else { "was already" }
            );
        }
        GroupCommand::RemoveUser { group, username } => {
            let user = super::find_user(&store, &username).await?;
            let removed = access::set_group_member(&store, Actor::CLI, &group, &user.id, false)
                .await
                .map_err(not_found("group", &group))?;
            println!(
                "{username} {} in group {group}",
                if removed { "is no longer" } else { "was not" }
            );
        }
    }
    store.close().await;
    Ok(())
}

/// `user add-role` / `user remove-role`.
pub async fn user_role(
    store: &crate::store::Store,
    username: &str,
    role: &str,
    held: bool,
) -> anyhow::Result<()> {
    let user = super::find_user(store, username).await?;
    let changed = access::set_user_role(store, Actor::CLI, &user.id, role, held)
        .await
        .map_err(not_found("role", role))?;
    let what = match (held, changed) {
        (true, true) => "now holds",
        (true, false) => "already held",
        (false, true) => "no longer holds",
        (false, false) => "did not hold",
    };
    println!("{username} {what} the role {role}");
    Ok(())
}

/// The access part of `user show`.
pub fn print_access(access: &Access) {
    for r in &access.roles {
        let mut how: Vec<String> = Vec::new();
        if r.direct {
            how.push("direct".into());
        }
        how.extend(r.via.iter().map(|g| format!("group {g}")));
        println!(
            "role\t{}\t{}\t{}",
            r.name,
            how.join(", "),
            r.scopes.join(" ")
        );
    }
    for g in &access.groups {
        println!("group\t{g}");
    }
    println!("scopes\t{}", access.scopes().join(" "));
}
