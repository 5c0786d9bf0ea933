//! The outbound mail queue and the single-use links mail carries.
use super::outbox::Outbox;
use super::{Result, Store};
use sqlx::Row;

const MAIL: Outbox = Outbox {
    table: "mail_outbox",
    columns: "sealed",
};

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
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    /// Claims the oldest due, unexpired message until `lease_until`, counting the attempt.
    pub async fn claim_due_mail(&self, now: i64, lease_until: i64) -> Result<Option<QueuedMail>> {
        let Some(c) = self.claim_due(MAIL, now, lease_until).await? else {
            return Ok(None);
        };
        Ok(Some(QueuedMail {
            sealed: c.row.try_get("sealed")?,
            id: c.id,
            attempts: c.attempts,
        }))
    }

    /// Sent, or never to be sent.
    pub async fn delete_mail(&self, id: &str) -> Result<()> {
        self.delete_queued(MAIL, id).await
    }

    /// Releases a claimed message to be tried again at `next_attempt_at`.
    pub async fn retry_mail(&self, id: &str, next_attempt_at: i64) -> Result<()> {
        self.retry_queued(MAIL, id, next_attempt_at).await
    }

    /// Messages waiting: (all, tried at least once and not yet sent).
    pub async fn mail_backlog(&self) -> Result<(i64, i64)> {
        self.queue_backlog(MAIL).await
    }

    /// Stores a link by the hash of its token. Any older link of the same purpose for the same
    /// user (or, for links without a user, the same address) stops working in the same
    /// transaction: only the newest one sent is good.
    pub async fn insert_account_link(&self, token_hash: &str, link: &AccountLink) -> Result<()> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
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
        insert_link_on(&*self.writer(), token_hash, link).await
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
        .fetch_optional(&*self.writer())
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// Voids a user's links of `purpose` (a verification link once the address changes).
    pub async fn delete_account_links(&self, user_id: &str, purpose: &str) -> Result<u64> {
        Ok(
            sqlx::query("delete from account_links where user_id = $1 and purpose = $2")
                .bind(user_id)
                .bind(purpose)
                .execute(&*self.writer())
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
        .execute(&*self.writer())
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
