//! RFC 7636 (PKCE), S256 only.
use crate::crypto::{b64url, sha256};

/// The one transform we accept (RFC 7636 §4.2).
pub const S256: &str = "S256";
/// Stored as a code's method when its client's policy let it leave PKCE out.
pub const NONE: &str = "none";

/// RFC 7636 §4.1: 43–128 characters of `[A-Z a-z 0-9 - . _ ~]`.
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(is_unreserved)
}

/// An S256 challenge is base64url(SHA-256) without padding: exactly 43 characters.
pub fn is_valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))).
pub fn s256_challenge(verifier: &str) -> String {
    b64url(&sha256(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_valid_verifier(v));
        assert_eq!(
            s256_challenge(v),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_valid_s256_challenge(&s256_challenge(v)));
    }

    #[test]
    fn verifier_syntax() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        for bad in ['=', '$', '+', '/', ' '] {
            assert!(!is_valid_verifier(&format!("{}{bad}", "a".repeat(43))));
        }
    }

    #[test]
    fn challenge_syntax() {
        assert!(!is_valid_s256_challenge("short"));
        assert!(!is_valid_s256_challenge(&format!("{}=", "a".repeat(42))));
    }
}
