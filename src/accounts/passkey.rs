//! Passkeys (WebAuthn Level 2) through webauthn-rs: registration, passwordless sign-in with
//! discoverable credentials, and a passkey as the second factor. The library does the
//! ceremony; this module binds its credentials to users and the store. Ceremony state travels
//! in the browser's server-side session, never to the browser.
use crate::crypto::{b64url, sha256};
use crate::domain::{Factor, User};
use crate::store::{self, Store, StoredPasskey};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The browser's answer does not verify: wrong origin or RP ID, stale or replayed
    /// challenge, bad signature, or a credential that is not this user's.
    #[error("the passkey could not be verified: {0}")]
    Rejected(String),
    #[error("this passkey is not registered")]
    UnknownCredential,
    #[error("this passkey is already registered")]
    Duplicate,
    #[error("the stored passkey cannot be read")]
    Corrupt,
    #[error("store: {0}")]
    Store(store::Error),
}

impl From<store::Error> for PasskeyError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Conflict(_) => Self::Duplicate,
            other => Self::Store(other),
        }
    }
}

fn rejected(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Rejected(e.to_string())
}

/// The WebAuthn relying party: its ID is the issuer's host and its origin the issuer's.
pub struct Passkeys {
    webauthn: Webauthn,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passkeys")
    }
}

/// The stable WebAuthn user handle of a user: never their username (WebAuthn §14.6.1).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = sha256(user_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// How stored credential ids are written: base64url, as WebAuthn sends them.
pub fn credential_key(id: &[u8]) -> String {
    b64url(id)
}

impl Passkeys {
    /// `None` when the issuer's host is an IP address: WebAuthn RP IDs are domain names
    /// (WebAuthn §5.1.3), so passkeys stay off and everything else works.
    pub fn new(issuer: &str) -> Option<Self> {
        let origin = Url::parse(issuer).ok()?;
        let host = origin.host()?;
        let url::Host::Domain(rp_id) = host else {
            return None;
        };
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .ok()?
            .rp_name("Gatehouse")
            .build()
            .ok()?;
        Some(Self { webauthn })
    }

    /// Options for `navigator.credentials.create()`, and the state that verifies the answer.
    /// The credential is made discoverable, so it can later sign in without a username.
    pub async fn start_registration(
        &self,
        store: &Store,
        user: &User,
    ) -> Result<(serde_json::Value, PasskeyRegistration), PasskeyError> {
        let existing = store.list_passkeys(&user.id).await?;
        let exclude: Vec<_> = existing
            .iter()
            .filter_map(|p| serde_json::from_str::<Passkey>(&p.credential).ok())
            .map(|p| p.cred_id().clone())
            .collect();
        let display = user.name.as_deref().unwrap_or(&user.username);
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                user_handle(&user.id),
                &user.username,
                display,
                Some(exclude),
            )
            .map_err(rejected)?;
        let mut options = serde_json::to_value(&options).map_err(rejected)?;
        // A discoverable credential, so it can sign in without a username (WebAuthn §5.4.4).
        if let Some(sel) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
        }
        Ok((options, state))
    }

    /// Verifies the browser's answer and stores the new passkey under `name`.
    pub async fn finish_registration(
        &self,
        store: &Store,
        user_id: &str,
        name: &str,
        response: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
        now: i64,
    ) -> Result<StoredPasskey, PasskeyError> {
        let passkey = self
            .webauthn
            .finish_passkey_registration(response, state)
            .map_err(rejected)?;
        let stored = StoredPasskey {
            credential_id: credential_key(passkey.cred_id().as_ref()),
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            credential: serde_json::to_string(&passkey).map_err(|_| PasskeyError::Corrupt)?,
            created_at: now,
            last_used_at: None,
        };
        // WebAuthn §7.1 step 22: a credential id registered before is refused (unique key).
        store.insert_passkey(&stored).await?;
        Ok(stored)
    }

    /// Options for a passwordless sign-in: any discoverable passkey of this site (conditional
    /// mediation where the browser offers it).
    pub fn start_sign_in(
        &self,
    ) -> Result<(serde_json::Value, DiscoverableAuthentication), PasskeyError> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(rejected)?;
        Ok((serde_json::to_value(&options).map_err(rejected)?, state))
    }

    /// Verifies a passwordless sign-in; returns whose passkey it was and what it proved.
    pub async fn finish_sign_in(
        &self,
        store: &Store,
        response: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        now: i64,
    ) -> Result<(String, Factor), PasskeyError> {
        let (handle, cred_id) = self
            .webauthn
            .identify_discoverable_authentication(response)
            .map_err(rejected)?;
        let stored = store
            .find_passkey(&credential_key(cred_id))
            .await?
            .ok_or(PasskeyError::UnknownCredential)?;
        // The user handle the authenticator returned must be the credential owner's.
        if user_handle(&stored.user_id) != handle {
            return Err(PasskeyError::Rejected("user handle mismatch".into()));
        }
        let mut passkey: Passkey =
            serde_json::from_str(&stored.credential).map_err(|_| PasskeyError::Corrupt)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication(response, state, &[DiscoverableKey::from(&passkey)])
            .map_err(rejected)?;
        passkey.update_credential(&result);
        let factor = Factor::Passkey {
            synced: result.backup_eligible(),
            verified: result.user_verified(),
        };
        record_use(store, &stored, &passkey, now).await?;
        Ok((stored.user_id, factor))
    }

    /// Options for a passkey as the second factor: only this user's credentials are allowed.
    pub async fn start_second_factor(
        &self,
        store: &Store,
        user_id: &str,
    ) -> Result<(serde_json::Value, PasskeyAuthentication), PasskeyError> {
        let passkeys = user_passkeys(store, user_id).await?;
        if passkeys.is_empty() {
            return Err(PasskeyError::UnknownCredential);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(rejected)?;
        Ok((serde_json::to_value(&options).map_err(rejected)?, state))
    }

    pub async fn finish_second_factor(
        &self,
        store: &Store,
        user_id: &str,
        response: &PublicKeyCredential,
        state: &PasskeyAuthentication,
        now: i64,
    ) -> Result<Factor, PasskeyError> {
        let result = self
            .webauthn
            .finish_passkey_authentication(response, state)
            .map_err(rejected)?;
        let stored = store
            .find_passkey(&credential_key(result.cred_id().as_ref()))
            .await?
            .filter(|p| p.user_id == user_id)
            .ok_or(PasskeyError::UnknownCredential)?;
        let mut passkey: Passkey =
            serde_json::from_str(&stored.credential).map_err(|_| PasskeyError::Corrupt)?;
        passkey.update_credential(&result);
        record_use(store, &stored, &passkey, now).await?;
        Ok(Factor::Passkey {
            synced: result.backup_eligible(),
            verified: result.user_verified(),
        })
    }
}

async fn user_passkeys(store: &Store, user_id: &str) -> Result<Vec<Passkey>, PasskeyError> {
    Ok(store
        .list_passkeys(user_id)
        .await?
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.credential).ok())
        .collect())
}

async fn record_use(
    store: &Store,
    stored: &StoredPasskey,
    passkey: &Passkey,
    now: i64,
) -> Result<(), PasskeyError> {
    let credential = serde_json::to_string(passkey).map_err(|_| PasskeyError::Corrupt)?;
    store
        .touch_passkey(&stored.credential_id, &credential, now)
        .await?;
    Ok(())
}

/// A passkey's name as the user typed it: trimmed, 1–60 characters, no control characters.
pub fn check_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("Passkey".into());
    }
    if name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err("A passkey name is at most 60 characters, on one line.");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_needs_a_domain() {
        assert!(Passkeys::new("http://localhost:8080").is_some());
        assert!(Passkeys::new("https://id.example.com").is_some());
        assert!(Passkeys::new("http://127.0.0.1:8080").is_none());
        assert!(Passkeys::new("http://[::1]:8080").is_none());
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("u1"), user_handle("u1"));
        assert_ne!(user_handle("u1"), user_handle("u2"));
    }

    #[test]
    fn names() {
        assert_eq!(check_name("  Laptop ").unwrap(), "Laptop");
        assert_eq!(check_name("").unwrap(), "Passkey");
        assert!(check_name(&"x".repeat(61)).is_err());
        assert!(check_name("a\nb").is_err());
    }
}
