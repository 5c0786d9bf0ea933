//! Reading JWTs we issued (access tokens, ID tokens used as hints). SECURITY.md "JWTs we
//! accept": one of the algorithms we sign with (never `none`, never HMAC), a `kid` we publish
//! whose key is of exactly that algorithm, our `iss`; `typ` keeps the two kinds apart. Expiry
//! is left to callers, who use our clock.
use super::claims::AccessTokenClaims;
use super::error::OAuthError;
use crate::domain::Alg;
use crate::keys::{Jwk, Keystore};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

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
    decode_with_kid(keys, issuer, token, kind).map(|(_, claims)| claims)
}

/// One of our access tokens, checked as `decode` checks it, through the keystore's memory of
/// the tokens it has verified.
pub fn decode_access(
    keys: &Keystore,
    issuer: &str,
    token: &str,
) -> Result<Arc<AccessTokenClaims>, OAuthError> {
    // Each keystore serves one issuer; the purpose keeps these entries to these rules.
    keys.verified("access token", token, || {
        decode_with_kid(keys, issuer, token, Kind::Access)
    })
}

/// `decode`, with the kid of the key that verified the token.
fn decode_with_kid<T: DeserializeOwned>(
    keys: &Keystore,
    issuer: &str,
    token: &str,
    kind: Kind,
) -> Result<(String, T), OAuthError> {
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
    let claims = jsonwebtoken::decode::<T>(token, &key, &v)
        .map_err(OAuthError::invalid_token)?
        .claims;
    Ok((kid, claims))
}

/// Part `index` of a compact JWT (0 the header, 1 the claims) as JSON, before any signature
/// check: only for choosing how to verify it.
pub fn unverified_part(token: &str, index: usize) -> Option<Value> {
    let raw = crate::crypto::b64url_decode(token.split('.').nth(index)?)?;
    serde_json::from_slice(&raw).ok()
}

/// The algorithms we accept in JWTs others sign (DPoP proofs): asymmetric only, never `none`
/// or HMAC (RFC 8725 §3.1, RFC 9449 §4.3 step 5).
pub const FOREIGN_ALGS: [&str; 4] = ["ES256", "PS256", "RS256", "EdDSA"];

/// A public key someone else holds, fit for exactly one algorithm.
pub struct ForeignKey {
    alg: Algorithm,
    jwk: Jwk,
    key: DecodingKey,
}

impl ForeignKey {
    /// The key a JWT header embeds (`jwk`), for the header's `alg`.
    pub fn from_header(header: &Value) -> Result<Self, &'static str> {
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or("the header names no alg")?;
        let jwk = header.get("jwk").ok_or("the header carries no jwk")?;
        Self::new(alg, jwk)
    }

    /// `jwk` for `alg`: a public key of the type the algorithm needs (RSA of 2048 bits or
    /// more, P-256, Ed25519), whose own `alg` and `use`, if given, agree.
    pub fn new(alg: &str, jwk: &Value) -> Result<Self, &'static str> {
        if !FOREIGN_ALGS.contains(&alg) {
            return Err("the algorithm is not one we accept");
        }
        let parsed: Algorithm = alg
            .parse()
            .map_err(|_| "the algorithm is not one we accept")?;
        let members = jwk.as_object().ok_or("the jwk is not an object")?;
        if crate::domain::client::PRIVATE_JWK_MEMBERS
            .iter()
            .any(|m| members.contains_key(*m))
        {
            return Err("the jwk holds a private key");
        }
        let key: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| "the jwk is malformed")?;
        if !key.alg.is_empty() && key.alg != alg {
            return Err("the jwk is for another algorithm");
        }
        if !key.use_.is_empty() && key.use_ != "sig" {
            return Err("the jwk is not for signatures");
        }
        let present = |v: &Option<String>| v.as_deref().and_then(crate::crypto::b64url_decode);
        let fits = match parsed {
            Algorithm::RS256 | Algorithm::PS256 => {
                key.kty == "RSA" && present(&key.n).is_some_and(|n| n.len() >= 256)
            }
            Algorithm::ES256 => {
                key.kty == "EC" && key.crv.as_deref() == Some("P-256") && present(&key.y).is_some()
            }
            Algorithm::EdDSA => key.kty == "OKP" && key.crv.as_deref() == Some("Ed25519"),
            _ => false,
        };
        if !fits {
            return Err("the jwk does not fit the algorithm");
        }
        let decoding = key.decoding_key().ok_or("the jwk is malformed")?;
        Ok(Self {
            alg: parsed,
            jwk: key,
            key: decoding,
        })
    }

    /// RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> String {
        self.jwk.thumbprint()
    }

    /// The claims of `token`, signed by this key with its algorithm. Time and audience are the
    /// caller's to check; `required` names claims that must be present.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        required: &[&str],
    ) -> Result<T, jsonwebtoken::errors::Error> {
        let mut v = Validation::new(self.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.set_required_spec_claims(required);
        Ok(jsonwebtoken::decode::<T>(token, &self.key, &v)?.claims)
    }
}
