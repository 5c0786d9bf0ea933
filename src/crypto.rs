//! Randomness, hashing of stored secrets, constant-time comparison, and a redacting wrapper.
//! Imports nothing from the crate.
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{constant_time, digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// base64url without padding, as JOSE and PKCE use it.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// `n` bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // aws-lc's RNG only fails if the OS entropy source is gone; there is no safe fallback.
    #[allow(clippy::expect_used)]
    rand::fill(&mut buf).expect("system random number generator failed");
    buf
}

/// A 256-bit random token, base64url (43 characters). RFC 6749 §10.10 asks for ≥128 bits.
pub fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

/// A 128-bit random identifier (never sequential), lowercase hex: safe in URLs, file names and
/// as a command-line argument (a base64url id may start with `-`).
pub fn random_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in random_bytes::<16>() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// How secrets (codes, client secrets, tokens) are kept in the store: SHA-256, base64url.
pub fn hash_secret(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// AES-256-GCM: base64url(nonce ‖ ciphertext ‖ tag). `None` only if the key is unusable.
pub fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Option<String> {
    let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let mut buf = plaintext.to_vec();
    cipher
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut buf,
        )
        .ok()?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&buf);
    Some(b64url(&out))
}

/// Opens what `seal` made; `None` when the key is wrong or the data was altered.
pub fn open(key: &[u8; 32], sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
    let data = b64url_decode(sealed)?;
    if data.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = data.split_at(NONCE_LEN);
    let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let mut buf = ct.to_vec();
    let plain = cipher
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).ok()?,
            Aad::from(aad),
            &mut buf,
        )
        .ok()?;
    Some(plain.to_vec())
}

/// A 256-bit key derived from a high-entropy secret (a token), for a named purpose.
pub fn derive_key(purpose: &str, secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&sha256(format!("{purpose}\0{secret}").as_bytes()));
    out
}

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_chars_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }

    #[test]
    fn ids_are_lowercase_hex() {
        let id = random_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[redacted]");
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
