//! APIs and their scopes, roles, groups, and what each user holds of them.
use super::{Error, Result, Store, on_conflict, placeholders};
use crate::domain::{Access, Api, ApiScope, Group, HeldRole, Role};
use sqlx::Row;
use sqlx::any::AnyRow;

pub const SCOPE_TAKEN: &str = "a scope of that name belongs to another API";

/// A scope or role named was deleted between the check and the write.
fn on_missing_link(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            Error::Conflict("a scope or role it names was deleted meanwhile")
        }
        _ => Error::Database(e),
    }
}

/// Folds rows of an API joined with its scopes (ordered by API) into APIs.
fn fold_apis(rows: &[AnyRow]) -> Result<Vec<Api>> {
    let mut out: Vec<Api> = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        if out.last().is_none_or(|a| a.id != id) {
            out.push(Api {
                id,
                identifier: r.try_get("identifier")?,
                name: r.try_get("name")?,
                scopes: Vec::new(),
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            });
        }
        if let (Some(api), Some(name)) = (out.last_mut(), r.try_get::<Option<String>, _>("scope")?)
        {
            api.scopes.push(ApiScope {
                name,
                description: r
                    .try_get::<Option<String>, _>("description")?
                    .unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

const API_SELECT: &str = "select a.id, a.identifier, a.name, a.created_at, a.updated_at, \
     s.name as scope, s.description from apis a left join api_scopes s on s.api_id = a.id";

async fn upsert_scopes<'e>(
    tx: &mut sqlx::Transaction<'e, sqlx::Any>,
    api_id: &str,
    scopes: &[ApiScope],
) -> Result<()> {
    for s in scopes {
        // A name another API owns is left alone (the `where`), which the count reveals.
        let done = sqlx::query(
            "insert into api_scopes (name, api_id, description) values ($1, $2, $3) \
             on conflict (name) do update set description = excluded.description \
             where api_scopes.api_id = excluded.api_id",
        )
        .bind(&s.name)
        .bind(api_id)
        .bind(&s.description)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict(SCOPE_TAKEN));
        }
    }
    Ok(())
}

/// Takes scope names out of every remembered consent: a name set free may later be another
/// API's, which a consent to the old one must not cover.
async fn forget_consents(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    names: &[String],
) -> Result<()> {
    for name in names {
        let escaped: String = name
            .chars()
            .flat_map(|c| match c {
                '\\' | '%' | '_' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "select user_id, client_id, scope from consents \
             where (' ' || scope || ' ') like $1 escape '\\'",
        )
        .bind(format!("% {escaped} %"))
        .fetch_all(&mut **tx)
        .await?;
        for (user_id, client_id, scope) in rows {
            let kept: Vec<&str> = scope.split(' ').filter(|s| s != name).collect();
            sqlx::query("update consents set scope = $1 where user_id = $2 and client_id = $3")
                .bind(kept.join(" "))
                .bind(&user_id)
                .bind(&client_id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// The longest scope and resource list whose APIs are cached (a few scopes and one API's URL).
const MAX_CACHED_API_KEY: usize = 512;

impl Store {
    pub async fn insert_api(&self, api: &Api) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        sqlx::query(
            "insert into apis (id, identifier, name, created_at, updated_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(&api.id)
        .bind(&api.identifier)
        .bind(&api.name)
        .bind(api.created_at)
        .bind(api.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(on_conflict("an API with that identifier exists"))?;
        upsert_scopes(&mut tx, &api.id, &api.scopes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Renames an API, adds (or re-words) `upsert` and deletes `remove`, and with those every
    /// role's hold on them and every remembered consent to them. Changes, not a whole list, so
    /// two admins adding scopes at once both keep theirs.
    pub async fn update_api(
        &self,
        id: &str,
        name: &str,
        updated_at: i64,
        upsert: &[ApiScope],
        remove: &[String],
    ) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        let done = sqlx::query("update apis set name = $1, updated_at = $2 where id = $3")
            .bind(name)
            .bind(updated_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        for n in remove {
            sqlx::query("delete from api_scopes where api_id = $1 and name = $2")
                .bind(id)
                .bind(n)
                .execute(&mut *tx)
                .await?;
        }
        upsert_scopes(&mut tx, id, upsert).await?;
        forget_consents(&mut tx, remove).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an API, its scopes, the roles' hold on them and consents to them.
    pub async fn delete_api(&self, id: &str) -> Result<bool> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        let names: Vec<String> =
            sqlx::query_scalar("select name from api_scopes where api_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        let done = sqlx::query("delete from apis where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        forget_consents(&mut tx, &names).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// An API by its id or its identifier.
    pub async fn find_api(&self, key: &str) -> Result<Option<Api>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{API_SELECT} where a.id = $1 or a.identifier = $1 order by a.id, s.name"
        )))
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(fold_apis(&rows)?.into_iter().next())
    }

    pub async fn list_apis(&self) -> Result<Vec<Api>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{API_SELECT} order by a.identifier, a.id, s.name"
        )))
        .fetch_all(&self.pool)
        .await?;
        fold_apis(&rows)
    }

    /// `apis_for` through the server's cache, for the token and authorization endpoints, which
    /// read it on every request (see `with_read_caches`).
    pub async fn apis_for_cached(&self, scopes: &[&str], identifiers: &[&str]) -> Result<Vec<Api>> {
        let key = format!("{scopes:?}{identifiers:?}");
        // An anonymous /authorize chooses these words: what no real request needs is read
        // uncached, so it cannot fill the cache with large entries.
        if key.len() > MAX_CACHED_API_KEY {
            return self.apis_for(scopes, identifiers).await;
        }
        self.read_through(|c| &c.apis, &key, self.apis_for(scopes, identifiers))
            .await
    }

    /// The APIs that own any of `scopes` or have one of `identifiers`, each with all its scopes.
    pub async fn apis_for(&self, scopes: &[&str], identifiers: &[&str]) -> Result<Vec<Api>> {
        let mut clauses = Vec::new();
        if !identifiers.is_empty() {
            clauses.push(format!(
                "a.identifier in ({})",
                placeholders(1, identifiers.len())
            ));
        }
        if !scopes.is_empty() {
            clauses.push(format!(
                "a.id in (select api_id from api_scopes where name in ({}))",
                placeholders(identifiers.len() + 1, scopes.len())
            ));
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{API_SELECT} where {} order by a.identifier, a.id, s.name",
            clauses.join(" or ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in identifiers.iter().chain(scopes) {
            q = q.bind(*v);
        }
        fold_apis(&q.fetch_all(&self.pool).await?)
    }

    /// Creates a role; its scopes must exist.
    pub async fn insert_role(&self, role: &Role) -> Result<()> {
        let row = NamedRow {
            id: &role.id,
            name: &role.name,
            description: &role.description,
            created_at: role.created_at,
        };
        self.insert_named(&ROLES, &row, &role.scopes).await
    }

    /// Replaces a role's description and scopes.
    pub async fn update_role(&self, role: &Role) -> Result<()> {
        self.update_named(&ROLES, &role.id, &role.description, &role.scopes)
            .await
    }

    pub async fn delete_role(&self, id: &str) -> Result<bool> {
        self.delete_row("roles", id).await
    }

    async fn roles_where(&self, clause: &str, key: Option<&str>) -> Result<Vec<Role>> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select r.id, r.name, r.description, r.created_at, s.scope from roles r \
             left join role_scopes s on s.role_id = r.id {clause} order by r.name, s.scope"
        )));
        if let Some(k) = key {
            q = q.bind(k);
        }
        let mut out: Vec<Role> = Vec::new();
        for r in q.fetch_all(&self.pool).await? {
            let id: String = r.try_get("id")?;
            if out.last().is_none_or(|x| x.id != id) {
                out.push(Role {
                    id,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    scopes: Vec::new(),
                    created_at: r.try_get("created_at")?,
                });
            }
            if let (Some(role), Some(s)) =
                (out.last_mut(), r.try_get::<Option<String>, _>("scope")?)
            {
                role.scopes.push(s);
            }
        }
        Ok(out)
    }

    /// A role by its id, else by its name.
    pub async fn find_role(&self, key: &str) -> Result<Option<Role>> {
        for clause in ["where r.id = $1", "where r.name = $1"] {
            if let Some(r) = self
                .roles_where(clause, Some(key))
                .await?
                .into_iter()
                .next()
            {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    pub async fn list_roles(&self) -> Result<Vec<Role>> {
        self.roles_where("", None).await
    }

    pub async fn insert_group(&self, group: &Group, role_ids: &[String]) -> Result<()> {
        let row = NamedRow {
            id: &group.id,
            name: &group.name,
            description: &group.description,
            created_at: group.created_at,
        };
        self.insert_named(&GROUPS, &row, role_ids).await
    }

    /// Replaces a group's description and roles.
    pub async fn update_group(&self, group: &Group, role_ids: &[String]) -> Result<()> {
        self.update_named(&GROUPS, &group.id, &group.description, role_ids)
            .await
    }

    pub async fn delete_group(&self, id: &str) -> Result<bool> {
        self.delete_row("user_groups", id).await
    }

    async fn groups_where(&self, clause: &str, key: Option<&str>) -> Result<Vec<Group>> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select g.id, g.name, g.description, g.created_at, r.name as role from user_groups g \
             left join group_roles gr on gr.group_id = g.id left join roles r on r.id = gr.role_id \
             {clause} order by g.name, r.name"
        )));
        if let Some(k) = key {
            q = q.bind(k);
        }
        let mut out: Vec<Group> = Vec::new();
        for r in q.fetch_all(&self.pool).await? {
            let id: String = r.try_get("id")?;
            if out.last().is_none_or(|x| x.id != id) {
                out.push(Group {
                    id,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    roles: Vec::new(),
                    created_at: r.try_get("created_at")?,
                });
            }
            if let (Some(g), Some(role)) = (out.last_mut(), r.try_get::<Option<String>, _>("role")?)
            {
                g.roles.push(role);
            }
        }
        Ok(out)
    }

    /// A group by its id, else by its name.
    pub async fn find_group(&self, key: &str) -> Result<Option<Group>> {
        for clause in ["where g.id = $1", "where g.name = $1"] {
            if let Some(g) = self
                .groups_where(clause, Some(key))
                .await?
                .into_iter()
                .next()
            {
                return Ok(Some(g));
            }
        }
        Ok(None)
    }

    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        self.groups_where("", None).await
    }

    /// The members of a group: (user id, username), by username.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "select u.id, u.username from group_members m join users u on u.id = m.user_id \
             where m.group_id = $1 order by u.username limit 10000",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds (or with `member` false, removes) a user to a group; false when nothing changed.
    pub async fn set_group_member(
        &self,
        group_id: &str,
        user_id: &str,
        member: bool,
    ) -> Result<bool> {
        let sql = if member {
            "insert into group_members (group_id, user_id) values ($1, $2) on conflict do nothing"
        } else {
            "delete from group_members where group_id = $1 and user_id = $2"
        };
        let done = sqlx::query(sql)
            .bind(group_id)
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Grants (or with `held` false, takes back) a role directly; false when nothing changed.
    pub async fn set_user_role(&self, user_id: &str, role_id: &str, held: bool) -> Result<bool> {
        let sql = if held {
            "insert into user_roles (user_id, role_id) values ($1, $2) on conflict do nothing"
        } else {
            "delete from user_roles where user_id = $1 and role_id = $2"
        };
        let done = sqlx::query(sql)
            .bind(user_id)
            .bind(role_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// `user_access` through the server's cache, for UserInfo (see `with_read_caches`).
    pub async fn user_access_cached(&self, user_id: &str) -> Result<Access> {
        self.read_through(|c| &c.access, user_id, self.user_access(user_id))
            .await
    }

    /// What a user holds: roles granted directly or through a group (with their scopes), and
    /// groups. Two reads, for the tokens that need them.
    pub async fn user_access(&self, user_id: &str) -> Result<Access> {
        let rows = sqlx::query(
            "select r.name, s.scope, '' as via from user_roles ur join roles r on r.id = ur.role_id \
             left join role_scopes s on s.role_id = r.id where ur.user_id = $1 \
             union all \
             select r.name, s.scope, g.name as via from group_members m \
             join user_groups g on g.id = m.group_id join group_roles gr on gr.group_id = g.id \
             join roles r on r.id = gr.role_id left join role_scopes s on s.role_id = r.id \
             where m.user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let mut roles: Vec<HeldRole> = Vec::new();
        for r in rows {
            let name: String = r.try_get("name")?;
            let scope: Option<String> = r.try_get("scope")?;
            let via: String = r.try_get("via")?;
            let i = match roles.iter().position(|h| h.name == name) {
                Some(i) => i,
                None => {
                    roles.push(HeldRole {
                        name,
                        scopes: Vec::new(),
                        direct: false,
                        via: Vec::new(),
                    });
                    roles.len() - 1
                }
            };
            let held = &mut roles[i];
            if via.is_empty() {
                held.direct = true;
            } else if !held.via.contains(&via) {
                held.via.push(via);
            }
            if let Some(s) = scope
                && !held.scopes.contains(&s)
            {
                held.scopes.push(s);
            }
        }
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        for r in &mut roles {
            r.scopes.sort();
            r.via.sort();
        }
        let groups = sqlx::query_scalar(
            "select g.name from group_members m join user_groups g on g.id = m.group_id \
             where m.user_id = $1 order by g.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Access { roles, groups })
    }

    /// Users holding a role directly: (user id, username).
    pub async fn role_holders(&self, role_id: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "select u.id, u.username from user_roles ur join users u on u.id = ur.user_id \
             where ur.role_id = $1 order by u.username limit 10000",
        )
        .bind(role_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Roles and groups alike: a row with a unique name, and a link table to what it holds.
struct Named {
    table: &'static str,
    taken: &'static str,
    links: &'static str,
    owner: &'static str,
    held: &'static str,
}

const ROLES: Named = Named {
    table: "roles",
    taken: "a role of that name exists",
    links: "role_scopes",
    owner: "role_id",
    held: "scope",
};

const GROUPS: Named = Named {
    table: "user_groups",
    taken: "a group of that name exists",
    links: "group_roles",
    owner: "group_id",
    held: "role_id",
};

struct NamedRow<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    created_at: i64,
}

async fn set_links(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &Named,
    id: &str,
    held: &[String],
) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "delete from {} where {} = $1",
        kind.links, kind.owner
    )))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    for h in held {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into {} ({}, {}) values ($1, $2)",
            kind.links, kind.owner, kind.held
        )))
        .bind(id)
        .bind(h)
        .execute(&mut **tx)
        .await
        .map_err(on_missing_link)?;
    }
    Ok(())
}

impl Store {
    /// Deletes one row by id (what refers to it goes with it); false when there was none.
    async fn delete_row(&self, table: &'static str, id: &str) -> Result<bool> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from {table} where id = $1"
        )))
        .bind(id)
        .execute(&*self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_named(&self, kind: &Named, row: &NamedRow<'_>, held: &[String]) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into {} (id, name, description, created_at) values ($1, $2, $3, $4)",
            kind.table
        )))
        .bind(row.id)
        .bind(row.name)
        .bind(row.description)
        .bind(row.created_at)
        .execute(&mut *tx)
        .await
        .map_err(on_conflict(kind.taken))?;
        set_links(&mut tx, kind, row.id, held).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_named(
        &self,
        kind: &Named,
        id: &str,
        description: &str,
        held: &[String],
    ) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "update {} set description = $1 where id = $2",
            kind.table
        )))
        .bind(description)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        set_links(&mut tx, kind, id, held).await?;
        tx.commit().await?;
        Ok(())
    }
}
