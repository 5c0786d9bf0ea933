use super::{Error, Result, Store, flag, json_list, on_conflict, parse_list, placeholders};
use crate::domain::{Alg, Client};
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, name, secret_hash, redirect_uris, audiences, skip_consent, created_at, \
    allowed_scopes, grant_types, post_logout_redirect_uris, allowed_origins, refresh_token_ttl, refresh_idle_ttl, \
    resource_audiences, pkce_optional, require_mfa, require_par, dpop_bound, jwks, jwks_uri, backchannel_logout_uri, backchannel_logout_session_required, \
    id_token_signed_response_alg, \
    access_token_signed_response_alg, revision, secret_set_at, managed_by, registration_token_hash, last_used_at";

fn alg_column(row: &AnyRow, column: &str) -> Result<Alg> {
    Alg::parse(&row.try_get::<String, _>(column)?)
        .ok_or_else(|| Error::Corrupt(format!("unknown {column}")))
}

fn client_from_row(row: &AnyRow) -> Result<Client> {
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        redirect_uris: parse_list(&row.try_get::<String, _>("redirect_uris")?)?,
        audiences: parse_list(&row.try_get::<String, _>("audiences")?)?,
        skip_consent: row.try_get::<i64, _>("skip_consent")? != 0,
        created_at: row.try_get("created_at")?,
        allowed_scopes: row
            .try_get::<Option<String>, _>("allowed_scopes")?
            .map(|s| parse_list(&s))
            .transpose()?,
        grant_types: serde_json::from_str(&row.try_get::<String, _>("grant_types")?)
            .map_err(|e| Error::Corrupt(e.to_string()))?,
        post_logout_redirect_uris: parse_list(
            &row.try_get::<String, _>("post_logout_redirect_uris")?,
        )?,
        allowed_origins: parse_list(&row.try_get::<String, _>("allowed_origins")?)?,
        refresh_token_ttl: row.try_get("refresh_token_ttl")?,
        refresh_idle_ttl: row.try_get("refresh_idle_ttl")?,
        resource_audiences: parse_list(&row.try_get::<String, _>("resource_audiences")?)?,
        pkce_optional: row.try_get::<i64, _>("pkce_optional")? != 0,
        require_mfa: row.try_get::<i64, _>("require_mfa")? != 0,
        require_par: row.try_get::<i64, _>("require_par")? != 0,
        dpop_bound: row.try_get::<i64, _>("dpop_bound")? != 0,
        jwks: row.try_get("jwks")?,
        jwks_uri: row.try_get("jwks_uri")?,
        backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
        backchannel_logout_session_required: row
            .try_get::<i64, _>("backchannel_logout_session_required")?
            != 0,
        id_token_signed_response_alg: alg_column(row, "id_token_signed_response_alg")?,
        access_token_signed_response_alg: alg_column(row, "access_token_signed_response_alg")?,
        revision: row.try_get("revision")?,
        secret_set_at: row.try_get("secret_set_at")?,
        managed_by: row.try_get("managed_by")?,
        registration_token_hash: row.try_get("registration_token_hash")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

/// The settings an update replaces, in the order `bind_settings` binds them; an insert writes
/// them after the id, creation time, revision and last use.
const SETTINGS: [&str; 25] = [
    "name",
    "secret_hash",
    "redirect_uris",
    "audiences",
    "skip_consent",
    "allowed_scopes",
    "grant_types",
    "post_logout_redirect_uris",
    "allowed_origins",
    "refresh_token_ttl",
    "refresh_idle_ttl",
    "resource_audiences",
    "pkce_optional",
    "require_mfa",
    "require_par",
    "dpop_bound",
    "jwks",
    "jwks_uri",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "id_token_signed_response_alg",
    "access_token_signed_response_alg",
    "secret_set_at",
    "managed_by",
    "registration_token_hash",
];

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds `SETTINGS` of `c`, in order.
fn bind_settings<'q>(q: AnyQuery<'q>, c: &'q Client) -> AnyQuery<'q> {
    q.bind(&c.name)
        .bind(&c.secret_hash)
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.audiences))
        .bind(flag(c.skip_consent))
        .bind(c.allowed_scopes.as_deref().map(json_list))
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_else(|_| "[]".into()))
        .bind(json_list(&c.post_logout_redirect_uris))
        .bind(json_list(&c.allowed_origins))
        .bind(c.refresh_token_ttl)
        .bind(c.refresh_idle_ttl)
        .bind(json_list(&c.resource_audiences))
        .bind(flag(c.pkce_optional))
        .bind(flag(c.require_mfa))
        .bind(flag(c.require_par))
        .bind(flag(c.dpop_bound))
        .bind(&c.jwks)
        .bind(&c.jwks_uri)
        .bind(&c.backchannel_logout_uri)
        .bind(flag(c.backchannel_logout_session_required))
        .bind(c.id_token_signed_response_alg.as_str())
        .bind(c.access_token_signed_response_alg.as_str())
        .bind(c.secret_set_at)
        .bind(&c.managed_by)
        .bind(&c.registration_token_hash)
}

/// Inserts a client on `db` (the writer pool or a transaction).
async fn insert_client_on<'e, E>(db: E, c: &Client) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "insert into clients (id, created_at, revision, last_used_at, {}) values ({})",
        SETTINGS.join(", "),
        placeholders(1, 4 + SETTINGS.len())
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&c.id)
        .bind(c.created_at)
        .bind(c.revision)
        .bind(c.last_used_at);
    bind_settings(q, c)
        .execute(db)
        .await
        .map_err(on_conflict("client"))?;
    Ok(())
}

/// The conflict of a change made from a revision that is no longer the stored one (a client's
/// or a user's).
pub const CHANGED: &str = "changed since it was read";

impl Store {
    /// Caches clients by id for `ttl` seconds of `now`'s clock (the server's key-refresh
    /// interval, the bound on how late another process's change may show). The token,
    /// introspection and authorization endpoints look a client up on every request.
    pub fn with_client_cache(
        mut self,
        ttl: i64,
        now: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        self.client_cache = Some(std::sync::Arc::new(super::cache::TimedCache::new(ttl, now)));
        self
    }

    pub async fn insert_client(&self, c: &Client) -> Result<()> {
        insert_client_on(&*self.writer(), c).await?;
        self.clients_changed();
        Ok(())
    }

    /// Replaces every field but the id and creation time, if the stored revision is still
    /// `c.revision` (else `Conflict`: someone changed it since it was read), and bumps it in
    /// the store and in `c`.
    pub async fn update_client(&self, c: &mut Client) -> Result<()> {
        let set: Vec<String> = SETTINGS
            .iter()
            .zip(1..)
            .map(|(col, i)| format!("{col} = ${i}"))
            .collect();
        let n = SETTINGS.len();
        let sql = format!(
            "update clients set {}, revision = revision + 1 where id = ${} and revision = ${}",
            set.join(", "),
            n + 1,
            n + 2
        );
        let done = bind_settings(sqlx::query(sqlx::AssertSqlSafe(sql)), c)
            .bind(&c.id)
            .bind(c.revision)
            .execute(&*self.writer())
            .await?;
        self.clients_changed();
        if done.rows_affected() == 0 {
            return Err(match self.find_client_fresh(&c.id).await? {
                Some(_) => Error::Conflict(CHANGED),
                None => Error::NotFound,
            });
        }
        c.revision += 1;
        Ok(())
    }

    /// The stored client, past the cache: what an admin edits.
    pub async fn find_client_fresh(&self, id: &str) -> Result<Option<Client>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients where id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn find_client(&self, id: &str) -> Result<Option<Client>> {
        // Read before the query: a change racing it leaves the entry already stale.
        let version = self.clients_version();
        if let Some(client) = self.client_cache.as_ref().and_then(|c| c.get(id, version)) {
            return Ok(Some(client));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients where id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let client = row.as_ref().map(client_from_row).transpose()?;
        if let (Some(cache), Some(c)) = (&self.client_cache, &client) {
            cache.put(id, c.clone(), version);
        }
        Ok(client)
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients order by created_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Records that a client got tokens (and through which redirect URI, for a code), at most
    /// once an hour per client, URI and process: the hot path pays a map lookup, and a write
    /// only when the hour has turned. Not a settings change, so the revision and the caches
    /// stay as they are.
    pub async fn touch_client(&self, id: &str, redirect_uri: Option<&str>, now: i64) -> Result<()> {
        if self.due(id, now) {
            sqlx::query("update clients set last_used_at = $1 where id = $2")
                .bind(now)
                .bind(id)
                .execute(self.writer_for_uncached())
                .await?;
        }
        if let Some(uri) = redirect_uri
            && self.due(&format!("{id}\n{uri}"), now)
        {
            sqlx::query(
                "insert into client_redirect_uses (client_id, redirect_uri, last_used_at) \
                 values ($1, $2, $3) on conflict (client_id, redirect_uri) \
                 do update set last_used_at = excluded.last_used_at",
            )
            .bind(id)
            .bind(uri)
            .bind(now)
            .execute(self.writer_for_uncached())
            .await?;
        }
        Ok(())
    }

    /// Whether `key` was last recorded an hour or more ago (and marks it recorded now).
    fn due(&self, key: &str, now: i64) -> bool {
        const EVERY: i64 = 3600;
        let Ok(mut touched) = self.touched.lock() else {
            return false;
        };
        if touched.get(key).is_some_and(|at| now - at < EVERY) {
            return false;
        }
        if touched.len() >= super::cache::CAPACITY {
            touched.clear();
        }
        touched.insert(key.to_owned(), now);
        true
    }

    /// When each of a client's redirect URIs last brought back a redeemed code.
    pub async fn redirect_uses(&self, client_id: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "select redirect_uri, last_used_at from client_redirect_uses where client_id = $1",
        )
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records an initial access token for dynamic registration (its hash).
    pub async fn insert_registration_token(
        &self,
        token_hash: &str,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "insert into registration_tokens (token_hash, created_by, created_at, expires_at) \
             values ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    /// Clients by id after `after`, whose id or name contains `q` (ignoring ASCII case).
    pub async fn search_clients(
        &self,
        q: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Client>> {
        let pattern = q.map(|q| format!("%{}%", like_escape(&q.to_lowercase())));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from clients where ($1 is null or id > $1) \
             and ($2 is null or lower(id) like $2 escape '\\' or lower(name) like $2 escape '\\') \
             order by id limit $3"
        )))
        .bind(after)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    pub async fn delete_client(&self, id: &str) -> Result<()> {
        self.delete_client_at(id, None).await
    }

    /// Deletes a client if it is still at `revision` (`None`: whatever it is now); `Conflict`
    /// when someone changed it since it was read.
    pub async fn delete_client_at(&self, id: &str, revision: Option<i64>) -> Result<()> {
        let done =
            sqlx::query("delete from clients where id = $1 and ($2 is null or revision = $2)")
                .bind(id)
                .bind(revision)
                .execute(&*self.writer())
                .await?;
        self.clients_changed();
        if done.rows_affected() == 0 {
            return Err(match (revision, self.find_client_fresh(id).await?) {
                (Some(_), Some(_)) => Error::Conflict(CHANGED),
                _ => Error::NotFound,
            });
        }
        Ok(())
    }

    /// RFC 7591: uses the initial access token and stores the registered client in one
    /// transaction, so a failed insert leaves the token unused. False if the token is not
    /// (or no longer) usable.
    pub async fn register_client(&self, token_hash: &str, c: &Client, now: i64) -> Result<bool> {
        let writing = self.writer();
        let mut tx = writing.begin().await?;
        let used = sqlx::query(
            "update registration_tokens set used_at = $1 \
             where token_hash = $2 and used_at is null and expires_at >= $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(false);
        }
        insert_client_on(&mut *tx, c).await?;
        tx.commit().await?;
        self.clients_changed();
        Ok(true)
    }

    /// Whether an initial access token is usable now (it is used by `register_client`).
    pub async fn registration_token_usable(&self, token_hash: &str, now: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from registration_tokens \
             where token_hash = $1 and used_at is null and expires_at >= $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// RFC 7592 §3: replaces a registered client's registration access token (by its hash).
    pub async fn set_registration_token(&self, id: &str, token_hash: &str) -> Result<()> {
        sqlx::query("update clients set registration_token_hash = $1 where id = $2")
            .bind(token_hash)
            .bind(id)
            .execute(&*self.writer())
            .await?;
        self.clients_changed();
        Ok(())
    }
}

/// `s` as a literal inside a LIKE pattern whose escape character is a backslash.
pub(super) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
