//! The audit log's rows: written in batches by the journal's writer task, read by the admin
//! API, the console and `gatehouse audit tail`, and swept after the retention period.
use super::{Result, Store};
use crate::audit::{Entry, Journal, Record};
use sqlx::Row;

/// Most records the writer stores in one transaction.
const BATCH: usize = 256;

/// Which events a reader wants, newest first. `before` is the last id of the previous page.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub event: Option<String>,
    pub before: Option<String>,
    pub limit: i64,
}

impl Store {
    /// Sends this store's audit events to SQL from now on, through a writer task. The task
    /// holds a handle without the journal, so it ends once every handle with it is dropped.
    pub fn with_journal(mut self, clock: crate::clock::Clock) -> Self {
        let (journal, rx) = Journal::new(clock.clone());
        let mut writer = self.clone();
        writer.journal = Journal::log_only(clock);
        tokio::spawn(write_audit(writer, rx));
        self.journal = journal;
        self
    }

    /// Where this store's audit events go.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    async fn insert_audit(&self, records: &[Record]) -> Result<()> {
        let mut tx = self.writer_for_uncached().begin().await?;
        for r in records {
            sqlx::query(
                "insert into audit_events (id, at, event, outcome, actor, target, address) \
                 values ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&r.id)
            .bind(r.at)
            .bind(&r.event)
            .bind(&r.outcome)
            .bind(&r.actor)
            .bind(&r.target)
            .bind(&r.address)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Events matching `q`, newest first. Waits for this process's pending events first, so a
    /// change is listed as soon as it is answered.
    pub async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<Record>> {
        self.journal.flush().await;
        let rows = sqlx::query(
            "select id, at, event, outcome, actor, target, address from audit_events \
             where ($1 is null or at >= $1) and ($2 is null or at <= $2) \
             and ($3 is null or actor = $3) and ($4 is null or target = $4) \
             and ($5 is null or event = $5) and ($6 is null or id < $6) \
             order by id desc limit $7",
        )
        .bind(q.since)
        .bind(q.until)
        .bind(&q.actor)
        .bind(&q.target)
        .bind(&q.event)
        .bind(&q.before)
        .bind(q.limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Record {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    event: r.try_get("event")?,
                    outcome: r.try_get("outcome")?,
                    actor: r.try_get("actor")?,
                    target: r.try_get("target")?,
                    address: r.try_get("address")?,
                })
            })
            .collect()
    }

    /// Deletes events older than `before` (the retention setting).
    pub async fn delete_old_audit(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("delete from audit_events where at < $1")
            .bind(before)
            .execute(self.writer_for_uncached())
            .await?
            .rows_affected())
    }
}

/// Drains the journal into SQL in batches. A batch the database refuses is retried once, then
/// dropped: its events are already in the log.
async fn write_audit(store: Store, mut rx: tokio::sync::mpsc::Receiver<Entry>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(entry) = next.take() {
            match entry {
                Entry::Record(r) => batch.push(r),
                Entry::Flush(done) => waiting.push(done),
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let mut stored = store.insert_audit(&batch).await;
            if stored.is_err() {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                stored = store.insert_audit(&batch).await;
            }
            if let Err(e) = stored {
                tracing::warn!(error = %e, events = batch.len(), "cannot store audit events; they are in the log only");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
