//! Second factors: authenticator-app codes (RFC 6238) and recovery codes. Code attempts are
//! throttled like passwords; a code is accepted once per time step; secrets are sealed at rest.
use super::throttle;
use crate::crypto::{self, constant_time_eq};
use crate::domain::Factor;
use crate::store::{self, Store};
use totp_rs::{Algorithm, TOTP};

/// RFC 6238 §4: 30-second steps, six digits, HMAC-SHA-1 (what authenticator apps expect).
pub const STEP: i64 = 30;
const DIGITS: usize = 6;
/// RFC 6238 §5.2: one step either side absorbs clock drift.
const SKEW: i64 = 1;
/// Failed codes before the back-off starts (per user, whatever the address).
pub const FREE_CODE_ATTEMPTS: i64 = 5;
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("the code is not right")]
    WrongCode,
    /// RFC 6238 §5.2: a code is good once.
    #[error("the code was already used")]
    Replayed,
    #[error("too many code attempts")]
    Throttled { retry_after: i64 },
    #[error("no authenticator app is enrolled")]
    NotEnrolled,
    #[error("an authenticator app is already enrolled")]
    AlreadyEnrolled,
    #[error("the stored secret cannot be opened")]
    Sealed,
    #[error("store: {0}")]
    Store(#[from] store::Error),
}

/// Seals authenticator secrets under a key derived from the master key.
#[derive(Clone)]
pub struct FactorKey([u8; 32]);

impl std::fmt::Debug for FactorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FactorKey(…)")
    }
}

impl FactorKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn seal(&self, user_id: &str, secret: &[u8]) -> Result<String, MfaError> {
        crypto::seal(&self.0, secret, user_id.as_bytes()).ok_or(MfaError::Sealed)
    }

    fn open(&self, user_id: &str, sealed: &str) -> Result<Vec<u8>, MfaError> {
        crypto::open(&self.0, sealed, user_id.as_bytes()).ok_or(MfaError::Sealed)
    }

    /// What is stored for a recovery code: an HMAC under this key, bound to the user, so a
    /// copy of the database cannot test guesses against every user's codes at once.
    pub fn recovery_digest(&self, user_id: &str, code: &str) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0);
        let msg = format!(
            "recovery code\n{user_id}\n{}",
            normalise_code(code).to_ascii_lowercase()
        );
        crypto::b64url(aws_lc_rs::hmac::sign(&key, msg.as_bytes()).as_ref())
    }
}

fn totp(secret: Vec<u8>, issuer: &str, username: &str) -> Result<TOTP, MfaError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP as u64,
        secret,
        Some(issuer.to_owned()),
        username.to_owned(),
    )
    .map_err(|_| MfaError::Sealed)
}

/// What the enrolment page shows: the `otpauth://` URI (for the QR code) and the secret.
#[derive(Clone)]
pub struct Enrolment {
    pub uri: String,
    pub secret_base32: String,
}

/// Starts an authenticator-app enrolment (or shows the pending one again). Nothing changes for
/// sign-in until `confirm_totp`.
pub async fn begin_totp(
    store: &Store,
    key: &FactorKey,
    user_id: &str,
    username: &str,
    issuer_label: &str,
    now: i64,
) -> Result<Enrolment, MfaError> {
    let secret = match store.find_totp(user_id).await? {
        Some(t) if t.confirmed_at.is_some() => return Err(MfaError::AlreadyEnrolled),
        Some(t) => key.open(user_id, &t.sealed_secret)?,
        None => {
            let secret = crypto::random_bytes::<20>().to_vec();
            if !store
                .begin_totp(user_id, &key.seal(user_id, &secret)?, now)
                .await?
            {
                return Err(MfaError::AlreadyEnrolled);
            }
            secret
        }
    };
    let t = totp(secret, issuer_label, username)?;
    Ok(Enrolment {
        uri: t.get_url(),
        secret_base32: t.get_secret_base32(),
    })
}

/// The time step `code` is valid for, within ±`SKEW` steps of `now`.
pub fn matching_step(t: &TOTP, code: &str, now: i64) -> Option<i64> {
    let code = normalise_code(code);
    let current = now.div_euclid(STEP);
    (-SKEW..=SKEW)
        .map(|d| current + d)
        .filter(|step| *step >= 0)
        .find(|step| {
            let expected = t.generate((*step * STEP) as u64);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
}

fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

async fn stored_totp(
    store: &Store,
    key: &FactorKey,
    user_id: &str,
    confirmed: bool,
) -> Result<TOTP, MfaError> {
    let t = store
        .find_totp(user_id)
        .await?
        .filter(|t| t.confirmed_at.is_some() == confirmed)
        .ok_or(MfaError::NotEnrolled)?;
    // Issuer and account only label the QR code; they play no part in the codes.
    totp(key.open(user_id, &t.sealed_secret)?, "Gatehouse", "user")
}

/// Confirms a pending enrolment with a first code; returns fresh recovery codes to show once.
pub async fn confirm_totp(
    store: &Store,
    key: &FactorKey,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Vec<String>, MfaError> {
    throttled(store, user_id, now, async {
        let t = stored_totp(store, key, user_id, false).await?;
        let step = matching_step(&t, code, now).ok_or(MfaError::WrongCode)?;
        if !store.accept_totp_step(user_id, step, true, now).await? {
            return Err(MfaError::Replayed);
        }
        Ok(())
    })
    .await?;
    // A first factor gets recovery codes; a user who already had some keeps them.
    let summary = store.factor_summary(user_id).await?;
    if summary.recovery_codes > 0 {
        return Ok(Vec::new());
    }
    regenerate_recovery_codes(store, key, user_id, now).await
}

/// Checks a sign-in code: an authenticator code, or else a recovery code (spent on use).
pub async fn verify_code(
    store: &Store,
    key: &FactorKey,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Factor, MfaError> {
    throttled(store, user_id, now, async {
        let code = normalise_code(code);
        if code.len() == DIGITS && code.chars().all(|c| c.is_ascii_digit()) {
            let t = match stored_totp(store, key, user_id, true).await {
                Err(MfaError::NotEnrolled) => return Err(MfaError::WrongCode),
                other => other?,
            };
            let step = matching_step(&t, &code, now).ok_or(MfaError::WrongCode)?;
            if !store.accept_totp_step(user_id, step, false, now).await? {
                return Err(MfaError::Replayed);
            }
            return Ok(Factor::Totp);
        }
        let digest = key.recovery_digest(user_id, &code);
        if store.use_recovery_code(user_id, &digest, now).await? {
            return Ok(Factor::RecoveryCode);
        }
        Err(MfaError::WrongCode)
    })
    .await
}

/// Runs a code check behind the per-user back-off. The attempt is counted before the check, so
/// parallel guesses cannot slip past the allowance; success clears the count.
async fn throttled<T>(
    store: &Store,
    user_id: &str,
    now: i64,
    check: impl std::future::Future<Output = Result<T, MfaError>>,
) -> Result<T, MfaError> {
    let key = throttle::factor_key(user_id);
    let forget_before = now - throttle::FORGET_AFTER;
    let (failures, blocked_until) = store.login_throttle_state(&key, forget_before).await?;
    if blocked_until > now {
        return Err(MfaError::Throttled {
            retry_after: blocked_until - now,
        });
    }
    let rank = store.record_login_failure(&key, now, forget_before).await?;
    let first_after_wait = blocked_until > 0 && rank == failures + 1;
    if rank > FREE_CODE_ATTEMPTS && !first_after_wait {
        let wait = throttle::backoff(rank, FREE_CODE_ATTEMPTS);
        store.block_login(&key, now + wait).await?;
        return Err(MfaError::Throttled { retry_after: wait });
    }
    match check.await {
        Ok(v) => {
            store.clear_login_failures(&key).await?;
            Ok(v)
        }
        Err(e) => {
            let wait = throttle::backoff(rank, FREE_CODE_ATTEMPTS);
            if wait > 0 {
                store.block_login(&key, now + wait).await?;
                tracing::warn!(failures = rank, wait, "second-factor back-off engaged");
            }
            Err(e)
        }
    }
}

/// Ten new recovery codes, replacing any old ones; only their keyed digests are kept.
pub async fn regenerate_recovery_codes(
    store: &Store,
    key: &FactorKey,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, MfaError> {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| key.recovery_digest(user_id, c))
        .collect();
    store.replace_recovery_codes(user_id, &hashes, now).await?;
    Ok(codes)
}

/// 60 random bits as three groups of four letters and digits (no look-alikes).
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = crypto::random_bytes::<12>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Removes the authenticator app. With no passkey left either, the recovery codes go too: they
/// only back up a factor.
pub async fn remove_totp(store: &Store, user_id: &str) -> Result<bool, MfaError> {
    let removed = store.delete_totp(user_id).await?;
    forget_codes_without_factor(store, user_id).await?;
    Ok(removed)
}

/// Recovery codes only back up a factor: with none left they are deleted.
pub async fn forget_codes_without_factor(store: &Store, user_id: &str) -> Result<(), MfaError> {
    if !store.factor_summary(user_id).await?.has_second_factor() {
        store.delete_recovery_codes(user_id).await?;
    }
    Ok(())
}

/// An RFC 6238 code for a raw secret at a time: for tests and tools, never for checking.
pub fn code_at(secret: &[u8], now: i64) -> Option<String> {
    let t = totp(secret.to_vec(), "Gatehouse", "user").ok()?;
    Some(t.generate(now.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TOTP {
        totp(b"12345678901234567890".to_vec(), "Gatehouse", "alice").unwrap()
    }

    #[test]
    fn rfc6238_vectors() {
        // RFC 6238 Appendix B, SHA-1, truncated to six digits.
        assert_eq!(t().generate(59), "287082");
        assert_eq!(t().generate(1_111_111_109), "081804");
        assert_eq!(t().generate(1_234_567_890), "005924");
    }

    #[test]
    fn one_step_of_drift_either_way() {
        let now = 1_111_111_109;
        let step = now / STEP;
        let code = |s: i64| t().generate((s * STEP) as u64);
        assert_eq!(matching_step(&t(), &code(step), now), Some(step));
        assert_eq!(matching_step(&t(), &code(step - 1), now), Some(step - 1));
        assert_eq!(matching_step(&t(), &code(step + 1), now), Some(step + 1));
        assert_eq!(matching_step(&t(), &code(step - 2), now), None);
        assert_eq!(matching_step(&t(), &code(step + 2), now), None);
        assert_eq!(matching_step(&t(), "000000x", now), None);
        let spaced = format!("{} {}", &code(step)[..3], &code(step)[3..]);
        assert_eq!(matching_step(&t(), &spaced, now), Some(step));
    }

    #[test]
    fn recovery_codes_look_right() {
        let c = recovery_code();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        assert_ne!(recovery_code(), recovery_code());
    }
}
