//! Users and passwords: argon2id on the blocking pool behind a semaphore, the same work for
//! unknown usernames, and one generic failure. Imports `store`, `domain`, `crypto`.
pub mod device;
pub mod mfa;
pub mod passkey;
pub mod password;
pub mod recovery;
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
    /// A new password the policy refuses.
    #[error("{0}")]
    Policy(password::PolicyError),
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

/// A successful sign-in: the user and the password hash now stored for them (device cookies
/// are bound to it).
#[derive(Debug)]
pub struct Authenticated {
    pub user: User,
    pub password_hash: String,
}

/// Checks a username and password. Disabled users fail like wrong passwords.
pub async fn authenticate(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
) -> Result<Authenticated, AccountError> {
    let found = store.find_user_credentials(username).await?;
    let stored_hash = found.as_ref().map(|(_, h)| h.clone());
    let outcome = hasher.verify(password, stored_hash).await?;
    let Some((user, mut password_hash)) = found else {
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
            password_hash = upgraded;
        }
    }
    Ok(Authenticated {
        user,
        password_hash,
    })
}

/// Who is trying to sign in, for the back-off: the client address and, when the browser
/// carries a valid device cookie for this username, its device id.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    pub address: &'a str,
    pub device: Option<&'a str>,
}

/// `authenticate` behind the back-off of `throttle`. A known device is counted on its own key
/// only; any other browser on the username's key and its address's. Each attempt is counted
/// before its password is checked, in one atomic statement, so parallel guesses cannot slip
/// past the allowance (Keycloak #31726). Unknown usernames are throttled like known ones, so
/// the throttle reveals nothing either.
pub async fn authenticate_throttled(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
    attempt: Attempt<'_>,
    now: i64,
) -> Result<Authenticated, AccountError> {
    let forget_before = now - throttle::FORGET_AFTER;
    let keys: Vec<(String, i64)> = match attempt.device {
        Some(device) => vec![(
            throttle::device_key(username, device),
            throttle::FREE_PER_DEVICE,
        )],
        None => vec![
            (throttle::user_key(username), throttle::FREE_PER_USER),
            (
                throttle::address_key(attempt.address),
                throttle::FREE_PER_ADDRESS,
            ),
        ],
    };
    let mut prior = Vec::with_capacity(keys.len());
    for (key, _) in &keys {
        let (failures, blocked_until) = store.login_throttle_state(key, forget_before).await?;
        if blocked_until > now {
            return Err(AccountError::Throttled {
                retry_after: blocked_until - now,
            });
        }
        prior.push((failures, blocked_until));
    }
    let mut ranks = Vec::with_capacity(keys.len());
    for ((key, free), (failures, blocked_until)) in keys.iter().zip(&prior) {
        let rank = store.record_login_failure(key, now, forget_before).await?;
        ranks.push(rank);
        // Beyond the allowance only the first attempt after an expired wait may proceed; any
        // other attempt there raced one still being checked.
        let first_after_wait = *blocked_until > 0 && rank == failures + 1;
        if rank > *free && !first_after_wait {
            let wait = throttle::backoff(rank, *free);
            store.block_login(key, now + wait).await?;
            return Err(AccountError::Throttled { retry_after: wait });
        }
    }
    match authenticate(store, hasher, username, password).await {
        Ok(signed_in) => {
            // The username's (or device's) counter starts again; the address keeps the rest
            // of its failures, which may be someone else's.
            store.clear_login_failures(&keys[0].0).await?;
            for (key, _) in keys.iter().skip(1) {
                store.forgive_login_attempt(key).await?;
            }
            Ok(signed_in)
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

/// Clears every sign-in back-off for a username: the unknown-device counter and all of its
/// devices' counters. Returns how many counters were removed.
pub async fn unlock(store: &Store, username: &str) -> Result<u64, AccountError> {
    let cleared = store
        .clear_login_failures_for(
            &throttle::user_key(username),
            &throttle::device_prefix(username),
        )
        .await?;
    // And the second-factor code counter.
    if let Some((user, _)) = store.find_user_credentials(username).await? {
        store
            .clear_login_failures(&throttle::factor_key(&user.id))
            .await?;
    }
    Ok(cleared)
}

/// Input for a new user.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    /// The address is known to be theirs (an invitation they followed, or an admin's word).
    pub email_verified: bool,
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
    if let Some(email) = new.email {
        check_email(email)?;
    }
    hasher
        .policy()
        .check(password, new.username, new.email)
        .map_err(AccountError::Policy)?;
    let hash = hasher.hash(password).await?;
    let user = User {
        id: random_id(),
        username: new.username.to_owned(),
        email: new.email.map(str::to_owned),
        email_verified: new.email_verified && new.email.is_some(),
        name: new.name.map(str::to_owned),
        disabled: false,
        created_at: now,
        profile: Default::default(),
        updated_at: now,
        revision: 0,
    };
    store.insert_user(&user, &hash).await?;
    Ok(user)
}

pub(crate) fn check_email(email: &str) -> Result<(), AccountError> {
    if !crate::mail::is_address(email) {
        return Err(AccountError::Invalid("email address is not valid".into()));
    }
    Ok(())
}

/// Changes to a user's name, email and profile claims; `None` leaves a value as it is, an
/// empty string clears it.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub fields: Vec<(crate::domain::profile::Field, String)>,
    pub phone_number_verified: Option<bool>,
    /// An admin vouches for the address (or withdraws that); a new address is unverified.
    pub email_verified: Option<bool>,
}

/// Applies `changes` after checking every value; nothing is stored unless all are valid.
pub async fn update_profile(
    store: &Store,
    user: &User,
    changes: ProfileChanges,
    now: i64,
) -> Result<User, AccountError> {
    use crate::domain::profile::{Field, check};
    let mut updated = user.clone();
    if let Some(name) = &changes.name {
        updated.name = check(Field::Name, name).map_err(AccountError::Invalid)?;
    }
    if let Some(email) = &changes.email {
        let email = email.trim();
        let new = if email.is_empty() {
            None
        } else {
            check_email(email)?;
            Some(email.to_owned())
        };
        if new != updated.email {
            updated.email_verified = false;
        }
        updated.email = new;
    }
    if let Some(v) = changes.email_verified {
        updated.email_verified = v && updated.email.is_some();
    }
    for (field, value) in &changes.fields {
        updated
            .profile
            .set(*field, value)
            .map_err(AccountError::Invalid)?;
    }
    if let Some(v) = changes.phone_number_verified {
        updated.profile.phone_number_verified = v && updated.profile.phone_number.is_some();
    }
    updated.updated_at = now;
    store.update_user_profile(&updated, now).await?;
    updated.revision += 1;
    if updated.email != user.email {
        // A link sent to the old address must neither verify the new one nor reset the
        // password through a mailbox the account has left.
        for purpose in [recovery::Purpose::Verify, recovery::Purpose::Reset] {
            store
                .delete_account_links(&user.id, purpose.as_str())
                .await?;
        }
    }
    Ok(updated)
}

pub async fn set_password(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: &str,
    now: i64,
) -> Result<(), AccountError> {
    let (user, _) = store
        .find_user_credentials(username)
        .await?
        .ok_or(AccountError::NotFound)?;
    hasher
        .policy()
        .check(password, &user.username, user.email.as_deref())
        .map_err(AccountError::Policy)?;
    let hash = hasher.hash(password).await?;
    store.update_password_hash(&user.id, &hash).await?;
    // SECURITY.md: a password change revokes all of the user's refresh tokens, and a reset
    // link mailed before it no longer works.
    store.revoke_user_grants(&user.id, now).await?;
    store
        .delete_account_links(&user.id, recovery::Purpose::Reset.as_str())
        .await?;
    Ok(())
}
