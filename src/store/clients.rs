use super::{Error, Result, Store, flag, json_list, on_conflict, parse_list};
use crate::domain::Client;
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, name, secret_hash, redirect_uris, audiences, skip_consent, created_at";

fn client_from_row(row: &AnyRow) -> Result<Client> {
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        redirect_uris: parse_list(&row.try_get::<String, _>("redirect_uris")?)?,
        audiences: parse_list(&row.try_get::<String, _>("audiences")?)?,
        skip_consent: row.try_get::<i64, _>("skip_consent")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_client(&self, c: &Client) -> Result<()> {
        sqlx::query(
            "insert into clients (id, name, secret_hash, redirect_uris, audiences, skip_consent, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.audiences))
        .bind(flag(c.skip_consent))
        .bind(c.created_at)
        .execute(&self.pool)
        .await
        .map_err(on_conflict("client"))?;
        Ok(())
    }

    pub async fn find_client(&self, id: &str) -> Result<Option<Client>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients where id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients order by created_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    pub async fn delete_client(&self, id: &str) -> Result<()> {
        let done = sqlx::query("delete from clients where id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}
