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
/// Each attempt is counted before its password is checked, in one atomic statement, so parallel
/// guesses cannot slip past the allowance (Keycloak #31726). Unknown usernames are throttled like
/// known ones, so the throttle reveals nothing either.
pub async fn authenticate_throttled(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
    address: &str,
    now: i64,
) -> Result<User, AccountError> {
    let forget_before = now - throttle::FORGET_AFTER;
    let keys = [
        (throttle::user_key(username), throttle::FREE_PER_USER),
        (throttle::address_key(address), throttle::FREE_PER_ADDRESS),
    ];
    let mut prior = [(0i64, 0i64); 2];
    for (i, (key, _)) in keys.iter().enumerate() {
        let (failures, blocked_until) = store.login_throttle_state(key, forget_before).await?;
        if blocked_until > now {
            return Err(AccountError::Throttled {
                retry_after: blocked_until - now,
            });
        }
        prior[i] = (failures, blocked_until);
    }
    let mut ranks = [0i64; 2];
    for (i, (key, free)) in keys.iter().enumerate() {
        ranks[i] = store.record_login_failure(key, now, forget_before).await?;
        // Beyond the allowance only the first attempt after an expired wait may proceed; any
        // other attempt there raced one still being checked.
        let (failures, blocked_until) = prior[i];
        let first_after_wait = blocked_until > 0 && ranks[i] == failures + 1;
        if ranks[i] > *free && !first_after_wait {
            let wait = throttle::backoff(ranks[i], *free);
            store.block_login(key, now + wait).await?;
            return Err(AccountError::Throttled { retry_after: wait });
        }
    }
    match authenticate(store, hasher, username, password).await {
        Ok(user) => {
            store.clear_login_failures(&keys[0].0).await?;
            store.forgive_login_attempt(&keys[1].0).await?;
            Ok(user)
        }
        Err(AccountError::InvalidCredentials) => {
            for ((key, free), rank) in keys.iter().zip(ranks) {
                let wait = throttle::backoff(rank, *free);
                if wait > 0 {
                    store.block_login(key, now + wait).await?;
                    tracing::warn!(failures = rank, wait, "sign-in back-off engaged");
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
    now: i64,
) -> Result<(), AccountError> {
    password::check_strength(password).map_err(|e| AccountError::Invalid(e.into()))?;
    let (user, _) = store
        .find_user_credentials(username)
        .await?
        .ok_or(AccountError::NotFound)?;
    let hash = hasher.hash(password).await?;
    store.update_password_hash(&user.id, &hash).await?;
    // SECURITY.md: a password change revokes all of the user's refresh tokens.
    store.revoke_user_grants(&user.id, now).await?;
    Ok(())
}
