//! Registering, changing and removing OAuth clients.
use super::{Actor, AdminError};
use crate::audit::{self, Event};
use crate::crypto::{hash_secret, random_id, random_token};
use crate::domain::{
    Alg, Client, ClientChanges, GrantType, validate_client_id, validate_client_secret,
};
use crate::store::Store;

/// A client to register. Without `client_id` one is generated; without `client_secret` a
/// confidential client gets a generated one (shown once).
#[derive(Clone, Debug, Default)]
pub struct NewClient {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub public: bool,
    pub changes: ClientChanges,
}

/// A secret to hand over exactly once; its `Debug` hides it.
pub struct OnceSecret(pub String);

impl std::fmt::Debug for OnceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnceSecret(..)")
    }
}

pub async fn create(
    store: &Store,
    algs: &[Alg],
    now: i64,
    actor: Actor<'_>,
    new: NewClient,
) -> Result<(Client, Option<OnceSecret>), AdminError> {
    let id = match new.client_id {
        Some(id) => {
            validate_client_id(&id)?;
            id
        }
        None => random_id(),
    };
    if new.public && new.client_secret.is_some() {
        return Err(crate::domain::InvalidMetadata {
            field: "client_secret",
            message: "a public client has no secret".into(),
        }
        .into());
    }
    if let Some(s) = &new.client_secret {
        validate_client_secret(s)?;
    }
    // A client registered with keys authenticates with them (RFC 7523): it gets no secret.
    let keyed =
        matches!(new.changes.jwks, Some(Some(_))) || matches!(new.changes.jwks_uri, Some(Some(_)));
    if keyed && (new.public || new.client_secret.is_some()) {
        return Err(crate::domain::InvalidMetadata {
            field: "token_endpoint_auth_method",
            message: "a client with keys has no secret and is not public".into(),
        }
        .into());
    }
    let secret = (!new.public && !keyed).then(|| new.client_secret.unwrap_or_else(random_token));
    let mut client = Client {
        id,
        secret_hash: secret.as_deref().map(hash_secret),
        secret_set_at: secret.as_ref().map(|_| now),
        grant_types: vec![GrantType::AuthorizationCode],
        created_at: now,
        ..Client::default()
    };
    new.changes.apply(&mut client, algs)?;
    store.insert_client(&client).await.map_err(|e| match e {
        crate::store::Error::Conflict(_) => {
            AdminError::Conflict(format!("a client {} already exists", client.id))
        }
        e => e.into(),
    })?;
    store.journal().emit(
        Event::ClientCreated,
        actor.id,
        &audit::client(&client.id),
        actor.address,
    );
    Ok((client, secret.map(OnceSecret)))
}

/// The stored client, if it is still at `revision` (`None`: whatever it is now).
async fn at_revision(store: &Store, id: &str, revision: Option<i64>) -> Result<Client, AdminError> {
    let client = store
        .find_client_fresh(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    if revision.is_some_and(|r| r != client.revision) {
        return Err(AdminError::Stale);
    }
    Ok(client)
}

/// Applies `changes` if the client is still at `revision` (`None`: whatever it is now).
pub async fn update(
    store: &Store,
    algs: &[Alg],
    actor: Actor<'_>,
    id: &str,
    revision: Option<i64>,
    changes: ClientChanges,
) -> Result<Client, AdminError> {
    let mut client = at_revision(store, id, revision).await?;
    changes.apply(&mut client, algs)?;
    store.update_client(&mut client).await?;
    store.journal().emit(
        Event::ClientChanged,
        actor.id,
        &audit::client(id),
        actor.address,
    );
    Ok(client)
}

/// Issues a new secret (or sets the chosen one); the old one stops working at once.
pub async fn rotate_secret(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    id: &str,
    revision: Option<i64>,
    chosen: Option<String>,
) -> Result<(Client, OnceSecret), AdminError> {
    let mut client = at_revision(store, id, revision).await?;
    if client.is_public() {
        return Err(AdminError::Conflict(format!(
            "client {id} is public: it has no secret"
        )));
    }
    if let Some(s) = &chosen {
        validate_client_secret(s)?;
    }
    let secret = chosen.unwrap_or_else(random_token);
    client.secret_hash = Some(hash_secret(&secret));
    client.secret_set_at = Some(now);
    store.update_client(&mut client).await?;
    store.journal().emit(
        Event::ClientSecretRotated,
        actor.id,
        &audit::client(id),
        actor.address,
    );
    Ok((client, OnceSecret(secret)))
}

pub async fn delete(
    store: &Store,
    actor: Actor<'_>,
    id: &str,
    revision: Option<i64>,
) -> Result<(), AdminError> {
    // One statement: a change landing between a check and the deletion cannot be lost.
    store.delete_client_at(id, revision).await?;
    store.journal().emit(
        Event::ClientDeleted,
        actor.id,
        &audit::client(id),
        actor.address,
    );
    Ok(())
}
