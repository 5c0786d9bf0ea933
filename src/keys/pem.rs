//! PEM import and export of signing keys with the `rsa` crate; aws-lc-rs does all signing.
use super::{Jwk, KeyError};
use crate::crypto::b64url_decode;
use rsa::pkcs8::LineEnding;

fn import(message: &str) -> KeyError {
    KeyError::Import(message.into())
}

/// An RSA private key in PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM, of 2048 bits
/// or more, as the PKCS#8 DER the keystore seals.
pub fn rsa_private_pkcs8(pem: &str) -> Result<Vec<u8>, KeyError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    use rsa::traits::PublicKeyParts;
    let pem = pem.trim();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| import("not an RSA private key in PKCS#8 or PKCS#1 PEM"))?;
    if key.size() * 8 < 2048 {
        return Err(import("RSA keys shorter than 2048 bits are refused"));
    }
    key.to_pkcs8_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| import("the key cannot be encoded as PKCS#8"))
}

/// DER prefixes of a SubjectPublicKeyInfo (RFC 5480 §2 for P-256, RFC 8410 §4 for Ed25519),
/// before the key's own bytes.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A published key's public half as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), which API
/// gateways' JWT plugins take.
pub fn public_pem(jwk: &Jwk) -> Result<String, KeyError> {
    let part = |v: &Option<String>| {
        v.as_deref()
            .and_then(b64url_decode)
            .ok_or_else(|| import("the stored public key is incomplete"))
    };
    let der = match jwk.kty.as_str() {
        "RSA" => {
            use rsa::pkcs8::EncodePublicKey;
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&part(&jwk.n)?),
                rsa::BigUint::from_bytes_be(&part(&jwk.e)?),
            )
            .map_err(|_| import("the stored RSA public key is invalid"))?;
            return key
                .to_public_key_pem(LineEnding::LF)
                .map_err(|_| import("the key cannot be encoded as PEM"));
        }
        "EC" => [P256_SPKI, &part(&jwk.x)?, &part(&jwk.y)?].concat(),
        _ => [ED25519_SPKI, &part(&jwk.x)?[..]].concat(),
    };
    rsa::pkcs8::der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &der)
        .map_err(|_| import("the key cannot be encoded as PEM"))
}
