//! Device cookies (OWASP "Slow down online guessing attacks with device cookies"): a browser
//! that signed in as a user carries a signed cookie for that user, and its failures are counted
//! on its own key, so strangers guessing that user's password cannot lock its owner out.
//! The cookie names a random device id and when it was issued; the username is only inside the
//! MAC, so the cookie does not reveal whom it is for. The MAC also covers a digest of the
//! user's stored password hash, so a password change or reset forgets every device.
use crate::crypto::{b64url, b64url_decode, constant_time_eq, random_id};
use aws_lc_rs::hmac;

/// How long a device stays known after its last sign-in.
pub const DEVICE_TTL: i64 = 180 * 86400;

/// Signs and checks device cookies; derived from the master key, so replicas agree.
pub struct DeviceKey(hmac::Key);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey([redacted])")
    }
}

impl DeviceKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    fn mac(&self, device_id: &str, issued_at: i64, username: &str, credential: &str) -> String {
        let msg = format!(
            "device\n{device_id}\n{issued_at}\n{}\n{}",
            crate::crypto::hash_secret(username),
            crate::crypto::hash_secret(credential)
        );
        b64url(hmac::sign(&self.0, msg.as_bytes()).as_ref())
    }

    /// A cookie value for `username` whose stored password hash is `credential`; keeps
    /// `device_id` when the browser already has one.
    pub fn issue(
        &self,
        username: &str,
        credential: &str,
        device_id: Option<&str>,
        now: i64,
    ) -> String {
        let id = device_id.map_or_else(random_id, str::to_owned);
        format!("{id}.{now}.{}", self.mac(&id, now, username, credential))
    }

    /// A keyed pseudonym of a username for logs: correlatable by us, useless to a log reader
    /// who guesses (a password typed into the username field cannot be recovered from it).
    pub fn pseudonym(&self, username: &str) -> String {
        let tag = hmac::sign(&self.0, format!("pseudonym\n{username}").as_bytes());
        b64url(&tag.as_ref()[..12])
    }

    /// The device id, when `value` is an unexpired cookie issued to this browser for `username`.
    pub fn verify(
        &self,
        value: &str,
        username: &str,
        credential: &str,
        now: i64,
    ) -> Option<String> {
        let mut parts = value.splitn(3, '.');
        let (id, issued, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let issued_at: i64 = issued.parse().ok()?;
        if now.saturating_sub(issued_at) > DEVICE_TTL || issued_at > now.saturating_add(60) {
            return None;
        }
        b64url_decode(mac)?;
        let expected = self.mac(id, issued_at, username, credential);
        constant_time_eq(expected.as_bytes(), mac.as_bytes()).then(|| id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_bound_to_user_credential_key_and_time() {
        let k = DeviceKey::new([7u8; 32]);
        let c = k.issue("alice", "hash1", None, 1000);
        let id = k.verify(&c, "alice", "hash1", 2000).unwrap();
        assert_eq!(id.len(), 32);
        assert!(k.verify(&c, "bob", "hash1", 2000).is_none(), "another user");
        assert!(
            k.verify(&c, "alice", "hash2", 2000).is_none(),
            "password changed"
        );
        assert!(
            DeviceKey::new([8u8; 32])
                .verify(&c, "alice", "hash1", 2000)
                .is_none(),
            "another key"
        );
        assert!(
            k.verify(&c, "alice", "hash1", 1000 + DEVICE_TTL + 1)
                .is_none(),
            "expired"
        );
        let renewed = k.issue("alice", "hash1", Some(&id), 5000);
        assert_eq!(
            k.verify(&renewed, "alice", "hash1", 5000).as_deref(),
            Some(id.as_str())
        );
        let forged = c.replacen(&id, &"0".repeat(32), 1);
        assert!(
            k.verify(&forged, "alice", "hash1", 2000).is_none(),
            "id is under the MAC"
        );
        assert!(k.verify("garbage", "alice", "hash1", 2000).is_none());
        assert!(k.verify("", "alice", "hash1", 2000).is_none());
        let far = format!("{id}.{}.AAAA", i64::MIN);
        assert!(
            k.verify(&far, "alice", "hash1", 2000).is_none(),
            "no overflow on extreme times"
        );
    }
}
