//! Declarative clients: `gatehouse apply -f clients.toml` (and `GATEHOUSE_CLIENTS_FILE` at
//! start) makes the clients the file manages match it. Each listed client is created or
//! changed to exactly what the file says; a client the file managed before and no longer
//! lists is deleted. Secrets come from environment variables or files the file names, never
//! from the file itself. Every change is checked, and every secret read, before the first one
//! is made, so a mistake changes nothing.
use super::{Actor, AdminError};
use crate::audit::{self, Event};
use crate::crypto::hash_secret;
use crate::domain::{
    Alg, Client, ClientChanges, GrantType, InvalidMetadata, validate_client_id,
    validate_client_secret,
};
use crate::store::Store;
use serde::Deserialize;

/// The marker of clients a clients file manages.
pub const MANAGED_BY_FILE: &str = "clients-file";

/// The file: a list of `[[client]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsFile {
    #[serde(default)]
    pub client: Vec<FileClient>,
}

/// One client as the file declares it, with the RFC 7591 names. Left out means the default,
/// not "keep what is stored": the file is the whole truth about its clients.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClient {
    pub client_id: String,
    pub client_name: String,
    /// `client_secret_basic` (default), `none` (a public client) or `private_key_jwt` (RFC
    /// 7523, with `jwks` or `jwks_uri`).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// The public keys of a `private_key_jwt` client, as a JWK Set (`[[client.jwks.keys]]`
    /// tables, or its JSON in a string), or the URL it publishes them at.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The environment variable holding the secret of a confidential client...
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// ...or a file holding it (its first line).
    #[serde(default)]
    pub client_secret_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Space-separated; absent allows every supported OIDC scope.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub resource_audiences: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub skip_consent: bool,
    #[serde(default)]
    pub require_mfa: bool,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    #[serde(default = "yes")]
    pub pkce_required: bool,
    #[serde(default)]
    pub refresh_token_ttl: Option<i64>,
    #[serde(default)]
    pub refresh_idle_ttl: Option<i64>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub access_token_signed_response_alg: Option<String>,
}

fn yes() -> bool {
    true
}

/// Why a file cannot be applied; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: String },
    #[error("{0}")]
    Parse(String),
    #[error("client {id}: {problem}")]
    Client { id: String, problem: String },
    #[error(transparent)]
    Admin(#[from] AdminError),
}

fn bad(id: &str, problem: impl Into<String>) -> ApplyError {
    ApplyError::Client {
        id: id.to_owned(),
        problem: problem.into(),
    }
}

/// Reads and parses a clients file.
pub fn read(path: &std::path::Path) -> Result<ClientsFile, ApplyError> {
    let text = std::fs::read_to_string(path).map_err(|e| ApplyError::Read {
        path: path.display().to_string(),
        cause: e.to_string(),
    })?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<ClientsFile, ApplyError> {
    toml::from_str(text).map_err(|e| ApplyError::Parse(e.to_string()))
}

/// Where secrets come from: the process environment and the file system in production, a
/// table in tests.
pub trait Secrets {
    fn var(&self, name: &str) -> Option<String>;
    fn file(&self, path: &std::path::Path) -> Option<String>;
}

/// The environment and files of this process.
pub struct ProcessSecrets;

impl Secrets for ProcessSecrets {
    /// Only the variables a clients file names: reading them is what the file asks for.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn file(&self, path: &std::path::Path) -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        text.lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
    }
}

/// One change the file asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Create {
        client: Client,
    },
    Update {
        client: Client,
        /// The settings that differ, as `name: old → new` lines.
        fields: Vec<String>,
        secret: bool,
    },
    Delete {
        id: String,
    },
}

impl Change {
    /// The diff line(s) `--dry-run` prints.
    pub fn describe(&self) -> String {
        match self {
            Self::Create { client } => format!("+ create {} ({})", client.id, client.name),
            Self::Update {
                client,
                fields,
                secret,
            } => {
                let mut out = format!("~ update {}", client.id);
                for f in fields {
                    out.push_str(&format!("\n    {f}"));
                }
                if *secret {
                    out.push_str("\n    client_secret: (changed)");
                }
                out
            }
            Self::Delete { id } => format!("- delete {id}"),
        }
    }
}

/// Works out what applying `file` over `stored` changes, reading each confidential client's
/// secret. Pure but for `secrets`; `now` stamps new clients.
pub fn plan(
    file: &ClientsFile,
    stored: &[Client],
    algs: &[Alg],
    secrets: &dyn Secrets,
    now: i64,
) -> Result<Vec<Change>, ApplyError> {
    let mut changes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for fc in &file.client {
        let id = fc.client_id.as_str();
        validate_client_id(id).map_err(|e| bad(id, e.to_string()))?;
        if !seen.insert(id) {
            return Err(bad(id, "listed twice"));
        }
        // Public clients and clients with keys (RFC 7523) have no secret.
        let keyed = fc.jwks.is_some() || fc.jwks_uri.is_some();
        let secretless = match fc.token_endpoint_auth_method.as_deref() {
            None | Some("client_secret_basic") | Some("client_secret_post") => false,
            Some("none") => true,
            Some("private_key_jwt") if keyed => true,
            Some("private_key_jwt") => {
                return Err(bad(id, "private_key_jwt needs jwks or jwks_uri"));
            }
            Some(other) => {
                return Err(bad(
                    id,
                    format!(
                        "token_endpoint_auth_method {other}: one of client_secret_basic, client_secret_post, private_key_jwt, none"
                    ),
                ));
            }
        };
        if keyed && fc.token_endpoint_auth_method.as_deref() != Some("private_key_jwt") {
            return Err(bad(
                id,
                "jwks and jwks_uri go with token_endpoint_auth_method = \"private_key_jwt\"",
            ));
        }
        let secret = secret_of(fc, secretless, secrets)?;
        let existing = stored.iter().find(|c| c.id == id);
        let mut desired = Client {
            id: id.to_owned(),
            created_at: existing.map_or(now, |c| c.created_at),
            grant_types: vec![GrantType::AuthorizationCode],
            managed_by: Some(MANAGED_BY_FILE.to_owned()),
            ..Client::default()
        };
        desired.secret_hash = secret.as_deref().map(hash_secret);
        changes_of(fc)?
            .apply(&mut desired, algs)
            .map_err(|e: InvalidMetadata| bad(id, e.to_string()))?;
        match existing {
            None => {
                desired.secret_set_at = secret.as_ref().map(|_| now);
                changes.push(Change::Create { client: desired });
            }
            Some(current) => {
                let fields = differences(current, &desired);
                let secret_changed = current.secret_hash != desired.secret_hash;
                if fields.is_empty() && !secret_changed {
                    continue;
                }
                desired.revision = current.revision;
                desired.secret_set_at = if secret_changed {
                    desired.secret_hash.as_ref().map(|_| now)
                } else {
                    current.secret_set_at
                };
                changes.push(Change::Update {
                    client: desired,
                    fields,
                    secret: secret_changed,
                });
            }
        }
    }
    for c in stored {
        if c.managed_by.as_deref() == Some(MANAGED_BY_FILE) && !seen.contains(c.id.as_str()) {
            changes.push(Change::Delete { id: c.id.clone() });
        }
    }
    Ok(changes)
}

fn secret_of(
    fc: &FileClient,
    secretless: bool,
    secrets: &dyn Secrets,
) -> Result<Option<String>, ApplyError> {
    let id = fc.client_id.as_str();
    let secret = match (&fc.client_secret_env, &fc.client_secret_file) {
        (Some(_), Some(_)) => {
            return Err(bad(
                id,
                "give client_secret_env or client_secret_file, not both",
            ));
        }
        (Some(var), None) => Some(
            secrets
                .var(var)
                .ok_or_else(|| bad(id, format!("the environment variable {var} is not set")))?,
        ),
        (None, Some(path)) => Some(
            secrets
                .file(path)
                .ok_or_else(|| bad(id, format!("cannot read a secret from {}", path.display())))?,
        ),
        (None, None) => None,
    };
    match (secretless, secret) {
        (true, Some(_)) => Err(bad(id, "a public client, or one with keys, has no secret")),
        (false, None) => Err(bad(
            id,
            "a confidential client needs client_secret_env or client_secret_file",
        )),
        (_, Some(s)) => {
            validate_client_secret(&s).map_err(|e| bad(id, e.to_string()))?;
            Ok(Some(s))
        }
        (true, None) => Ok(None),
    }
}

fn changes_of(fc: &FileClient) -> Result<ClientChanges, ApplyError> {
    let alg = |field: &str, v: &Option<String>| -> Result<Option<Alg>, ApplyError> {
        v.as_deref()
            .map(|s| {
                Alg::parse(s).ok_or_else(|| {
                    bad(
                        &fc.client_id,
                        format!("{field} {s}: one of RS256, ES256, EdDSA"),
                    )
                })
            })
            .transpose()
    };
    Ok(ClientChanges {
        name: Some(fc.client_name.clone()),
        redirect_uris: Some(fc.redirect_uris.clone()),
        audiences: Some(fc.audiences.clone()),
        skip_consent: Some(fc.skip_consent),
        allowed_scopes: Some(
            fc.scope
                .as_ref()
                .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        ),
        grant_types: fc.grant_types.clone(),
        post_logout_redirect_uris: Some(fc.post_logout_redirect_uris.clone()),
        allowed_origins: Some(fc.allowed_origins.clone()),
        resource_audiences: Some(fc.resource_audiences.clone()),
        refresh_token_ttl: Some(fc.refresh_token_ttl),
        refresh_idle_ttl: Some(fc.refresh_idle_ttl),
        pkce_optional: Some(!fc.pkce_required),
        require_mfa: Some(fc.require_mfa),
        require_par: Some(fc.require_pushed_authorization_requests),
        dpop_bound: Some(fc.dpop_bound_access_tokens),
        // Tables, or the JWK Set's JSON as a string.
        jwks: Some(fc.jwks.as_ref().map(|j| match j {
            serde_json::Value::String(s) => s.clone(),
            set => set.to_string(),
        })),
        jwks_uri: Some(fc.jwks_uri.clone()),
        backchannel_logout_uri: Some(fc.backchannel_logout_uri.clone()),
        backchannel_logout_session_required: Some(fc.backchannel_logout_session_required),
        id_token_signed_response_alg: Some(
            alg(
                "id_token_signed_response_alg",
                &fc.id_token_signed_response_alg,
            )?
            .unwrap_or(Alg::RS256),
        ),
        access_token_signed_response_alg: Some(
            alg(
                "access_token_signed_response_alg",
                &fc.access_token_signed_response_alg,
            )?
            .unwrap_or(Alg::RS256),
        ),
    })
}

/// The settings in which `new` differs from `old`, as `name: old → new`.
fn differences(old: &Client, new: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name}: {a} → {b}"));
        }
    };
    cmp(
        "client_name",
        format!("{:?}", old.name),
        format!("{:?}", new.name),
    );
    cmp(
        "token_endpoint_auth_method",
        old.auth_method().into(),
        new.auth_method().into(),
    );
    cmp(
        "redirect_uris",
        format!("{:?}", old.redirect_uris),
        format!("{:?}", new.redirect_uris),
    );
    cmp(
        "post_logout_redirect_uris",
        format!("{:?}", old.post_logout_redirect_uris),
        format!("{:?}", new.post_logout_redirect_uris),
    );
    let grants = |c: &Client| {
        format!(
            "{:?}",
            c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()
        )
    };
    cmp("grant_types", grants(old), grants(new));
    cmp(
        "scope",
        format!("{:?}", old.allowed_scopes),
        format!("{:?}", new.allowed_scopes),
    );
    cmp(
        "audiences",
        format!("{:?}", old.audiences),
        format!("{:?}", new.audiences),
    );
    cmp(
        "resource_audiences",
        format!("{:?}", old.resource_audiences),
        format!("{:?}", new.resource_audiences),
    );
    cmp(
        "allowed_origins",
        format!("{:?}", old.allowed_origins),
        format!("{:?}", new.allowed_origins),
    );
    cmp(
        "skip_consent",
        old.skip_consent.to_string(),
        new.skip_consent.to_string(),
    );
    cmp(
        "require_mfa",
        old.require_mfa.to_string(),
        new.require_mfa.to_string(),
    );
    cmp(
        "require_pushed_authorization_requests",
        old.require_par.to_string(),
        new.require_par.to_string(),
    );
    cmp(
        "dpop_bound_access_tokens",
        old.dpop_bound.to_string(),
        new.dpop_bound.to_string(),
    );
    cmp(
        "jwks_uri",
        format!("{:?}", old.jwks_uri),
        format!("{:?}", new.jwks_uri),
    );
    // Public keys only (private ones are refused), so the diff may show them.
    cmp(
        "jwks",
        old.jwks.clone().unwrap_or_else(|| "none".into()),
        new.jwks.clone().unwrap_or_else(|| "none".into()),
    );
    cmp(
        "backchannel_logout_uri",
        format!("{:?}", old.backchannel_logout_uri),
        format!("{:?}", new.backchannel_logout_uri),
    );
    cmp(
        "backchannel_logout_session_required",
        old.backchannel_logout_session_required.to_string(),
        new.backchannel_logout_session_required.to_string(),
    );
    cmp(
        "pkce_required",
        (!old.pkce_optional).to_string(),
        (!new.pkce_optional).to_string(),
    );
    cmp(
        "refresh_token_ttl",
        format!("{:?}", old.refresh_token_ttl),
        format!("{:?}", new.refresh_token_ttl),
    );
    cmp(
        "refresh_idle_ttl",
        format!("{:?}", old.refresh_idle_ttl),
        format!("{:?}", new.refresh_idle_ttl),
    );
    cmp(
        "id_token_signed_response_alg",
        old.id_token_signed_response_alg.to_string(),
        new.id_token_signed_response_alg.to_string(),
    );
    cmp(
        "access_token_signed_response_alg",
        old.access_token_signed_response_alg.to_string(),
        new.access_token_signed_response_alg.to_string(),
    );
    if old.managed_by != new.managed_by {
        out.push("managed by this file from now on".into());
    }
    out
}

/// Makes the planned changes, with one audit event each.
pub async fn execute(
    store: &Store,
    actor: Actor<'_>,
    changes: Vec<Change>,
) -> Result<(), ApplyError> {
    for change in changes {
        match change {
            Change::Create { client } => {
                store
                    .insert_client(&client)
                    .await
                    .map_err(AdminError::from)?;
                emit(store, actor, Event::ClientCreated, &client.id);
            }
            Change::Update {
                mut client, secret, ..
            } => {
                store
                    .update_client(&mut client)
                    .await
                    .map_err(AdminError::from)?;
                emit(store, actor, Event::ClientChanged, &client.id);
                if secret {
                    emit(store, actor, Event::ClientSecretRotated, &client.id);
                }
            }
            Change::Delete { id } => {
                store.delete_client(&id).await.map_err(AdminError::from)?;
                emit(store, actor, Event::ClientDeleted, &id);
            }
        }
    }
    Ok(())
}

fn emit(store: &Store, actor: Actor<'_>, event: Event, id: &str) {
    store
        .journal()
        .emit(event, actor.id, &audit::client(id), actor.address);
}

/// Reads `path`, plans against the store and (unless `dry_run`) applies. Returns the changes'
/// descriptions.
pub async fn apply_file(
    store: &Store,
    path: &std::path::Path,
    algs: &[Alg],
    now: i64,
    dry_run: bool,
) -> Result<Vec<String>, ApplyError> {
    let file = read(path)?;
    let stored = store.list_clients().await.map_err(AdminError::from)?;
    let changes = plan(&file, &stored, algs, &ProcessSecrets, now)?;
    let described = changes.iter().map(Change::describe).collect();
    if !dry_run {
        let actor = Actor {
            id: MANAGED_BY_FILE,
            address: None,
        };
        execute(store, actor, changes).await?;
    }
    Ok(described)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Table(HashMap<&'static str, &'static str>);

    impl Secrets for Table {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
        fn file(&self, _: &std::path::Path) -> Option<String> {
            None
        }
    }

    const FILE: &str = r#"
[[client]]
client_id = "wiki"
client_name = "Wiki"
client_secret_env = "WIKI_SECRET"
redirect_uris = ["https://wiki.example.com/callback"]
grant_types = ["authorization_code", "refresh_token"]

[[client]]
client_id = "spa"
client_name = "Dashboard"
token_endpoint_auth_method = "none"
redirect_uris = ["https://dash.example.com/cb"]
"#;

    fn secrets() -> Table {
        Table(HashMap::from([(
            "WIKI_SECRET",
            "wiki-secret-0123456789abcdef",
        )]))
    }

    fn created(changes: Vec<Change>) -> Vec<Client> {
        changes
            .into_iter()
            .map(|c| match c {
                Change::Create { client } => client,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// RFC 7523 clients from the file: keys inline or by URL, no secret, and a second plan
    /// over the result changes nothing.
    #[test]
    fn clients_with_keys_come_from_the_file() {
        let file = parse(
            r#"
[[client]]
client_id = "billing"
client_name = "Billing"
token_endpoint_auth_method = "private_key_jwt"
grant_types = ["client_credentials"]
[[client.jwks.keys]]
kty = "EC"
crv = "P-256"
x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"

[[client]]
client_id = "ledger"
client_name = "Ledger"
token_endpoint_auth_method = "private_key_jwt"
jwks_uri = "https://ledger.example.com/jwks"
grant_types = ["client_credentials"]
"#,
        )
        .unwrap();
        let first = created(plan(&file, &[], &[Alg::RS256], &secrets(), 100).unwrap());
        assert_eq!(first[0].auth_method(), "private_key_jwt");
        assert!(
            first[0]
                .jwks
                .as_deref()
                .is_some_and(|j| j.contains("P-256"))
        );
        assert_eq!(
            first[1].jwks_uri.as_deref(),
            Some("https://ledger.example.com/jwks")
        );
        assert!(first.iter().all(|c| c.secret_hash.is_none()));
        assert!(
            plan(&file, &first, &[Alg::RS256], &secrets(), 200)
                .unwrap()
                .is_empty()
        );
        for bad in [
            // Keys without the method, the method without keys, a secret beside keys.
            "[[client]]\nclient_id = \"a\"\nclient_name = \"A\"\ngrant_types = [\"client_credentials\"]\nclient_secret_env = \"WIKI_SECRET\"\njwks_uri = \"https://a.example.com/jwks\"",
            "[[client]]\nclient_id = \"a\"\nclient_name = \"A\"\ngrant_types = [\"client_credentials\"]\ntoken_endpoint_auth_method = \"private_key_jwt\"",
            "[[client]]\nclient_id = \"a\"\nclient_name = \"A\"\ngrant_types = [\"client_credentials\"]\ntoken_endpoint_auth_method = \"private_key_jwt\"\nclient_secret_env = \"WIKI_SECRET\"\njwks_uri = \"https://a.example.com/jwks\"",
        ] {
            let file = parse(bad).unwrap();
            assert!(
                plan(&file, &[], &[Alg::RS256], &secrets(), 100).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_second_plan_over_the_first_result_is_empty() {
        let file = parse(FILE).unwrap();
        let first = created(plan(&file, &[], &[Alg::RS256], &secrets(), 100).unwrap());
        assert_eq!(first.len(), 2);
        assert!(first[1].is_public() && first[0].secret_hash.is_some());
        assert!(
            plan(&file, &first, &[Alg::RS256], &secrets(), 200)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn changes_and_removals_are_planned_and_described() {
        let file = parse(FILE).unwrap();
        let mut stored = created(plan(&file, &[], &[Alg::RS256], &secrets(), 100).unwrap());
        let mut gone = stored[1].clone();
        gone.id = "old".into();
        stored.push(gone);
        let mut by_hand = stored[1].clone();
        by_hand.id = "console-made".into();
        by_hand.managed_by = None;
        stored.push(by_hand);
        stored[0].name = "Old name".into();
        let rotated = Table(HashMap::from([(
            "WIKI_SECRET",
            "a-new-wiki-secret-0123456789",
        )]));
        let changes = plan(&file, &stored, &[Alg::RS256], &rotated, 200).unwrap();
        let text: Vec<String> = changes.iter().map(Change::describe).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].starts_with("~ update wiki"));
        assert!(text[0].contains(r#"client_name: "Old name" → "Wiki""#));
        assert!(text[0].contains("client_secret: (changed)"));
        assert!(
            !text[0].contains("a-new-wiki-secret"),
            "never the secret itself"
        );
        assert_eq!(
            text[1], "- delete old",
            "clients the file never managed stay"
        );
    }

    #[test]
    fn mistakes_are_refused_before_anything_changes() {
        let missing = Table(HashMap::new());
        let err = plan(&parse(FILE).unwrap(), &[], &[Alg::RS256], &missing, 0).unwrap_err();
        assert!(err.to_string().contains("WIKI_SECRET is not set"), "{err}");
        for (text, needle) in [
            (
                "[[client]]\nclient_id = \"a b\"\nclient_name = \"X\"",
                "client_id",
            ),
            (
                "[[client]]\nclient_id = \"x\"\nclient_name = \"X\"\ncolour = 1",
                "colour",
            ),
            (
                "[[client]]\nclient_id = \"x\"\nclient_name = \"X\"\ntoken_endpoint_auth_method = \"none\"\nredirect_uris = [\"http://a.example/cb\"]",
                "redirect_uris",
            ),
            (
                "[[client]]\nclient_id = \"x\"\nclient_name = \"X\"\ntoken_endpoint_auth_method = \"none\"\nclient_secret_env = \"WIKI_SECRET\"\nredirect_uris = [\"https://a.example/cb\"]",
                "no secret",
            ),
            (
                "[[client]]\nclient_id = \"x\"\nclient_name = \"X\"\nredirect_uris = [\"https://a.example/cb\"]",
                "needs client_secret_env",
            ),
        ] {
            let err = parse(text)
                .and_then(|f| plan(&f, &[], &[Alg::RS256], &secrets(), 0))
                .unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        let twice = format!(
            "{FILE}\n[[client]]\nclient_id = \"spa\"\nclient_name = \"Again\"\ntoken_endpoint_auth_method = \"none\"\nredirect_uris = [\"https://x.example/cb\"]"
        );
        let err = plan(&parse(&twice).unwrap(), &[], &[Alg::RS256], &secrets(), 0).unwrap_err();
        assert!(err.to_string().contains("listed twice"));
    }
}
