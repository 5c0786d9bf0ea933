//! Users: create, change, disable, passwords, back-off, second factors, sessions, the admin
//! role, consents and grants.
use super::{Actor, AdminError};
use crate::accounts::password::Hasher;
use crate::accounts::recovery::{self, Outbound};
use crate::accounts::{self, NewUser, ProfileChanges};
use crate::audit::{self, Event};
use crate::domain::{User, validate_username};
use crate::store::Store;

fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::InvalidField {
        field,
        message: message.into(),
    }
}

fn emit(store: &Store, event: Event, actor: Actor<'_>, user_id: &str) {
    store
        .journal()
        .emit(event, actor.id, &audit::user(user_id), actor.address);
}

/// Mails the user a link to verify their address when it is new and unverified. The change
/// itself is already stored: a queue failure is logged, not returned.
async fn verify_address(
    store: &Store,
    out: Option<Outbound<'_>>,
    user: &User,
    actor: Actor<'_>,
    now: i64,
) {
    let Some(out) = out else { return };
    if let Err(e) = recovery::send_verification(store, out, user, actor.id, now).await {
        tracing::warn!(user_id = %user.id, error = %e, "verification link not queued");
    }
}

async fn find(store: &Store, id: &str) -> Result<User, AdminError> {
    store.find_user(id).await?.ok_or(AdminError::NotFound)
}

/// A new account. The password is checked and hashed here; it is never stored or logged.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub password: &'a str,
    pub admin: bool,
    /// The admin vouches that the address is the person's.
    pub email_verified: bool,
}

/// Creates an account; with mail on, an unverified address is sent its verification link.
pub async fn create(
    store: &Store,
    hasher: &Hasher,
    out: Option<Outbound<'_>>,
    now: i64,
    actor: Actor<'_>,
    new: NewAccount<'_>,
) -> Result<User, AdminError> {
    validate_username(new.username).map_err(|m| invalid("username", m))?;
    let user = accounts::create_user(
        store,
        hasher,
        NewUser {
            username: new.username,
            email: new.email,
            email_verified: new.email_verified,
            name: new.name,
        },
        new.password,
        now,
    )
    .await
    .map_err(|e| match e {
        accounts::AccountError::Invalid(m) => invalid("email", m),
        e => e.into(),
    })?;
    emit(store, Event::UserCreated, actor, &user.id);
    if new.admin {
        store.set_user_admin(&user.id, true).await?;
        emit(store, Event::AdminGranted, actor, &user.id);
    }
    verify_address(store, out, &user, actor, now).await;
    Ok(user)
}

/// Applies profile changes if the user is still at `revision` (`None`: whatever it is now).
/// A new, unverified address is sent its verification link when mail is on.
pub async fn update_profile(
    store: &Store,
    out: Option<Outbound<'_>>,
    now: i64,
    actor: Actor<'_>,
    id: &str,
    revision: Option<i64>,
    changes: ProfileChanges,
) -> Result<User, AdminError> {
    let user = find(store, id).await?;
    if revision.is_some_and(|r| r != user.revision) {
        return Err(AdminError::Stale);
    }
    let updated = accounts::update_profile(store, &user, changes, now).await?;
    emit(store, Event::UserChanged, actor, id);
    if updated.email != user.email {
        verify_address(store, out, &updated, actor, now).await;
    }
    Ok(updated)
}

/// Mails `email` an invitation to create an account (needs mail).
pub async fn invite(
    store: &Store,
    out: Outbound<'_>,
    now: i64,
    actor: Actor<'_>,
    email: &str,
) -> Result<(), AdminError> {
    recovery::invite(store, out, email, actor.id, now)
        .await
        .map_err(|e| match e {
            recovery::LinkError::Account(accounts::AccountError::Invalid(m)) => invalid("email", m),
            recovery::LinkError::Account(e) => e.into(),
            e => invalid("email", e.to_string()),
        })
}

/// Disabling also ends the user's sessions; their tokens stop working at once (a token's
/// standing includes an enabled user).
pub async fn set_disabled(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    id: &str,
    disabled: bool,
) -> Result<(), AdminError> {
    store.set_user_disabled_by_id(id, disabled).await?;
    if disabled {
        store.end_user_sessions(id, None, now).await?;
        emit(store, Event::UserDisabled, actor, id);
    } else {
        emit(store, Event::UserEnabled, actor, id);
    }
    Ok(())
}

/// Sets a password chosen by an admin: every session ends and every refresh token goes.
pub async fn set_password(
    store: &Store,
    hasher: &Hasher,
    now: i64,
    actor: Actor<'_>,
    id: &str,
    password: &str,
) -> Result<u64, AdminError> {
    let user = find(store, id).await?;
    accounts::set_password(store, hasher, &user.username, password, now).await?;
    let ended = store.end_user_sessions(id, None, now).await?;
    emit(store, Event::UserPasswordChanged, actor, id);
    Ok(ended)
}

/// Clears the sign-in back-off; returns how many counters were removed.
pub async fn unlock(store: &Store, actor: Actor<'_>, id: &str) -> Result<u64, AdminError> {
    let user = find(store, id).await?;
    let n = accounts::unlock(store, &user.username).await?;
    emit(store, Event::UserUnlocked, actor, id);
    Ok(n)
}

/// Removes every second factor of a user who lost theirs; whoever holds a session signs in
/// again. Returns how many sessions ended.
pub async fn reset_mfa(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    id: &str,
) -> Result<u64, AdminError> {
    find(store, id).await?;
    store.delete_factors(id).await?;
    let ended = store.end_user_sessions(id, None, now).await?;
    emit(store, Event::MfaReset, actor, id);
    Ok(ended)
}

/// Ends one session (`only`) or all of them; returns how many ended.
pub async fn end_sessions(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    id: &str,
    only: Option<&str>,
) -> Result<u64, AdminError> {
    find(store, id).await?;
    let ended = match only {
        Some(key) => {
            if !store.end_user_session(id, key, now).await? {
                return Err(AdminError::NotFound);
            }
            1
        }
        None => store.end_user_sessions(id, None, now).await?,
    };
    emit(store, Event::SessionsRevoked, actor, id);
    Ok(ended)
}

pub async fn set_admin(
    store: &Store,
    actor: Actor<'_>,
    id: &str,
    admin: bool,
) -> Result<(), AdminError> {
    store.set_user_admin(id, admin).await?;
    let event = if admin {
        Event::AdminGranted
    } else {
        Event::AdminRevoked
    };
    emit(store, event, actor, id);
    Ok(())
}

/// Deletes a user with their sessions, consents, grants and factors, if they are still at
/// `revision` (`None`: whatever they are now).
pub async fn delete(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    id: &str,
    revision: Option<i64>,
) -> Result<(), AdminError> {
    // Refused for the last administrator; the rest goes by cascade, and then the sessions,
    // which name the user without a foreign key.
    store.delete_user_at(id, revision).await?;
    store.end_user_sessions(id, None, now).await?;
    emit(store, Event::UserDeleted, actor, id);
    Ok(())
}

/// Withdraws a user's consent to a client and revokes the client's grants for them.
pub async fn revoke_consent(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    user_id: &str,
    client_id: &str,
) -> Result<(), AdminError> {
    let had = store.delete_consent(user_id, client_id).await?;
    let revoked = store
        .revoke_user_client_grants(user_id, client_id, now)
        .await?;
    if !had && revoked == 0 {
        return Err(AdminError::NotFound);
    }
    emit(store, Event::ConsentRevoked, actor, user_id);
    Ok(())
}

/// Revokes one grant (a refresh-token family and the access tokens issued under it).
pub async fn revoke_grant(
    store: &Store,
    now: i64,
    actor: Actor<'_>,
    grant_id: &str,
) -> Result<(), AdminError> {
    if store.revoke_grant(grant_id, now).await? == 0 {
        return Err(AdminError::NotFound);
    }
    store.journal().emit(
        Event::GrantRevoked,
        actor.id,
        &format!("grant:{grant_id}"),
        actor.address,
    );
    Ok(())
}
