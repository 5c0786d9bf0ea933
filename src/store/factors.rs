//! Second factors: the authenticator-app secret (sealed), recovery codes (hashed), passkeys
//! (public credentials), and the administrator flag their policy depends on.
use super::{Error, Result, Store};
use sqlx::Row;

/// A user's authenticator-app enrolment.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTotp {
    pub sealed_secret: String,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

impl std::fmt::Debug for StoredTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTotp")
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

/// A registered passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub user_id: String,
    pub name: String,
    /// The library's serialised public credential.
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What second factors a user has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FactorSummary {
    /// A confirmed authenticator app.
    pub totp: bool,
    pub passkeys: i64,
    /// Recovery codes not yet used.
    pub recovery_codes: i64,
}

impl FactorSummary {
    /// Recovery codes only back up a factor; they are not one on their own.
    pub fn has_second_factor(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

impl Store {
    /// Starts (or restarts) an enrolment; a confirmed one is left alone (false).
    pub async fn begin_totp(&self, user_id: &str, sealed_secret: &str, now: i64) -> Result<bool> {
        sqlx::query("delete from totp_factors where user_id = $1 and confirmed_at is null")
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        let done = sqlx::query(
            "insert into totp_factors (user_id, sealed_secret, created_at) values ($1, $2, $3) \
             on conflict (user_id) do nothing",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(now)
        .execute(&*self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn find_totp(&self, user_id: &str) -> Result<Option<StoredTotp>> {
        let row = sqlx::query(
            "select sealed_secret, confirmed_at, last_step from totp_factors where user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredTotp {
                sealed_secret: r.try_get("sealed_secret")?,
                confirmed_at: r.try_get("confirmed_at")?,
                last_step: r.try_get("last_step")?,
            })
        })
        .transpose()
    }

    /// Accepts a code's time step once (RFC 6238 §5.2): true for exactly one caller per step,
    /// and never for a step at or before the last one accepted. With `confirm`, only an
    /// unconfirmed enrolment matches and becomes confirmed.
    pub async fn accept_totp_step(
        &self,
        user_id: &str,
        step: i64,
        confirm: bool,
        now: i64,
    ) -> Result<bool> {
        let done = if confirm {
            sqlx::query(
                "update totp_factors set last_step = $1, confirmed_at = $2 \
                 where user_id = $3 and last_step < $1 and confirmed_at is null",
            )
            .bind(step)
            .bind(now)
            .bind(user_id)
            .execute(&*self.writer())
            .await?
        } else {
            sqlx::query(
                "update totp_factors set last_step = $1 \
                 where user_id = $2 and last_step < $1 and confirmed_at is not null",
            )
            .bind(step)
            .bind(user_id)
            .execute(&*self.writer())
            .await?
        };
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_totp(&self, user_id: &str) -> Result<bool> {
        let done = sqlx::query("delete from totp_factors where user_id = $1")
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces every recovery code of a user with these hashes, in one transaction.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        sqlx::query("delete from recovery_codes where user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "insert into recovery_codes (user_id, code_hash, created_at) values ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(h)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Spends a recovery code: true for exactly one caller, once.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update recovery_codes set used_at = $1 where user_id = $2 and code_hash = $3 and used_at is null",
        )
        .bind(now)
        .bind(user_id)
        .bind(code_hash)
        .execute(&*self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_recovery_codes(&self, user_id: &str) -> Result<u64> {
        Ok(sqlx::query("delete from recovery_codes where user_id = $1")
            .bind(user_id)
            .execute(&*self.writer())
            .await?
            .rows_affected())
    }

    pub async fn factor_summary(&self, user_id: &str) -> Result<FactorSummary> {
        let row = sqlx::query(
            "select \
             (select count(*) from totp_factors where user_id = $1 and confirmed_at is not null) as totp, \
             (select count(*) from passkeys where user_id = $1) as passkeys, \
             (select count(*) from recovery_codes where user_id = $1 and used_at is null) as codes",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(FactorSummary {
            totp: row.try_get::<i64, _>("totp")? > 0,
            passkeys: row.try_get("passkeys")?,
            recovery_codes: row.try_get("codes")?,
        })
    }

    pub async fn insert_passkey(&self, p: &StoredPasskey) -> Result<()> {
        sqlx::query(
            "insert into passkeys (credential_id, user_id, name, credential, created_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&p.credential_id)
        .bind(&p.user_id)
        .bind(&p.name)
        .bind(&p.credential)
        .bind(p.created_at)
        .execute(&*self.writer())
        .await
        .map_err(super::on_conflict("passkey"))?;
        Ok(())
    }

    pub async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>> {
        let rows = sqlx::query(
            "select credential_id, user_id, name, credential, created_at, last_used_at \
             from passkeys where user_id = $1 order by created_at, credential_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(passkey_from_row).collect()
    }

    pub async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>> {
        let row = sqlx::query(
            "select credential_id, user_id, name, credential, created_at, last_used_at \
             from passkeys where credential_id = $1",
        )
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(passkey_from_row).transpose()
    }

    /// Records a use: the credential's new counters, and when.
    pub async fn touch_passkey(
        &self,
        credential_id: &str,
        credential: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "update passkeys set credential = $1, last_used_at = $2 where credential_id = $3",
        )
        .bind(credential)
        .bind(now)
        .bind(credential_id)
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    pub async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> Result<bool> {
        let done =
            sqlx::query("update passkeys set name = $1 where user_id = $2 and credential_id = $3")
                .bind(name)
                .bind(user_id)
                .bind(credential_id)
                .execute(&*self.writer())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> Result<bool> {
        let done = sqlx::query("delete from passkeys where user_id = $1 and credential_id = $2")
            .bind(user_id)
            .bind(credential_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes every second factor of a user: app, passkeys and recovery codes.
    pub async fn delete_factors(&self, user_id: &str) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        for sql in [
            "delete from totp_factors where user_id = $1",
            "delete from passkeys where user_id = $1",
            "delete from recovery_codes where user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn user_is_admin(&self, user_id: &str) -> Result<bool> {
        let v: Option<i64> = sqlx::query_scalar("select admin from users where id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.is_some_and(|v| v != 0))
    }

    pub async fn set_user_admin(&self, user_id: &str, admin: bool) -> Result<()> {
        if !admin {
            return self
                .without_last_admin(
                    user_id,
                    "update users set admin = 0, revision = revision + 1 \
                     where id = $1 and ($2 is null or revision = $2)",
                    None,
                )
                .await;
        }
        let done = sqlx::query("update users set admin = 1, revision = revision + 1 where id = $1")
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Runs `sql` (bound to the user's id, then `revision`) unless it would leave no enabled
    /// administrator: taking the role, disabling or deleting the last one is refused with
    /// `LAST_ADMIN`. With a `revision`, a user changed since then is `Conflict(CHANGED)`.
    pub(super) async fn without_last_admin(
        &self,
        user_id: &str,
        sql: &'static str,
        revision: Option<i64>,
    ) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        // PostgreSQL: lock the admins' rows so two admins removing each other cannot both pass
        // the check. SQLite's single writer already serialises this transaction.
        let lock = if self.backend == super::Backend::Postgres {
            "select id from users where admin = 1 and disabled = 0 for update"
        } else {
            "select id from users where admin = 1 and disabled = 0"
        };
        let admins: Vec<String> = sqlx::query_scalar(lock).fetch_all(&mut *tx).await?;
        if admins.iter().any(|a| a == user_id) && admins.len() == 1 {
            return Err(Error::Conflict(LAST_ADMIN));
        }
        let done = sqlx::query(sql)
            .bind(user_id)
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            let exists: Option<String> = sqlx::query_scalar("select id from users where id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match (revision, exists) {
                (Some(_), Some(_)) => Error::Conflict(super::clients::CHANGED),
                _ => Error::NotFound,
            });
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The conflict of removing the last enabled administrator.
pub const LAST_ADMIN: &str = "the last administrator";

fn passkey_from_row(r: &sqlx::any::AnyRow) -> Result<StoredPasskey> {
    Ok(StoredPasskey {
        credential_id: r.try_get("credential_id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        credential: r.try_get("credential")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}
