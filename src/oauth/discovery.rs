//! OpenID Provider metadata (OIDC Discovery §3, RFC 8414), built from the issuer and the shared
//! endpoint constants, advertising only what is implemented.
use super::endpoints as ep;
use crate::domain::Alg;
use crate::domain::scope::SUPPORTED_SCOPES;
use serde_json::{Value, json};

/// `algs` are the ones this deployment signs with, RS256 first; `registration` says whether
/// dynamic registration is on; `require_par` whether every client must push its requests.
pub fn metadata(issuer: &str, algs: &[Alg], registration: bool, require_par: bool) -> Value {
    let algs: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
    let mut m = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{}", ep::AUTHORIZE),
        "token_endpoint": format!("{issuer}{}", ep::TOKEN),
        "userinfo_endpoint": format!("{issuer}{}", ep::USERINFO),
        "jwks_uri": format!("{issuer}{}", ep::JWKS),
        "revocation_endpoint": format!("{issuer}{}", ep::REVOKE),
        "introspection_endpoint": format!("{issuer}{}", ep::INTROSPECT),
        "end_session_endpoint": format!("{issuer}{}", ep::LOGOUT),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        // RFC 8414 §2: what client assertions (RFC 7523) may be signed with.
        "token_endpoint_auth_signing_alg_values_supported": super::jwt::FOREIGN_ALGS,
        "revocation_endpoint_auth_signing_alg_values_supported": super::jwt::FOREIGN_ALGS,
        "introspection_endpoint_auth_signing_alg_values_supported": super::jwt::FOREIGN_ALGS,
        "code_challenge_methods_supported": ["S256"],
        // OIDC Discovery §3: the context classes `acr_values` may ask for.
        // OIDC Discovery §3: the languages of our pages (ui_locales).
        "ui_locales_supported": ["en", "de", "fr"],
        "acr_values_supported": [crate::domain::Acr::SINGLE, crate::domain::Acr::MULTI],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "amr", "acr", "sid",
                              "name", "given_name", "family_name", "middle_name", "nickname",
                              "preferred_username", "picture", "website", "gender", "birthdate",
                              "zoneinfo", "locale", "updated_at", "email", "email_verified",
                              "phone_number", "phone_number_verified", "address", "groups"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        // RFC 9126 §5.
        "pushed_authorization_request_endpoint": format!("{issuer}{}", ep::PAR),
        "require_pushed_authorization_requests": require_par,
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": super::jwt::FOREIGN_ALGS,
        // Back-Channel Logout 1.0 §2.1: logout tokens carry `sid`, and ID tokens too.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    // RFC 8414 §2: advertised only when registration is open to initial access tokens.
    if registration && let Some(o) = m.as_object_mut() {
        o.insert(
            "registration_endpoint".into(),
            format!("{issuer}{}", ep::REGISTER).into(),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_metadata_present() {
        let m = metadata(
            "https://id.example.com",
            &[Alg::RS256, Alg::EdDSA],
            false,
            false,
        );
        for k in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(m.get(k).is_some(), "{k}");
        }
        assert_eq!(m["jwks_uri"], "https://id.example.com/jwks.json");
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            json!(["RS256", "EdDSA"])
        );
    }
}
