//! Links sent by mail (SECURITY.md "Account links"): password reset, email verification,
//! invitations and sign-up. Each is 256 bits of randomness, stored only as its SHA-256, used
//! once, and void when it expires or a newer one of its kind is sent. Requests for them are
//! throttled per client address and per recipient, and answer the same whether or not an
//! account exists.
use super::{AccountError, Hasher, NewUser, check_email, create_user};
use crate::audit::{self, Event};
use crate::crypto::{hash_secret, random_token};
use crate::domain::{User, validate_username};
use crate::mail::{Mail, message};
use crate::oauth::endpoints as ep;
use crate::store::{AccountLink, Store};

/// A reset link lives 15 minutes.
pub const RESET_TTL: i64 = 15 * 60;
pub const VERIFY_TTL: i64 = 24 * 3600;
pub const INVITE_TTL: i64 = 7 * 86400;
pub const SIGNUP_TTL: i64 = 24 * 3600;
/// Reset and sign-up requests one client address may make in an hour.
pub const REQUESTS_PER_ADDRESS: i64 = 10;
/// After a link is mailed to an account (or, for sign-up, an address), no other of its kind
/// goes there for this long: the one sent still works. A spacing rather than a count, so
/// strangers asking for someone's links can neither flood their inbox nor use up their
/// allowance (SECURITY.md "Lockout is not a weapon").
pub const RECIPIENT_SPACING: i64 = 5 * 60;
/// The throttle's window.
const WINDOW: i64 = 3600;

/// What a link may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Verify,
    /// An admin's invitation: ends in a new account.
    Invite,
    /// A sign-up whose address is being proved: ends in a new account too.
    SignUp,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Verify => "verify",
            Self::Invite => "invite",
            Self::SignUp => "signup",
        }
    }

    /// The page the link opens.
    fn path(self) -> &'static str {
        match self {
            Self::Reset => ep::LOGIN_RESET,
            Self::Verify => ep::ACCOUNT_VERIFY_EMAIL,
            Self::Invite | Self::SignUp => ep::SIGNUP_COMPLETE,
        }
    }
}

/// The mail server and the issuer that links point to.
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub mail: &'a Mail,
    pub issuer: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Unknown, expired, used, superseded, or for an account that is disabled or changed.
    #[error("this link is not valid any more")]
    Invalid,
    #[error("too many requests from this address")]
    Throttled,
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl From<crate::store::Error> for LinkError {
    fn from(e: crate::store::Error) -> Self {
        Self::Account(AccountError::Store(e))
    }
}

impl From<crate::mail::MailError> for LinkError {
    fn from(e: crate::mail::MailError) -> Self {
        match e {
            crate::mail::MailError::Store(e) => e.into(),
            e => Self::Account(AccountError::Invalid(e.to_string())),
        }
    }
}

/// Counts one request against `key`: false once more than `allowance` came within the hour.
async fn within(store: &Store, key: &str, allowance: i64, now: i64) -> Result<bool, LinkError> {
    Ok(store.record_login_failure(key, now, now - WINDOW).await? <= allowance)
}

/// Whether a link may go to the recipient behind `key` now; if so, the next may only go
/// `RECIPIENT_SPACING` later. Atomic: of concurrent requests, one sends.
async fn spaced(store: &Store, key: &str, now: i64) -> Result<bool, LinkError> {
    Ok(store.take_turn(key, now, now + RECIPIENT_SPACING).await?)
}

fn reset_key(user_id: &str) -> String {
    format!("mail-user:{user_id}")
}

/// Per client address, for the reset and sign-up forms: a refusal here says nothing about any
/// account, so the page may say so.
pub async fn address_allowed(store: &Store, address: &str, now: i64) -> Result<(), LinkError> {
    let key = format!("mail-request:{}", super::throttle::address_key(address));
    if within(store, &key, REQUESTS_PER_ADDRESS, now).await? {
        Ok(())
    } else {
        Err(LinkError::Throttled)
    }
}

struct NewLink<'a> {
    purpose: Purpose,
    user_id: Option<&'a str>,
    email: &'a str,
    flow_id: Option<&'a str>,
    created_by: &'a str,
    ttl: i64,
}

/// Stores a new link (voiding the older one of its kind) and returns its token.
async fn issue(store: &Store, new: NewLink<'_>, now: i64) -> Result<String, LinkError> {
    let token = random_token();
    store
        .insert_account_link(
            &hash_secret(&token),
            &AccountLink {
                purpose: new.purpose.as_str().to_owned(),
                user_id: new.user_id.map(str::to_owned),
                email: new.email.to_owned(),
                flow_id: new.flow_id.map(str::to_owned),
                created_by: new.created_by.to_owned(),
                created_at: now,
                expires_at: now + new.ttl,
            },
        )
        .await?;
    Ok(token)
}

/// Stores a new link and queues the message `compose` writes around its URL; the message is
/// dropped undelivered once the link has expired.
async fn mail_link(
    store: &Store,
    out: Outbound<'_>,
    new: NewLink<'_>,
    now: i64,
    compose: impl FnOnce(&str) -> message::Message,
) -> Result<(), LinkError> {
    let (path, ttl) = (new.purpose.path(), new.ttl);
    let token = issue(store, new, now).await?;
    let msg = compose(&format!("{}{path}?token={token}", out.issuer));
    out.mail.enqueue(store, &msg, now, now + ttl).await?;
    Ok(())
}

/// The live link of `purpose` for `token`, and its enabled user if it has one.
async fn live(
    store: &Store,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<(AccountLink, Option<User>), LinkError> {
    if token.is_empty() || token.len() > 64 {
        return Err(LinkError::Invalid);
    }
    let link = store
        .find_account_link(&hash_secret(token), purpose.as_str(), now)
        .await?
        .ok_or(LinkError::Invalid)?;
    let user = match &link.user_id {
        Some(id) => {
            let user = store.find_user(id).await?.ok_or(LinkError::Invalid)?;
            // A link mailed to an address the account no longer has is dead.
            if user.disabled || user.email.as_deref() != Some(link.email.as_str()) {
                return Err(LinkError::Invalid);
            }
            Some(user)
        }
        None => None,
    };
    Ok((link, user))
}

/// Uses the link: of two concurrent uses, one wins and the other is `Invalid`.
async fn take(store: &Store, token: &str, purpose: Purpose, now: i64) -> Result<(), LinkError> {
    store
        .take_account_link(&hash_secret(token), purpose.as_str(), now)
        .await?
        .map(|_| ())
        .ok_or(LinkError::Invalid)
}

/// What an anonymous form asks to be mailed.
#[derive(Clone, Debug)]
pub enum Request {
    /// A reset link for the account with this username or address.
    Reset { who: String },
    /// A sign-up link (or a note that it has an account) for this address.
    SignUp { email: String },
}

impl Request {
    /// Handles the request (after the caller has answered the page).
    pub async fn send(
        &self,
        store: &Store,
        out: Outbound<'_>,
        flow_id: Option<&str>,
        address: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        match self {
            Self::Reset { who } => {
                request_reset(store, out, who, flow_id, address, now).await?;
            }
            Self::SignUp { email } => {
                request_sign_up(store, out, email, flow_id, address, now).await?;
            }
        }
        Ok(())
    }
}

/// "Forgot password?": mails a reset link to each enabled account whose username or address
/// is `who`, at most one per `RECIPIENT_SPACING` each. Unknown names send nothing. The caller
/// answers the same either way; returns how many links went out (for tests and logs only).
pub async fn request_reset(
    store: &Store,
    out: Outbound<'_>,
    who: &str,
    flow_id: Option<&str>,
    address: &str,
    now: i64,
) -> Result<usize, LinkError> {
    let who = who.trim();
    let mut users: Vec<User> = Vec::new();
    if let Some((u, _)) = store.find_user_credentials(who).await? {
        users.push(u);
    }
    if who.contains('@') {
        for u in store.find_users_by_email(who).await? {
            if !users.iter().any(|x| x.id == u.id) {
                users.push(u);
            }
        }
    }
    let mut sent = 0;
    for user in users.iter().filter(|u| !u.disabled) {
        let Some(email) = user.email.as_deref() else {
            continue;
        };
        if !spaced(store, &reset_key(&user.id), now).await? {
            tracing::info!(user_id = %user.id, "reset link not sent: one went out minutes ago");
            continue;
        }
        let new = NewLink {
            purpose: Purpose::Reset,
            user_id: Some(&user.id),
            email,
            flow_id,
            created_by: "anonymous",
            ttl: RESET_TTL,
        };
        mail_link(store, out, new, now, |link| {
            message::reset(out.issuer, email, &user.username, link, RESET_TTL / 60)
        })
        .await?;
        let target = audit::user(&user.id);
        store.journal().emit(
            Event::PasswordResetRequested,
            "anonymous",
            &target,
            Some(address),
        );
        sent += 1;
    }
    Ok(sent)
}

/// The account a reset link is for, without using it (the page that asks for the password).
pub async fn reset_link(store: &Store, token: &str, now: i64) -> Result<User, LinkError> {
    match live(store, token, Purpose::Reset, now).await? {
        (_, Some(user)) => Ok(user),
        _ => Err(LinkError::Invalid),
    }
}

/// A finished reset: the account, and the authorization request it was asked from.
#[derive(Debug)]
pub struct Reset {
    pub user: User,
    pub flow_id: Option<String>,
}

/// Sets the new password through a reset link. The password is checked before the link is
/// used, so a refused one leaves the link working. Every session ends and every refresh token
/// is revoked (SECURITY.md "Account links"); the back-off is cleared; and since the person
/// just proved they read mail at the address, it counts as verified.
pub async fn reset_password(
    store: &Store,
    hasher: &Hasher,
    token: &str,
    password: &str,
    address: Option<&str>,
    now: i64,
) -> Result<Reset, LinkError> {
    let (link, user) = live(store, token, Purpose::Reset, now).await?;
    let user = user.ok_or(LinkError::Invalid)?;
    hasher
        .policy()
        .check(password, &user.username, user.email.as_deref())
        .map_err(AccountError::Policy)?;
    let hash = hasher.hash(password).await?;
    take(store, token, Purpose::Reset, now).await?;
    store.update_password_hash(&user.id, &hash).await?;
    store.revoke_user_grants(&user.id, now).await?;
    store.end_user_sessions(&user.id, None, now).await?;
    super::unlock(store, &user.username).await?;
    store.clear_login_failures(&reset_key(&user.id)).await?;
    store
        .set_email_verified(&user.id, &link.email, true)
        .await?;
    let who = audit::user(&user.id);
    store
        .journal()
        .emit(Event::PasswordReset, &who, &who, address);
    let user = store.find_user(&user.id).await?.ok_or(LinkError::Invalid)?;
    Ok(Reset {
        user,
        flow_id: link.flow_id,
    })
}

/// Mails a link that verifies the user's address, unless it is verified already or one went
/// out minutes ago. Returns whether one was sent.
pub async fn send_verification(
    store: &Store,
    out: Outbound<'_>,
    user: &User,
    actor: &str,
    now: i64,
) -> Result<bool, LinkError> {
    let Some(email) = user.email.as_deref().filter(|_| !user.email_verified) else {
        return Ok(false);
    };
    let key = format!("mail-verify:{}:{}", user.id, hash_secret(email));
    if !spaced(store, &key, now).await? {
        tracing::info!(user_id = %user.id, "verification link not sent: one went out minutes ago");
        return Ok(false);
    }
    let new = NewLink {
        purpose: Purpose::Verify,
        user_id: Some(&user.id),
        email,
        flow_id: None,
        created_by: actor,
        ttl: VERIFY_TTL,
    };
    mail_link(store, out, new, now, |link| {
        message::verify(out.issuer, email, &user.username, link, VERIFY_TTL / 3600)
    })
    .await?;
    store.journal().emit(
        Event::EmailVerificationSent,
        actor,
        &audit::user(&user.id),
        None,
    );
    Ok(true)
}

/// The account and address a verification link is for, without using it.
pub async fn verification_link(
    store: &Store,
    token: &str,
    now: i64,
) -> Result<(User, String), LinkError> {
    match live(store, token, Purpose::Verify, now).await? {
        (link, Some(user)) => Ok((user, link.email)),
        _ => Err(LinkError::Invalid),
    }
}

/// Uses a verification link: the address is verified if it is still the account's.
pub async fn verify_email(store: &Store, token: &str, now: i64) -> Result<User, LinkError> {
    let (user, email) = verification_link(store, token, now).await?;
    take(store, token, Purpose::Verify, now).await?;
    if !store.set_email_verified(&user.id, &email, true).await? {
        return Err(LinkError::Invalid);
    }
    let who = audit::user(&user.id);
    store.journal().emit(Event::EmailVerified, &who, &who, None);
    store.find_user(&user.id).await?.ok_or(LinkError::Invalid)
}

/// An admin invites `email`: a link where the person chooses a username and password.
pub async fn invite(
    store: &Store,
    out: Outbound<'_>,
    email: &str,
    actor: &str,
    now: i64,
) -> Result<(), LinkError> {
    let email = email.trim();
    check_email(email)?;
    let new = NewLink {
        purpose: Purpose::Invite,
        user_id: None,
        email,
        flow_id: None,
        created_by: actor,
        ttl: INVITE_TTL,
    };
    mail_link(store, out, new, now, |link| {
        message::invite(out.issuer, email, link, INVITE_TTL / 86400)
    })
    .await?;
    store
        .journal()
        .emit(Event::UserInvited, actor, &format!("email:{email}"), None);
    Ok(())
}

/// Self sign-up: proves the address first. An address that has an account gets a message
/// saying so instead of a link; the page answers the same either way.
pub async fn request_sign_up(
    store: &Store,
    out: Outbound<'_>,
    email: &str,
    flow_id: Option<&str>,
    address: &str,
    now: i64,
) -> Result<(), LinkError> {
    let email = email.trim();
    check_email(email)?;
    let key = format!("mail-signup:{}", hash_secret(&email.to_lowercase()));
    if !spaced(store, &key, now).await? {
        return Ok(());
    }
    // Disabled accounts count: their owner does not get a fresh one with the same address.
    if !store.email_has_account(email).await? {
        let new = NewLink {
            purpose: Purpose::SignUp,
            user_id: None,
            email,
            flow_id,
            created_by: "signup",
            ttl: SIGNUP_TTL,
        };
        mail_link(store, out, new, now, |link| {
            message::sign_up(out.issuer, email, link, SIGNUP_TTL / 3600)
        })
        .await?;
    } else {
        let sign_in = format!("{}{}", out.issuer, ep::LOGIN);
        let msg = message::already_registered(out.issuer, email, &sign_in);
        out.mail.enqueue(store, &msg, now, now + SIGNUP_TTL).await?;
    }
    store.journal().emit(
        Event::SignupRequested,
        "anonymous",
        &format!("email:{email}"),
        Some(address),
    );
    Ok(())
}

/// The address an invitation or sign-up link is for, without using it.
pub async fn invitation(store: &Store, token: &str, now: i64) -> Result<AccountLink, LinkError> {
    match live(store, token, Purpose::Invite, now).await {
        Err(LinkError::Invalid) => Ok(live(store, token, Purpose::SignUp, now).await?.0),
        other => Ok(other?.0),
    }
}

impl AccountLink {
    /// Whether this link came from self sign-up (rather than an admin's invitation).
    pub fn is_sign_up(&self) -> bool {
        self.purpose == Purpose::SignUp.as_str()
    }
}

/// Creates the account an invitation or sign-up link leads to, with its address verified.
/// Username and password are checked before the link is used; if the username was taken in
/// the meantime, the link is put back.
pub async fn accept_invitation(
    store: &Store,
    hasher: &Hasher,
    token: &str,
    username: &str,
    password: &str,
    now: i64,
) -> Result<(User, AccountLink), LinkError> {
    let link = invitation(store, token, now).await?;
    let username = username.trim();
    validate_username(username).map_err(|e| AccountError::Invalid(e.into()))?;
    if store.find_user_credentials(username).await?.is_some() {
        return Err(AccountError::UsernameTaken.into());
    }
    hasher
        .policy()
        .check(password, username, Some(&link.email))
        .map_err(AccountError::Policy)?;
    let purpose = if link.is_sign_up() {
        Purpose::SignUp
    } else {
        Purpose::Invite
    };
    take(store, token, purpose, now).await?;
    let created = create_user(
        store,
        hasher,
        NewUser {
            username,
            email: Some(&link.email),
            email_verified: true,
            name: None,
        },
        password,
        now,
    )
    .await;
    let user = match created {
        Ok(u) => u,
        Err(e) => {
            store
                .restore_account_link(&hash_secret(token), &link)
                .await?;
            return Err(e.into());
        }
    };
    store.journal().emit(
        Event::UserCreated,
        &link.created_by,
        &audit::user(&user.id),
        None,
    );
    Ok((user, link))
}
