//! Reading JWTs we issued (access tokens, ID tokens used as hints). SECURITY.md "JWTs we
//! accept": one of the algorithms we sign with (never `none`, never HMAC), a `kid` we publish
//! whose key is of exactly that algorithm, our `iss`; `typ` keeps the two kinds apart. Expiry
//! is left to callers, who use our clock.
use super::error::OAuthError;
use crate::domain::Alg;
use crate::keys::Keystore;
use jsonwebtoken::{Algorithm, Validation};
use serde::de::DeserializeOwned;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// RFC 9068: `typ` is `at+jwt`.
    Access,
    /// OIDC ID token: `typ` is `JWT` (never `at+jwt`).
    Id,
}

pub fn decode<T: DeserializeOwned>(
    keys: &Keystore,
    issuer: &str,
    token: &str,
    kind: Kind,
) -> Result<T, OAuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(OAuthError::invalid_token)?;
    let alg = match header.alg {
        Algorithm::RS256 => Alg::RS256,
        Algorithm::ES256 => Alg::ES256,
        Algorithm::EdDSA => Alg::EdDSA,
        _ => return Err(OAuthError::invalid_token("unsupported algorithm")),
    };
    let typ = header.typ.as_deref().unwrap_or("JWT");
    let is_access =
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt");
    if is_access != (kind == Kind::Access) {
        return Err(OAuthError::invalid_token("wrong token type"));
    }
    let kid = header
        .kid
        .ok_or_else(|| OAuthError::invalid_token("no kid"))?;
    let (key_alg, key) = keys
        .decoding_key(&kid)
        .ok_or_else(|| OAuthError::invalid_token("unknown kid"))?;
    // RFC 8725 §3.1: the key decides the algorithm, never the header alone.
    if key_alg != alg {
        return Err(OAuthError::invalid_token(
            "algorithm does not match the key",
        ));
    }
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.validate_exp = false;
    // RFC 7519 §4.1.5: every JWT we accept, whatever its kind (we issue none with nbf).
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
    Ok(jsonwebtoken::decode::<T>(token, &key, &v)
        .map_err(OAuthError::invalid_token)?
        .claims)
}
