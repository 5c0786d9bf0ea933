//! The outbound mail queue and the single-use links mail carries.
use super::{Result, Store};
use sqlx::Row;

/// A queued message, claimed by this sender.
#[derive(Debug)]
pub struct QueuedMail {
    pub id: String,
    pub sealed: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// A stored link: what it may do, for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountLink {
    pub purpose: String,
    pub user_id: Option<String>,
    pub email: String,
    /// The authorization request the person was in when they asked for it.
    pub flow_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_mail(
        &self,
        id: &str,
        sealed: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "insert into mail_outbox (id, sealed, created_at, expires_at, next_attempt_at) \
             values ($1, $2, $3, $4, $3)",
        )
        .bind(id)
        .bind(sealed)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Claims the oldest due, unexpired message until `lease_until`, counting the attempt.
    /// The claim is conditional on the lease it read, so two senders never both win.
    pub async fn claim_due_mail(&self, now: i64, lease_until: i64) -> Result<Option<QueuedMail>> {
        for _ in 0..5 {
            let row = sqlx::query(
                "select id, sealed, attempts, claimed_until from mail_outbox \
                 where next_attempt_at <= $1 and claimed_until <= $1 and expires_at >= $1 \
                 order by next_attempt_at, id limit 1",
            )
            .bind(now)
            .fetch_optional(&self.writer)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let id: String = row.try_get("id")?;
            let claimed_until: i64 = row.try_get("claimed_until")?;
            let done = sqlx::query(
                "update mail_outbox set claimed_until = $1, attempts = attempts + 1 \
                 where id = $2 and claimed_until = $3",
            )
            .bind(lease_until)
            .bind(&id)
            .bind(claimed_until)
            .execute(&self.writer)
            .await?;
            if done.rows_affected() == 1 {
                return Ok(Some(QueuedMail {
                    id,
                    sealed: row.try_get("sealed")?,
                    attempts: row.try_get::<i64, _>("attempts")? + 1,
                }));
            }
        }
        Ok(None)
    }

    /// Sent, or never to be sent.
    pub async fn delete_mail(&self, id: &str) -> Result<()> {
        sqlx::query("delete from mail_outbox where id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Releases a claimed message to be tried again at `next_attempt_at`.
    pub async fn retry_mail(&self, id: &str, next_attempt_at: i64) -> Result<()> {
        sqlx::query("update mail_outbox set next_attempt_at = $1, claimed_until = 0 where id = $2")
            .bind(next_attempt_at)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Messages waiting: (all, tried at least once and not yet sent).
    pub async fn mail_backlog(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "select count(*) as total, \
             coalesce(sum(case when attempts > 0 then 1 else 0 end), 0) as retried \
             from mail_outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("total")?, row.try_get("retried")?))
    }

    /// Stores a link by the hash of its token. Any older link of the same purpose for the same
    /// user (or, for links without a user, the same address) stops working in the same
    /// transaction: only the newest one sent is good.
    pub async fn insert_account_link(&self, token_hash: &str, link: &AccountLink) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "delete from account_links where purpose = $1 and \
             (user_id = $2 or ($2 is null and user_id is null and lower(email) = lower($3)))",
        )
        .bind(&link.purpose)
        .bind(&link.user_id)
        .bind(&link.email)
        .execute(&mut *tx)
        .await?;
        insert_link_on(&mut *tx, token_hash, link).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts back a link that was used in vain (its account could not be created), without
    /// voiding any link sent since.
    pub async fn restore_account_link(&self, token_hash: &str, link: &AccountLink) -> Result<()> {
        insert_link_on(&self.writer, token_hash, link).await
    }

    /// The live link of `purpose` with this token hash, without using it.
    pub async fn find_account_link(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<AccountLink>> {
        let row = sqlx::query(
            "select purpose, user_id, email, flow_id, created_by, created_at, expires_at \
             from account_links where token_hash = $1 and purpose = $2 and expires_at >= $3",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// Uses a live link: deletes it and returns what it was, in one statement, so of two
    /// concurrent uses exactly one gets it.
    pub async fn take_account_link(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<AccountLink>> {
        let row = sqlx::query(
            "delete from account_links where token_hash = $1 and purpose = $2 and expires_at >= $3 \
             returning purpose, user_id, email, flow_id, created_by, created_at, expires_at",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// Voids a user's links of `purpose` (a verification link once the address changes).
    pub async fn delete_account_links(&self, user_id: &str, purpose: &str) -> Result<u64> {
        Ok(
            sqlx::query("delete from account_links where user_id = $1 and purpose = $2")
                .bind(user_id)
                .bind(purpose)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }

    /// Marks the address verified if it is still `email`; false when it changed meanwhile.
    pub async fn set_email_verified(
        &self,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update users set email_verified = $1, revision = revision + 1 \
             where id = $2 and email = $3",
        )
        .bind(super::flag(verified))
        .bind(user_id)
        .bind(email)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn insert_link_on<'e, E>(executor: E, token_hash: &str, link: &AccountLink) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "insert into account_links (token_hash, purpose, user_id, email, flow_id, \
         created_by, created_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token_hash)
    .bind(&link.purpose)
    .bind(&link.user_id)
    .bind(&link.email)
    .bind(&link.flow_id)
    .bind(&link.created_by)
    .bind(link.created_at)
    .bind(link.expires_at)
    .execute(executor)
    .await?;
    Ok(())
}

fn link_from_row(row: &sqlx::any::AnyRow) -> Result<AccountLink> {
    Ok(AccountLink {
        purpose: row.try_get("purpose")?,
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        flow_id: row.try_get("flow_id")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}
