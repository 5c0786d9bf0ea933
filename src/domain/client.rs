//! OAuth clients and the redirect-URI rules.
use super::Alg;
use crate::config::is_loopback_host;

/// A registered relying party.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret; `None` for a public client (RFC 6749 §2.1).
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Resource servers (APIs) its access tokens are meant for (RFC 9068 `aud`).
    pub audiences: Vec<String>,
    /// First-party apps never show the consent page.
    pub skip_consent: bool,
    pub created_at: i64,
    /// Scopes this client may be granted; `None` means every supported OIDC scope. For the
    /// client credentials grant these are the API scopes it may ask for.
    pub allowed_scopes: Option<Vec<String>>,
    pub grant_types: Vec<GrantType>,
    /// RP-Initiated Logout: where the browser may be sent after sign-out (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Browser origins allowed to call token, userinfo and revocation endpoints (CORS).
    pub allowed_origins: Vec<String>,
    /// Refresh-token family lifetime and idle lifetime, seconds; `None` = server default.
    pub refresh_token_ttl: Option<i64>,
    pub refresh_idle_ttl: Option<i64>,
    /// The APIs this client *is* (a resource server): it may introspect tokens meant for them.
    pub resource_audiences: Vec<String>,
    /// RFC 9700 §2.1.1: PKCE may be left out by this confidential client (certification
    /// suites, legacy apps). Never for public clients; the default is required.
    pub pkce_optional: bool,
    /// Every sign-in for this client needs a second factor.
    pub require_mfa: bool,
    /// OIDC Registration §2: what its ID tokens are signed with (RS256 unless it asks).
    pub id_token_signed_response_alg: Alg,
    /// What its access tokens are signed with: the algorithm its resource servers verify.
    pub access_token_signed_response_alg: Alg,
}

/// The grant types Gatehouse implements (RFC 6749 §4.1, §4.4, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [Self; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// The wire name's grant, if Gatehouse implements it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Public clients always need PKCE, whatever is stored.
    pub fn requires_pkce(&self) -> bool {
        self.is_public() || !self.pkce_optional
    }

    pub fn allows_grant(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }

    /// RP-Initiated Logout §3: exact match only.
    pub fn allows_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Origins allowed for CORS: those of a public client's redirect URIs, plus registered ones.
    pub fn cors_origins(&self) -> Vec<String> {
        let mut out = self.allowed_origins.clone();
        if self.is_public() {
            for uri in &self.redirect_uris {
                if let Ok(u) = url::Url::parse(uri) {
                    let origin = u.origin().ascii_serialization();
                    if origin != "null" && !out.contains(&origin) {
                        out.push(origin);
                    }
                }
            }
        }
        out
    }

    /// RFC 6749 §3.1.2.3: the request's redirect_uri must be one registered for this client.
    pub fn allows_redirect_uri(&self, requested: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|r| redirect_uri_matches(r, requested))
    }
}

/// Why a redirect URI cannot be registered.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI must be an absolute URL")]
    NotAbsolute,
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    #[error("redirect URI must use https (http only on loopback)")]
    Scheme,
    #[error("redirect URI must not contain user info or whitespace")]
    Malformed,
}

/// Registration rules (RFC 6749 §3.1.2, RFC 9700 §2.6): absolute, no fragment, https or loopback
/// http, no user info. Schemes are checked case-insensitively so `JavaScript:` cannot slip in.
pub fn validate_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    if uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RedirectUriError::Malformed);
    }
    let parsed = url::Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(RedirectUriError::Malformed);
    }
    let lower = uri.to_ascii_lowercase();
    let loopback_http =
        lower.starts_with("http://") && is_loopback_host(parsed.host_str().unwrap_or(""));
    if lower.starts_with("https://") || loopback_http {
        Ok(())
    } else {
        Err(RedirectUriError::Scheme)
    }
}

/// RFC 9700 §2.1 / §4.1.3: simple string comparison. The one exception (RFC 8252 §7.3): for a
/// registered `http` loopback IP URI the port may differ; everything else stays byte-exact.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (
        split_loopback_port(registered),
        split_loopback_port(requested),
    ) {
        (Some((rh, rrest)), Some((qh, qrest))) => rh == qh && rrest == qrest,
        _ => false,
    }
}

/// For `http://127.0.0.1[:port]rest`, `http://[::1][:port]rest` or `http://localhost[:port]rest`
/// returns (host, rest); the port must be all digits.
fn split_loopback_port(uri: &str) -> Option<(&str, &str)> {
    let after = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]", "localhost"]
        .into_iter()
        .find(|h| after.starts_with(h))?;
    let tail = &after[host.len()..];
    let rest = match tail.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            &p[digits..]
        }
        None => tail,
    };
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
        return None;
    }
    Some((host, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_only() {
        let r = "https://app.example.com/cb";
        assert!(redirect_uri_matches(r, r));
        for near in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb?x=1",
            "https://app.example.com:8443/cb",
            "https://app.example.com/cb#",
            "https://app.example.com/cb/../cb",
            "https://app.example.com@evil.example/cb",
            "http://app.example.com/cb",
        ] {
            assert!(!redirect_uri_matches(r, near), "{near}");
        }
    }

    #[test]
    fn loopback_port_may_vary_but_nothing_else() {
        let r = "http://127.0.0.1/callback";
        assert!(redirect_uri_matches(r, "http://127.0.0.1:51234/callback"));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:8000/cb",
            "http://127.0.0.1:9/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:1/cb?a=b",
            "http://[::1]:2/cb?a=b"
        ));
        assert!(!redirect_uri_matches(
            r,
            "http://127.0.0.1:51234/callback?x"
        ));
        assert!(!redirect_uri_matches(r, "http://127.0.0.1:51234/Callback"));
        assert!(!redirect_uri_matches(
            r,
            "http://127.0.0.1.evil.example/callback"
        ));
        assert!(!redirect_uri_matches(r, "http://localhost:5/callback"));
        assert!(!redirect_uri_matches(r, "https://127.0.0.1:5/callback"));
        assert!(!redirect_uri_matches(r, "http://127.0.0.1:abc/callback"));
    }

    #[test]
    fn registration_rules() {
        assert!(validate_redirect_uri("https://app.example.com/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost/cb").is_ok());
        assert_eq!(
            validate_redirect_uri("https://a.example/cb#x"),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate_redirect_uri("http://app.example.com/cb"),
            Err(RedirectUriError::Scheme)
        );
        assert_eq!(
            validate_redirect_uri("JavaScript:alert(1)"),
            Err(RedirectUriError::Scheme)
        );
        assert_eq!(
            validate_redirect_uri("data:text/html,x"),
            Err(RedirectUriError::Scheme)
        );
        assert_eq!(
            validate_redirect_uri("/relative"),
            Err(RedirectUriError::NotAbsolute)
        );
        assert_eq!(
            validate_redirect_uri("https://u:p@a.example/"),
            Err(RedirectUriError::Malformed)
        );
    }
}
