//! Security events: each is one structured `tracing` event on the `audit` target with a stable
//! `event` name, the `actor` who acted, the `resource` acted on and the client `address`.
//! Never a secret: no password, token, code or client secret, and failed sign-ins name a hash
//! of the attempted username (a password typed into the username field must not be logged).
//! The names and fields are a contract: the SQL audit log keeps them and the admin API and
//! console show them. Events reach SQL through a `Journal`: emitting never waits for the
//! database, and a writer task stores them in batches.
//! Imports nothing from the crate but `clock`, `crypto` and `metrics`.

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
    UserDeleted,
    UserEnabled,
    RegistrationTokenIssued,
    AdminGranted,
    AdminRevoked,
    SessionsRevoked,
    GrantRevoked,
    AdminDenied,
    PasswordResetRequested,
    PasswordReset,
    EmailVerificationSent,
    EmailVerified,
    UserInvited,
    SignupRequested,
    ApiCreated,
    ApiChanged,
    ApiDeleted,
    RoleCreated,
    RoleChanged,
    RoleDeleted,
    GroupCreated,
    GroupChanged,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    UserRoleAdded,
    UserRoleRemoved,
    KeyImported,
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
        Self::UserDeleted,
        Self::UserEnabled,
        Self::RegistrationTokenIssued,
        Self::AdminGranted,
        Self::AdminRevoked,
        Self::SessionsRevoked,
        Self::GrantRevoked,
        Self::AdminDenied,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailVerificationSent,
        Self::EmailVerified,
        Self::UserInvited,
        Self::SignupRequested,
        Self::ApiCreated,
        Self::ApiChanged,
        Self::ApiDeleted,
        Self::RoleCreated,
        Self::RoleChanged,
        Self::RoleDeleted,
        Self::GroupCreated,
        Self::GroupChanged,
        Self::GroupDeleted,
        Self::GroupMemberAdded,
        Self::GroupMemberRemoved,
        Self::UserRoleAdded,
        Self::UserRoleRemoved,
        Self::KeyImported,
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
            Self::UserDeleted => "user.deleted",
            Self::UserEnabled => "user.enabled",
            Self::RegistrationTokenIssued => "registration.token_issued",
            Self::AdminGranted => "user.admin_granted",
            Self::AdminRevoked => "user.admin_revoked",
            Self::SessionsRevoked => "user.sessions_revoked",
            Self::GrantRevoked => "grant.revoked",
            Self::AdminDenied => "admin.denied",
            Self::PasswordResetRequested => "user.password_reset_requested",
            Self::PasswordReset => "user.password_reset",
            Self::EmailVerificationSent => "user.email_verification_sent",
            Self::EmailVerified => "user.email_verified",
            Self::UserInvited => "user.invited",
            Self::SignupRequested => "user.signup_requested",
            Self::ApiCreated => "api.created",
            Self::ApiChanged => "api.changed",
            Self::ApiDeleted => "api.deleted",
            Self::RoleCreated => "role.created",
            Self::RoleChanged => "role.changed",
            Self::RoleDeleted => "role.deleted",
            Self::GroupCreated => "group.created",
            Self::GroupChanged => "group.changed",
            Self::GroupDeleted => "group.deleted",
            Self::GroupMemberAdded => "group.member_added",
            Self::GroupMemberRemoved => "group.member_removed",
            Self::UserRoleAdded => "user.role_added",
            Self::UserRoleRemoved => "user.role_removed",
            Self::KeyImported => "key.imported",
        }
    }

    /// The stable name's event, for queries.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.as_str() == name)
    }

    /// Whether the attempt this event records was refused.
    pub fn outcome(self) -> Outcome {
        if matches!(
            self,
            Self::LoginFailed
                | Self::LoginThrottled
                | Self::SecondFactorFailed
                | Self::SecondFactorThrottled
                | Self::CodeReuseDetected
                | Self::RefreshReuseDetected
                | Self::AdminDenied
        ) {
            Outcome::Failure
        } else {
            Outcome::Success
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
                | Self::AdminDenied
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

/// Whether what an event records went through or was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One event as the audit log stores it. `id` sorts by time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub at: i64,
    pub event: String,
    pub outcome: String,
    pub actor: String,
    pub target: String,
    pub address: Option<String>,
}

/// What the writer task receives.
#[derive(Debug)]
pub enum Entry {
    Record(Record),
    /// Answered once every record sent before it is stored.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// How many events may wait for the writer; beyond that they reach the log but not SQL.
const QUEUE: usize = 8192;

/// Where audit events go: the log, and (once a writer is attached) the SQL audit log.
#[derive(Clone, Debug)]
pub struct Journal {
    clock: crate::clock::Clock,
    tx: Option<tokio::sync::mpsc::Sender<Entry>>,
    seq: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Journal {
    /// Events reach the log only (a store opened for a one-off read).
    pub fn log_only(clock: crate::clock::Clock) -> Self {
        Self {
            clock,
            tx: None,
            seq: Default::default(),
        }
    }

    /// A journal and the receiving end its writer drains.
    pub fn new(clock: crate::clock::Clock) -> (Self, tokio::sync::mpsc::Receiver<Entry>) {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        (
            Self {
                clock,
                tx: Some(tx),
                seq: Default::default(),
            },
            rx,
        )
    }

    /// Emits one audit event. `address` is the client address when a request caused it.
    pub fn emit(&self, event: Event, actor: &str, resource: &str, address: Option<&str>) {
        crate::metrics::audit(event.as_str());
        let shown = address.unwrap_or("-");
        if event.is_warning() {
            tracing::warn!(target: "audit", event = event.as_str(), actor, resource, address = shown, "audit");
        } else {
            tracing::info!(target: "audit", event = event.as_str(), actor, resource, address = shown, "audit");
        }
        let Some(tx) = &self.tx else { return };
        let micros = self.clock.now_micros().max(0);
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = Record {
            // The microsecond, then this process's sequence: ids sort as the events happened,
            // across processes too.
            id: format!("{micros:014x}{seq:08x}{}", &crate::crypto::random_id()[..6]),
            at: micros.div_euclid(1_000_000),
            event: event.as_str().to_owned(),
            outcome: event.outcome().as_str().to_owned(),
            actor: actor.to_owned(),
            target: resource.to_owned(),
            address: address.map(str::to_owned),
        };
        if tx.try_send(Entry::Record(record)).is_err() {
            crate::metrics::audit_dropped();
            tracing::warn!(target: "audit", event = event.as_str(), "audit log queue full or closed: event kept in the log only");
        }
    }

    /// Waits until every event emitted before this call is stored.
    pub async fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = tokio::sync::oneshot::channel();
        if tx.send(Entry::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
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
    fn names_parse_back_and_refusals_are_failures() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(*e));
        }
        assert_eq!(Event::parse("login"), None);
        assert_eq!(Event::LoginFailed.outcome(), Outcome::Failure);
        assert_eq!(Event::LoginSucceeded.outcome(), Outcome::Success);
    }

    #[tokio::test]
    async fn journal_ids_sort_in_emission_order() {
        let (journal, mut rx) = Journal::new(crate::clock::Clock::frozen());
        for _ in 0..300 {
            journal.emit(Event::Logout, "user:u", "user:u", None);
        }
        let mut ids = Vec::new();
        while let Ok(Entry::Record(r)) = rx.try_recv() {
            ids.push(r.id);
        }
        assert_eq!(ids.len(), 300);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn attempted_usernames_are_pseudonyms() {
        assert_eq!(attempted_username("abc"), "username-pseudonym:abc");
    }
}
