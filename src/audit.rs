//! Security events: each is one structured `tracing` event on the `audit` target with a stable
//! `event` name, the `actor` who acted, the `resource` acted on and the client `address`.
//! Never a secret: no password, token, code or client secret, and failed sign-ins name a hash
//! of the attempted username (a password typed into the username field must not be logged).
//! The names and fields are a contract: admin tooling persists and shows them.
//! Imports nothing from the crate but `crypto` and `metrics`.

/// Every audit event, by its stable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    PasswordVerified,
    SecondFactorSucceeded,
    SecondFactorFailed,
    SecondFactorThrottled,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    TotpEnrolled,
    TotpRemoved,
    PasskeyRegistered,
    PasskeyRemoved,
    MfaReset,
    Logout,
    ConsentGranted,
    ConsentRevoked,
    CodeReuseDetected,
    RefreshReuseDetected,
    ClientCreated,
    ClientChanged,
    ClientDeleted,
    ClientSecretRotated,
    UserCreated,
    UserDisabled,
    UserChanged,
    UserPasswordChanged,
    UserUnlocked,
    KeyRotated,
    KeyRevoked,
}

impl Event {
    pub const ALL: &'static [Event] = &[
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginThrottled,
        Self::PasswordVerified,
        Self::SecondFactorSucceeded,
        Self::SecondFactorFailed,
        Self::SecondFactorThrottled,
        Self::RecoveryCodeUsed,
        Self::RecoveryCodesRegenerated,
        Self::TotpEnrolled,
        Self::TotpRemoved,
        Self::PasskeyRegistered,
        Self::PasskeyRemoved,
        Self::MfaReset,
        Self::Logout,
        Self::ConsentGranted,
        Self::ConsentRevoked,
        Self::CodeReuseDetected,
        Self::RefreshReuseDetected,
        Self::ClientCreated,
        Self::ClientChanged,
        Self::ClientDeleted,
        Self::ClientSecretRotated,
        Self::UserCreated,
        Self::UserDisabled,
        Self::UserChanged,
        Self::UserPasswordChanged,
        Self::UserUnlocked,
        Self::KeyRotated,
        Self::KeyRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::LoginThrottled => "login.throttled",
            Self::PasswordVerified => "login.password_verified",
            Self::SecondFactorSucceeded => "login.second_factor_succeeded",
            Self::SecondFactorFailed => "login.second_factor_failed",
            Self::SecondFactorThrottled => "login.second_factor_throttled",
            Self::RecoveryCodeUsed => "mfa.recovery_code_used",
            Self::RecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
            Self::TotpEnrolled => "mfa.totp_enrolled",
            Self::TotpRemoved => "mfa.totp_removed",
            Self::PasskeyRegistered => "mfa.passkey_registered",
            Self::PasskeyRemoved => "mfa.passkey_removed",
            Self::MfaReset => "mfa.reset",
            Self::Logout => "logout",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentRevoked => "consent.revoked",
            Self::CodeReuseDetected => "code.reuse_detected",
            Self::RefreshReuseDetected => "refresh.reuse_detected",
            Self::ClientCreated => "client.created",
            Self::ClientChanged => "client.changed",
            Self::ClientDeleted => "client.deleted",
            Self::ClientSecretRotated => "client.secret_rotated",
            Self::UserCreated => "user.created",
            Self::UserDisabled => "user.disabled",
            Self::UserChanged => "user.changed",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserUnlocked => "user.unlocked",
            Self::KeyRotated => "key.rotated",
            Self::KeyRevoked => "key.revoked",
        }
    }

    /// Attacks and their defences are warnings; everything else is information.
    fn is_warning(self) -> bool {
        matches!(
            self,
            Self::LoginThrottled
                | Self::SecondFactorThrottled
                | Self::CodeReuseDetected
                | Self::RefreshReuseDetected
                | Self::MfaReset
        )
    }
}

/// Who acted: `user:<id>`, `client:<id>`, `cli` (an admin on the host), `keystore` (scheduled
/// rotation) or `anonymous`.
pub fn user(id: &str) -> String {
    format!("user:{id}")
}

pub fn client(id: &str) -> String {
    format!("client:{id}")
}

pub fn key(kid: &str) -> String {
    format!("key:{kid}")
}

/// A username that did not sign in, as a keyed pseudonym (`pseudonym` is an HMAC under a key
/// derived from the master key): the same name always maps to the same value, and someone who
/// typed their password into the field cannot have it guessed back from the logs.
pub fn attempted_username(pseudonym: &str) -> String {
    format!("username-pseudonym:{pseudonym}")
}

/// Emits one audit event. `address` is the client address when a request caused it.
pub fn emit(event: Event, actor: &str, resource: &str, address: Option<&str>) {
    crate::metrics::audit(event.as_str());
    let address = address.unwrap_or("-");
    if event.is_warning() {
        tracing::warn!(target: "audit", event = event.as_str(), actor, resource, address, "audit");
    } else {
        tracing::info!(target: "audit", event = event.as_str(), actor, resource, address, "audit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_distinct() {
        let names: std::collections::HashSet<_> = Event::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(names.len(), Event::ALL.len());
        assert_eq!(Event::LoginFailed.as_str(), "login.failed");
        assert_eq!(
            Event::RefreshReuseDetected.as_str(),
            "refresh.reuse_detected"
        );
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        }));
    }

    #[test]
    fn attempted_usernames_are_pseudonyms() {
        assert_eq!(attempted_username("abc"), "username-pseudonym:abc");
    }
}
