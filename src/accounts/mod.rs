//! Users and passwords: argon2id on the blocking pool behind a semaphore, the same work for
//! unknown usernames, and one generic failure. Imports `store`, `domain`, `crypto`.
pub mod password;
pub mod throttle;

use crate::crypto::random_id;
use crate::domain::{User, validate_username};
use crate::store::{self, Store};
use password::Hasher;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// One message for unknown user, wrong password and disabled account.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("{0}")]
    Invalid(String),
    #[error("username is taken")]
    UsernameTaken,
    #[error("no such user")]
    NotFound,
    #[error("store: {0}")]
    Store(store::Error),
    #[error("password hashing failed")]
    Hash,
    /// Too many recent failures for this username or address.
    #[error("too many sign-in attempts")]
    Throttled { retry_after: i64 },
}

impl From<store::Error> for AccountError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Conflict(_) => Self::UsernameTaken,
            store::Error::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

/// Checks a username and password. Disabled users fail like wrong passwords.
pub async fn authenticate(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
) -> Result<User, AccountError> {
    let found = store.find_user_credentials(username).await?;
    let stored_hash = found.as_ref().map(|(_, h)| h.clone());
    let outcome = hasher.verify(password, stored_hash).await?;
    let Some((user, _)) = found else {
        return Err(AccountError::InvalidCredentials);
    };
    if !outcome.valid || user.disabled {
        return Err(AccountError::InvalidCredentials);
    }
    if let Some(upgraded) = outcome.rehashed {
        // Parameters were weaker than today's: store the stronger hash (best effort).
        if let Err(e) = store.update_password_hash(&user.id, &upgraded).await {
            tracing::warn!(error = %e, "could not upgrade password hash");
        } else {
            tracing::info!(user_id = %user.id, "upgraded password hash parameters");
        }
    }
    Ok(user)
}

/// `authenticate` behind the back-off of `throttle`, keyed by username and client address.
/// Unknown usernames are throttled like known ones, so the throttle reveals nothing either.
pub async fn authenticate_throttled(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
    address: &str,
    now: i64,
) -> Result<User, AccountError> {
    let user_key = throttle::user_key(username);
    let address_key = throttle::address_key(address);
    let blocked_until = store
        .throttle_blocked_until(&[&user_key, &address_key])
        .await?;
    if blocked_until > now {
        return Err(AccountError::Throttled {
            retry_after: blocked_until - now,
        });
    }
    match authenticate(store, hasher, username, password).await {
        Ok(user) => {
            store.clear_login_failures(&user_key).await?;
            Ok(user)
        }
        Err(AccountError::InvalidCredentials) => {
            for (key, free) in [
                (&user_key, throttle::FREE_PER_USER),
                (&address_key, throttle::FREE_PER_ADDRESS),
            ] {
                let failures = store
                    .record_login_failure(key, now, now - throttle::FORGET_AFTER)
                    .await?;
                let wait = throttle::backoff(failures, free);
                if wait > 0 {
                    store.block_login(key, now + wait).await?;
                    tracing::warn!(failures, wait, "sign-in back-off engaged");
                }
            }
            Err(AccountError::InvalidCredentials)
        }
        Err(e) => Err(e),
    }
}

/// Input for a new user.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
}

pub async fn create_user(
    store: &Store,
    hasher: &Hasher,
    new: NewUser<'_>,
    password: &str,
    now: i64,
) -> Result<User, AccountError> {
    validate_username(new.username).map_err(|e| AccountError::Invalid(e.into()))?;
    password::check_strength(password).map_err(|e| AccountError::Invalid(e.into()))?;
    if let Some(email) = new.email
        && (!email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace))
    {
        return Err(AccountError::Invalid("email address is not valid".into()));
    }
    let hash = hasher.hash(password).await?;
    let user = User {
        id: random_id(),
        username: new.username.to_owned(),
        email: new.email.map(str::to_owned),
        name: new.name.map(str::to_owned),
        disabled: false,
        created_at: now,
    };
    store.insert_user(&user, &hash).await?;
    Ok(user)
}

pub async fn set_password(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
) -> Result<(), AccountError> {
    password::check_strength(password).map_err(|e| AccountError::Invalid(e.into()))?;
    let (user, _) = store
        .find_user_credentials(username)
        .await?
        .ok_or(AccountError::NotFound)?;
    let hash = hasher.hash(password).await?;
    store.update_password_hash(&user.id, &hash).await?;
    Ok(())
}
