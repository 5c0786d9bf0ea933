use super::{Error, Result, Store, flag, on_conflict};
use crate::domain::User;
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, username, email, email_verified, name, disabled, created_at, password_hash, profile, \
     updated_at, revision";

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        name: row.try_get("name")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
        profile: serde_json::from_str(&row.try_get::<String, _>("profile")?)
            .map_err(|e| Error::Corrupt(e.to_string()))?,
        updated_at: row.try_get("updated_at")?,
        revision: row.try_get("revision")?,
    })
}

impl Store {
    pub async fn insert_user(&self, u: &User, password_hash: &str) -> Result<()> {
        sqlx::query(
            "insert into users (id, username, email, name, password_hash, disabled, created_at, \
             profile, updated_at, email_verified) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.email)
        .bind(&u.name)
        .bind(password_hash)
        .bind(flag(u.disabled))
        .bind(u.created_at)
        .bind(profile_json(&u.profile)?)
        .bind(u.updated_at)
        .bind(flag(u.email_verified))
        .execute(&*self.writer())
        .await
        .map_err(on_conflict("username"))?;
        Ok(())
    }

    /// `find_user` through the server's cache, for UserInfo (see `with_read_caches`).
    pub async fn find_user_cached(&self, id: &str) -> Result<Option<User>> {
        self.read_through(|c| &c.users, id, self.find_user(id))
            .await
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from users where id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user and their password hash, for authentication.
    pub async fn find_user_credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from users where username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// Enabled users with this address (ignoring ASCII case), for password reset.
    pub async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from users where lower(email) = lower($1) and disabled = 0 \
             order by created_at limit 10"
        )))
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Whether any account, enabled or not, has this address (ignoring ASCII case).
    pub async fn email_has_account(&self, email: &str) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("select count(*) from users where lower(email) = lower($1)")
                .bind(email)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from users order by created_at, username"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn update_password_hash(&self, user_id: &str, password_hash: &str) -> Result<()> {
        let done = sqlx::query(
            "update users set password_hash = $1, revision = revision + 1 where id = $2",
        )
        .bind(password_hash)
        .bind(user_id)
        .execute(&*self.writer())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Replaces the user's name, email and profile claims (`updated_at` is set to `now`) if the
    /// stored revision is still `u.revision`; else `Conflict`: it changed since it was read.
    pub async fn update_user_profile(&self, u: &User, now: i64) -> Result<()> {
        let done = sqlx::query(
            "update users set name = $1, email = $2, profile = $3, updated_at = $4, \
             revision = revision + 1, email_verified = $7 where id = $5 and revision = $6",
        )
        .bind(&u.name)
        .bind(&u.email)
        .bind(profile_json(&u.profile)?)
        .bind(now)
        .bind(&u.id)
        .bind(u.revision)
        .bind(flag(u.email_verified))
        .execute(&*self.writer())
        .await?;
        if done.rows_affected() == 0 {
            return Err(match self.find_user(&u.id).await? {
                Some(_) => Error::Conflict(super::clients::CHANGED),
                None => Error::NotFound,
            });
        }
        Ok(())
    }

    pub async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        let id: Option<String> = sqlx::query_scalar("select id from users where username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        let id = id.ok_or(Error::NotFound)?;
        self.set_user_disabled_by_id(&id, disabled).await
    }

    /// Disabling the last enabled administrator is refused (`Conflict`).
    pub async fn set_user_disabled_by_id(&self, user_id: &str, disabled: bool) -> Result<()> {
        if disabled {
            return self
                .without_last_admin(
                    user_id,
                    "update users set disabled = 1, revision = revision + 1 \
                     where id = $1 and ($2 is null or revision = $2)",
                    None,
                )
                .await;
        }
        let done =
            sqlx::query("update users set disabled = 0, revision = revision + 1 where id = $1")
                .bind(user_id)
                .execute(&*self.writer())
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Users by username after `after` whose username, name or email contains `q` (ignoring
    /// ASCII case), each with whether they are an administrator.
    pub async fn search_users(
        &self,
        q: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(User, bool)>> {
        let pattern = q.map(|q| format!("%{}%", super::clients::like_escape(&q.to_lowercase())));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS}, admin from users where ($1 is null or username > $1) \
             and ($2 is null or lower(username) like $2 escape '\\' \
                  or lower(coalesce(name, '')) like $2 escape '\\' \
                  or lower(coalesce(email, '')) like $2 escape '\\') \
             order by username limit $3"
        )))
        .bind(after)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((user_from_row(r)?, r.try_get::<i64, _>("admin")? != 0)))
            .collect()
    }

    /// Deletes a user and (by cascade) everything of theirs; the last administrator stays.
    pub async fn delete_user(&self, user_id: &str) -> Result<()> {
        self.delete_user_at(user_id, None).await
    }

    /// As `delete_user`, if the user is still at `revision` (`None`: whatever it is now).
    pub async fn delete_user_at(&self, user_id: &str, revision: Option<i64>) -> Result<()> {
        self.without_last_admin(
            user_id,
            "delete from users where id = $1 and ($2 is null or revision = $2)",
            revision,
        )
        .await
    }
}

fn profile_json(p: &crate::domain::Profile) -> Result<String> {
    serde_json::to_string(p).map_err(|e| Error::Corrupt(e.to_string()))
}
