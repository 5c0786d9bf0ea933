//! Claim builders (pure): what a user's scopes reveal, and the JWT claim sets.
use crate::crypto::{b64url, sha256};
use crate::domain::{Alg, ScopeSet, User};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// OIDC Core §5.4: the claims `profile`, `email`, `phone` and `address` stand for. Claims
/// without a value are left out (§5.3.2), never sent as null.
pub fn user_claims(user: &User, scope: &ScopeSet) -> Map<String, Value> {
    let mut m = Map::new();
    let p = &user.profile;
    if scope.contains("profile") {
        m.insert("preferred_username".into(), user.username.clone().into());
        if let Some(name) = &user.name {
            m.insert("name".into(), name.clone().into());
        }
        for (claim, value) in [
            ("given_name", &p.given_name),
            ("family_name", &p.family_name),
            ("middle_name", &p.middle_name),
            ("nickname", &p.nickname),
            ("picture", &p.picture),
            ("website", &p.website),
            ("gender", &p.gender),
            ("birthdate", &p.birthdate),
            ("zoneinfo", &p.zoneinfo),
            ("locale", &p.locale),
        ] {
            if let Some(v) = value {
                m.insert(claim.into(), v.clone().into());
            }
        }
        // §5.1: seconds since the epoch, a number.
        m.insert("updated_at".into(), user.updated_at.into());
    }
    if scope.contains("phone")
        && let Some(phone) = &p.phone_number
    {
        m.insert("phone_number".into(), phone.clone().into());
        m.insert(
            "phone_number_verified".into(),
            p.phone_number_verified.into(),
        );
    }
    if scope.contains("address") && !p.address.is_empty() {
        m.insert(
            "address".into(),
            serde_json::to_value(&p.address).unwrap_or_default(),
        );
    }
    if scope.contains("email")
        && let Some(email) = &user.email
    {
        m.insert("email".into(), email.clone().into());
        // True only once the person followed our link to this address, or an admin vouched.
        m.insert("email_verified".into(), user.email_verified.into());
    }
    m
}

/// A JSON string or an array of strings (RFC 7519 `aud`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn from_list(mut v: Vec<String>) -> Self {
        if v.len() == 1 {
            Self::One(v.remove(0))
        } else {
            Self::Many(v)
        }
    }
    pub fn contains(&self, s: &str) -> bool {
        match self {
            Self::One(a) => a == s,
            Self::Many(v) => v.iter().any(|a| a == s),
        }
    }
}

/// RFC 9068 §2.2 access token claims.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// RFC 9068 §2.2.1: how the user authenticated, for APIs that need a second factor.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// RFC 9068 §2.2.3.1: the user's roles that carry a scope of this token's API.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub roles: Vec<String>,
    /// RFC 9068 §2.2.3.1: the user's groups, for the `groups` scope.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub groups: Option<Vec<String>>,
    /// The grant a user's token was issued under: revoking the grant (logout, a password
    /// change, a replayed code, "connected apps") ends the token. Absent on a client's own.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gid: Option<String>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 §3.1 confirmation, by JWK thumbprint (RFC 9449 §6.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

/// OIDC Core §2 ID token claims, with the user's claims for the granted scopes beside them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    /// OIDC Core §2: the party the token was issued to.
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    pub at_hash: String,
    /// RFC 8176 methods and the context class they meet (OIDC Core §2).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// Back-Channel Logout 1.0 §2.1: the session it was issued in, which a logout token names.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    #[serde(flatten)]
    pub user: Map<String, Value>,
}

/// OIDC Core §3.1.3.6 `at_hash`: the left half of the access token's hash, base64url, with the
/// hash of the ID token's `alg`: SHA-256 for RS256 and ES256, SHA-512 for EdDSA over Ed25519
/// (the hash Ed25519 uses, as certified relying parties expect).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    let digest = match alg {
        Alg::RS256 | Alg::ES256 => sha256(access_token.as_bytes()),
        Alg::EdDSA => {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, access_token.as_bytes())
                .as_ref()
                .to_vec()
        }
    };
    b64url(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "u1".into(),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice".into()),
            disabled: false,
            created_at: 0,
            profile: crate::domain::Profile {
                given_name: Some("Ada".into()),
                phone_number: Some("+14155550123".into()),
                address: crate::domain::Address {
                    country: Some("FR".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            updated_at: 42,
            revision: 0,
        }
    }

    #[test]
    fn claims_follow_scope() {
        let none = user_claims(&user(), &ScopeSet::parse_supported("openid"));
        assert!(none.is_empty());
        let all = user_claims(&user(), &ScopeSet::parse_supported("openid profile email"));
        assert_eq!(all["email"], "alice@example.com");
        assert_eq!(all["preferred_username"], "alice");
        assert_eq!(all["name"], "Alice");
        assert_eq!(all["given_name"], "Ada");
        assert_eq!(all["updated_at"], 42);
        assert!(all.get("family_name").is_none(), "no value, no claim");
        assert!(all.get("phone_number").is_none(), "phone needs its scope");
        let contact = user_claims(&user(), &ScopeSet::parse_supported("openid phone address"));
        assert_eq!(contact["phone_number"], "+14155550123");
        assert_eq!(contact["phone_number_verified"], false);
        assert_eq!(contact["address"]["country"], "FR");
        assert!(contact.get("given_name").is_none());
    }

    #[test]
    fn audience_serializes_as_string_when_single() {
        assert_eq!(
            serde_json::to_string(&Audience::from_list(vec!["a".into()])).unwrap(),
            "\"a\""
        );
        assert_eq!(
            serde_json::to_string(&Audience::from_list(vec!["a".into(), "b".into()])).unwrap(),
            "[\"a\",\"b\"]"
        );
    }

    #[test]
    fn at_hash_is_half_sha256() {
        // 16 bytes → 22 base64url characters.
        assert_eq!(at_hash(Alg::RS256, "token").len(), 22);
        assert_eq!(at_hash(Alg::ES256, "token"), at_hash(Alg::RS256, "token"));
        // 32 of SHA-512's 64 bytes → 43 characters.
        assert_eq!(at_hash(Alg::EdDSA, "token").len(), 43);
    }
}
