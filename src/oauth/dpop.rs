//! DPoP (RFC 9449): checking a proof, the key thumbprint tokens are bound to, and the server's
//! nonces. The checks are pure; `check` adds the one store write, against replay.
use super::error::{ErrorCode, OAuthError};
use super::jwt;
use crate::crypto::{b64url, constant_time_eq, hash_secret, sha256};
use crate::store::Store;
use aws_lc_rs::hmac;
use serde::Deserialize;
use serde_json::Value;

/// How old a proof's `iat` may be, and how far ahead of our clock (RFC 9449 §4.3 step 11):
/// proofs are made just before each request; five minutes absorbs slow clients, one minute
/// ahead absorbs clock skew. A used proof is remembered until it could no longer pass.
pub const MAX_AGE: i64 = 300;
pub const MAX_AHEAD: i64 = 60;
/// A proof is a few hundred bytes; an RSA key makes it under 2 KB.
const MAX_PROOF: usize = 8192;
const MAX_JTI: usize = 256;
/// Nonces change every period and are accepted for two (RFC 9449 §8).
const NONCE_PERIOD: i64 = 120;

/// What the request carrying a proof must match (RFC 9449 §4.3).
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    pub method: &'a str,
    /// The endpoint's URL, as we publish it.
    pub url: &'a str,
    /// At a resource, the access token the proof must hash into `ath` (step 12).
    pub access_token: Option<&'a str>,
    /// At a resource, the key the token is bound to (§7.1): a proof of another key is refused
    /// before it is recorded.
    pub bound_to: Option<&'a str>,
    /// Set when the server hands out nonces: a proof must then carry a current one.
    pub nonces: Option<&'a Nonces>,
    pub now: i64,
}

/// A proof that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's key, which tokens are bound to (`cnf.jkt`, §6.1).
    pub jkt: String,
    jti: String,
    iat: i64,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token.
pub fn ath(access_token: &str) -> String {
    b64url(&sha256(access_token.as_bytes()))
}

/// The checks of RFC 9449 §4.3, steps 2 to 12, except replay (`check` does that).
pub fn verify(proof: &str, expected: Expected<'_>) -> Result<Proof, OAuthError> {
    if proof.len() > MAX_PROOF {
        return Err(OAuthError::invalid_dpop_proof("the DPoP proof is too long"));
    }
    let header = jwt::unverified_part(proof, 0)
        .ok_or_else(|| OAuthError::invalid_dpop_proof("the DPoP proof is not a JWT"))?;
    // Step 4: the type keeps a proof from passing as any other JWT.
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof's typ must be dpop+jwt",
        ));
    }
    let key = jwt::ForeignKey::from_header(&header).map_err(OAuthError::invalid_dpop_proof)?;
    let claims: ProofClaims = key
        .verify(proof, &[])
        .map_err(|_| OAuthError::invalid_dpop_proof("the DPoP proof's signature is invalid"))?;
    // Steps 8 and 9: the proof was made for this very request.
    if claims.htm != expected.method {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof's htm is not this request's method",
        ));
    }
    if !same_uri(&claims.htu, expected.url) {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof's htu is not this endpoint",
        ));
    }
    // Step 11.
    if claims.iat < expected.now - MAX_AGE || claims.iat > expected.now + MAX_AHEAD {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof's iat is too old or in the future",
        ));
    }
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof needs a jti of at most 256 characters",
        ));
    }
    // Step 12: the proof is tied to the token it comes with.
    if let Some(token) = expected.access_token {
        let matches = claims
            .ath
            .as_deref()
            .is_some_and(|a| constant_time_eq(a.as_bytes(), ath(token).as_bytes()));
        if !matches {
            return Err(OAuthError::invalid_dpop_proof(
                "the DPoP proof's ath does not match the access token",
            ));
        }
    }
    let jkt = key.thumbprint();
    if let Some(bound) = expected.bound_to
        && !constant_time_eq(bound.as_bytes(), jkt.as_bytes())
    {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof is not made with the token's key",
        ));
    }
    // Step 10, checked last so that a client is only told to retry with a nonce when that is
    // all that was wrong.
    if let Some(nonces) = expected.nonces
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, expected.now))
    {
        return Err(OAuthError::new(
            ErrorCode::UseDpopNonce,
            "the DPoP proof must carry the nonce in the DPoP-Nonce header",
        ));
    }
    Ok(Proof {
        jkt,
        jti: claims.jti,
        iat: claims.iat,
    })
}

/// RFC 9449 §4.3 step 9: `htu` matches the URL without its query and fragment, compared after
/// RFC 3986 §6 normalisation (scheme and host case, default port).
fn same_uri(htu: &str, url: &str) -> bool {
    let strip = |s: &str| {
        url::Url::parse(s).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        })
    };
    matches!((strip(htu), strip(url)), (Some(a), Some(b)) if a == b)
}

/// A request's `DPoP` headers checked in full: at most one (RFC 9449 §4.3 step 1), valid, and
/// never seen before on any replica (§11.1). `None` when the request carries no proof.
pub async fn check(
    store: &Store,
    headers: &[&str],
    expected: Expected<'_>,
) -> Result<Option<Proof>, OAuthError> {
    let proof = match headers {
        [] => return Ok(None),
        [one] => verify(one, expected)?,
        _ => {
            return Err(OAuthError::invalid_dpop_proof(
                "send at most one DPoP header",
            ));
        }
    };
    let seen_until = proof.iat.max(expected.now) + MAX_AGE;
    let id = hash_secret(&format!("dpop {} {}", proof.jkt, proof.jti));
    if !store.record_seen_jwt(&id, seen_until).await? {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof was already used",
        ));
    }
    Ok(Some(proof))
}

/// Server-provided nonces (RFC 9449 §8, §9): an HMAC of the current period under a key every
/// replica derives from the master key, so any replica accepts another's nonce and nothing is
/// stored.
pub struct Nonces {
    key: hmac::Key,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces")
    }
}

impl Nonces {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        }
    }

    fn of_period(&self, period: i64) -> String {
        b64url(&hmac::sign(&self.key, &period.to_be_bytes()).as_ref()[..16])
    }

    /// The nonce to hand out now, in the `DPoP-Nonce` header.
    pub fn current(&self, now: i64) -> String {
        self.of_period(now.div_euclid(NONCE_PERIOD))
    }

    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let period = now.div_euclid(NONCE_PERIOD);
        [period, period - 1]
            .into_iter()
            .any(|p| constant_time_eq(self.of_period(p).as_bytes(), nonce.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    const URL: &str = "https://id.example.com/token";
    const NOW: i64 = 1_800_000_000;

    struct Key(EcdsaKeyPair);

    impl Key {
        fn new() -> Self {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .unwrap()
                .as_ref()
                .to_vec();
            Self(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap())
        }

        fn jwk(&self) -> Value {
            let point = self.0.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "x": b64url(&point[1..33]), "y": b64url(&point[33..])})
        }

        fn sign(&self, header: Value, claims: Value) -> String {
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let sig = self.0.sign(&rng, input.as_bytes()).unwrap();
            format!("{input}.{}", b64url(sig.as_ref()))
        }

        fn proof(&self, claims: Value) -> String {
            self.sign(
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()}),
                claims,
            )
        }
    }

    fn claims() -> Value {
        json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": NOW})
    }

    fn expected() -> Expected<'static> {
        Expected {
            method: "POST",
            url: URL,
            access_token: None,
            bound_to: None,
            nonces: None,
            now: NOW,
        }
    }

    fn with(mut base: Value, key: &str, value: Value) -> Value {
        base[key] = value;
        base
    }

    fn refused(proof: &str, e: Expected<'_>) -> ErrorCode {
        verify(proof, e).unwrap_err().code
    }

    #[test]
    fn a_good_proof_binds_its_key_thumbprint() {
        let key = Key::new();
        let proof = verify(&key.proof(claims()), expected()).unwrap();
        let jwk: crate::keys::Jwk = serde_json::from_value(key.jwk()).unwrap();
        assert_eq!(proof.jkt, jwk.thumbprint());
    }

    #[test]
    fn htm_htu_and_iat_must_fit_the_request() {
        let key = Key::new();
        let bad = [
            with(claims(), "htm", json!("GET")),
            with(claims(), "htu", json!("https://id.example.com/userinfo")),
            with(claims(), "htu", json!("https://other.example.com/token")),
            with(claims(), "iat", json!(NOW - MAX_AGE - 1)),
            with(claims(), "iat", json!(NOW + MAX_AHEAD + 1)),
            with(claims(), "jti", json!("")),
        ];
        for c in bad {
            assert_eq!(
                refused(&key.proof(c.clone()), expected()),
                ErrorCode::InvalidDpopProof,
                "{c}"
            );
        }
        // RFC 9449 §4.3: query and fragment are ignored; scheme and host case too.
        for htu in [
            "https://id.example.com/token?x=1",
            "HTTPS://ID.example.com:443/token",
        ] {
            verify(&key.proof(with(claims(), "htu", json!(htu))), expected()).unwrap();
        }
    }

    #[test]
    fn the_header_must_be_a_dpop_header_with_a_public_key() {
        let key = Key::new();
        let mut private = key.jwk();
        private["d"] = json!("AAAA");
        let headers = [
            json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}),
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk()}),
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}),
            json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": key.jwk()}),
            json!({"typ": "dpop+jwt", "alg": "ES256"}),
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
        ];
        for h in headers {
            assert_eq!(
                refused(&key.sign(h.clone(), claims()), expected()),
                ErrorCode::InvalidDpopProof,
                "{h}"
            );
        }
        // Signed by another key than the one it names.
        let other = Key::new();
        let forged = other.sign(
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
            claims(),
        );
        assert_eq!(refused(&forged, expected()), ErrorCode::InvalidDpopProof);
    }

    #[test]
    fn ath_binds_the_proof_to_the_access_token() {
        let key = Key::new();
        let at = Expected {
            access_token: Some("token-1"),
            ..expected()
        };
        assert_eq!(
            refused(&key.proof(claims()), at),
            ErrorCode::InvalidDpopProof
        );
        let other = with(claims(), "ath", json!(ath("token-2")));
        assert_eq!(refused(&key.proof(other), at), ErrorCode::InvalidDpopProof);
        verify(&key.proof(with(claims(), "ath", json!(ath("token-1")))), at).unwrap();
    }

    #[test]
    fn a_bound_token_wants_a_proof_of_its_key() {
        let (key, other) = (Key::new(), Key::new());
        let proof = key.proof(claims());
        let jkt = verify(&proof, expected()).unwrap().jkt;
        let bound = Expected {
            bound_to: Some(&jkt),
            ..expected()
        };
        verify(&proof, bound).unwrap();
        assert_eq!(
            refused(&other.proof(claims()), bound),
            ErrorCode::InvalidDpopProof
        );
    }

    #[test]
    fn nonces_are_asked_for_then_accepted_for_two_periods() {
        let key = Key::new();
        let nonces = Nonces::new([7; 32]);
        let e = Expected {
            nonces: Some(&nonces),
            ..expected()
        };
        assert_eq!(refused(&key.proof(claims()), e), ErrorCode::UseDpopNonce);
        let stale = with(
            claims(),
            "nonce",
            json!(nonces.current(NOW - 2 * NONCE_PERIOD)),
        );
        assert_eq!(refused(&key.proof(stale), e), ErrorCode::UseDpopNonce);
        let fresh = with(claims(), "nonce", json!(nonces.current(NOW - NONCE_PERIOD)));
        verify(&key.proof(fresh), e).unwrap();
        // Another master key's nonce is not ours.
        let foreign = with(claims(), "nonce", json!(Nonces::new([8; 32]).current(NOW)));
        assert_eq!(refused(&key.proof(foreign), e), ErrorCode::UseDpopNonce);
    }
}
