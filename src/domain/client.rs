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
    /// RFC 9126 §6 `require_pushed_authorization_requests`: its authorization requests must be
    /// pushed to `/par` first.
    pub require_par: bool,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof.
    pub dpop_bound: bool,
    /// RFC 7523 `private_key_jwt`: its public keys as a JWK Set (JSON), or the URL it publishes
    /// them at. A client with either authenticates with a signed assertion, never a secret.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// Back-Channel Logout 1.0 §2.2: where its back end is sent a logout token when a session
    /// it got tokens in ends.
    pub backchannel_logout_uri: Option<String>,
    /// It needs `sid` in logout tokens (they always carry it).
    pub backchannel_logout_session_required: bool,
    /// OIDC Registration §2: what its ID tokens are signed with (RS256 unless it asks).
    pub id_token_signed_response_alg: Alg,
    /// What its access tokens are signed with: the algorithm its resource servers verify.
    pub access_token_signed_response_alg: Alg,
    /// Bumped by every stored change; a change made from an older revision is refused.
    pub revision: i64,
    /// When the secret was last set (creation or rotation); `None` for public clients and
    /// clients registered before this was recorded.
    pub secret_set_at: Option<i64>,
    /// What manages it, when not people: `clients-file` for a declarative clients file,
    /// `registration` for a client that registered itself (RFC 7591).
    pub managed_by: Option<String>,
    /// RFC 7592: the hash of the registration access token that manages a registered client.
    pub registration_token_hash: Option<String>,
    /// When it last got tokens, to within an hour; `None` if never since this was recorded.
    pub last_used_at: Option<i64>,
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
    /// Whether it may have tokens for this API (RFC 8707): the API is on its audience list or,
    /// with no list, its registered scopes name one of the API's.
    pub fn may_use_api(&self, api: &super::Api) -> bool {
        if !self.audiences.is_empty() {
            return self.audiences.contains(&api.identifier);
        }
        self.allowed_scopes
            .as_ref()
            .is_some_and(|l| l.iter().any(|s| api.owns(s)))
    }

    /// Whether it may be granted this scope of that API.
    pub fn may_request_api_scope(&self, api: &super::Api, scope: &str) -> bool {
        self.may_use_api(api)
            && self
                .allowed_scopes
                .as_ref()
                .is_none_or(|l| l.iter().any(|s| s == scope))
    }

    /// No credentials at all (RFC 6749 §2.1): neither a secret nor keys.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none() && !self.has_keys()
    }

    /// It authenticates with `private_key_jwt` (RFC 7523 §2.2).
    pub fn has_keys(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some()
    }

    /// Its registered JWK Set as JSON, for the surfaces that show it.
    pub fn jwks_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.jwks.as_deref()?).ok()
    }

    /// RFC 7591 §2 `token_endpoint_auth_method`.
    pub fn auth_method(&self) -> &'static str {
        if self.has_keys() {
            "private_key_jwt"
        } else if self.is_public() {
            "none"
        } else {
            "client_secret_basic"
        }
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

/// A change to a client's settings, from the command line, the admin API or a clients file.
/// `None` keeps the stored value; a list given replaces the stored one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
    pub skip_consent: Option<bool>,
    /// `Some(None)` allows every supported OIDC scope again.
    pub allowed_scopes: Option<Option<Vec<String>>>,
    pub grant_types: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub resource_audiences: Option<Vec<String>>,
    /// `Some(None)` goes back to the server default.
    pub refresh_token_ttl: Option<Option<i64>>,
    pub refresh_idle_ttl: Option<Option<i64>>,
    pub pkce_optional: Option<bool>,
    pub require_mfa: Option<bool>,
    pub require_par: Option<bool>,
    pub dpop_bound: Option<bool>,
    /// `Some(None)` removes the keys.
    pub jwks: Option<Option<String>>,
    pub jwks_uri: Option<Option<String>>,
    /// `Some(None)` removes it.
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
    pub id_token_signed_response_alg: Option<Alg>,
    pub access_token_signed_response_alg: Option<Alg>,
}

/// One setting that cannot be stored, named by its RFC 7591 metadata name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidMetadata {
    pub field: &'static str,
    pub message: String,
}

impl InvalidMetadata {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// RFC 7591 §3.2.2: a bad redirect URI has its own error code.
    pub fn is_redirect_uri(&self) -> bool {
        self.field == "redirect_uris"
    }
}

/// The longest client name, and how many values one list setting may hold.
pub const MAX_NAME_LEN: usize = 200;
pub const MAX_LIST_LEN: usize = 100;
const MAX_VALUE_LEN: usize = 2000;

impl ClientChanges {
    /// Checks every given setting and applies them onto `c`; `algs` are the algorithms this
    /// deployment signs with. On error `c` is left as it was.
    pub fn apply(self, c: &mut Client, algs: &[Alg]) -> Result<(), InvalidMetadata> {
        let mut next = c.clone();
        self.apply_unchecked(&mut next, algs)?;
        check_client(&next)?;
        *c = next;
        Ok(())
    }

    fn apply_unchecked(self, c: &mut Client, algs: &[Alg]) -> Result<(), InvalidMetadata> {
        if let Some(name) = self.name {
            let name = name.trim().to_owned();
            if name.is_empty()
                || name.chars().count() > MAX_NAME_LEN
                || name.contains(char::is_control)
            {
                return Err(InvalidMetadata::new(
                    "client_name",
                    format!("must be 1 to {MAX_NAME_LEN} printable characters"),
                ));
            }
            c.name = name;
        }
        let lists = [
            ("redirect_uris", &self.redirect_uris),
            ("post_logout_redirect_uris", &self.post_logout_redirect_uris),
            ("audiences", &self.audiences),
            ("resource_audiences", &self.resource_audiences),
            ("allowed_origins", &self.allowed_origins),
            ("grant_types", &self.grant_types),
        ];
        for (field, list) in lists {
            if let Some(list) = list {
                check_list(field, list)?;
            }
        }
        for (field, uris) in [
            ("redirect_uris", &self.redirect_uris),
            ("post_logout_redirect_uris", &self.post_logout_redirect_uris),
        ] {
            for uri in uris.iter().flatten() {
                validate_redirect_uri(uri)
                    .map_err(|e| InvalidMetadata::new(field, format!("{uri}: {e}")))?;
            }
        }
        for (field, auds) in [
            ("audiences", &self.audiences),
            ("resource_audiences", &self.resource_audiences),
        ] {
            for aud in auds.iter().flatten() {
                if url::Url::parse(aud).is_err() {
                    return Err(InvalidMetadata::new(
                        field,
                        format!("{aud}: must be an absolute URI"),
                    ));
                }
            }
        }
        for origin in self.allowed_origins.iter().flatten() {
            let same = url::Url::parse(origin)
                .map(|u| u.origin().ascii_serialization() == *origin)
                .unwrap_or(false);
            if !same {
                return Err(InvalidMetadata::new(
                    "allowed_origins",
                    format!("{origin}: give scheme://host[:port] only"),
                ));
            }
        }
        if let Some(grants) = &self.grant_types {
            let mut parsed = Vec::new();
            for g in grants {
                let grant = GrantType::parse(g).ok_or_else(|| {
                    let all: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
                    InvalidMetadata::new("grant_types", format!("{g}: one of {}", all.join(", ")))
                })?;
                if !parsed.contains(&grant) {
                    parsed.push(grant);
                }
            }
            if parsed.is_empty() {
                return Err(InvalidMetadata::new("grant_types", "give at least one"));
            }
            c.grant_types = parsed;
        }
        if let Some(Some(scopes)) = &self.allowed_scopes {
            check_list("scope", scopes)?;
            if scopes
                .iter()
                .any(|s| s.is_empty() || !s.chars().all(is_scope_char))
            {
                return Err(InvalidMetadata::new(
                    "scope",
                    "each scope is one word of printable ASCII (RFC 6749 §3.3)",
                ));
            }
        }
        for (field, ttl) in [
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("refresh_idle_ttl", self.refresh_idle_ttl),
        ] {
            if let Some(Some(v)) = ttl
                && v <= 0
            {
                return Err(InvalidMetadata::new(
                    field,
                    "must be a positive number of seconds",
                ));
            }
        }
        for (field, alg) in [
            (
                "id_token_signed_response_alg",
                self.id_token_signed_response_alg,
            ),
            (
                "access_token_signed_response_alg",
                self.access_token_signed_response_alg,
            ),
        ] {
            if let Some(alg) = alg
                && !algs.contains(&alg)
            {
                return Err(InvalidMetadata::new(
                    field,
                    format!("{alg} is not among the configured signing algorithms"),
                ));
            }
        }
        let set = |target: &mut Vec<String>, given: Option<Vec<String>>| {
            if let Some(given) = given {
                *target = given;
            }
        };
        set(&mut c.redirect_uris, self.redirect_uris);
        set(&mut c.audiences, self.audiences);
        set(
            &mut c.post_logout_redirect_uris,
            self.post_logout_redirect_uris,
        );
        set(&mut c.allowed_origins, self.allowed_origins);
        set(&mut c.resource_audiences, self.resource_audiences);
        if let Some(scopes) = self.allowed_scopes {
            c.allowed_scopes = scopes;
        }
        if let Some(b) = self.skip_consent {
            c.skip_consent = b;
        }
        if let Some(b) = self.require_mfa {
            c.require_mfa = b;
        }
        if let Some(b) = self.require_par {
            c.require_par = b;
        }
        if let Some(b) = self.dpop_bound {
            c.dpop_bound = b;
        }
        // Keys given one way replace keys held the other way.
        match (self.jwks, self.jwks_uri) {
            (Some(Some(jwks)), None) => {
                c.jwks = Some(normalized_jwks(&jwks)?);
                c.jwks_uri = None;
            }
            (None, Some(Some(uri))) => {
                check_outbound_uri("jwks_uri", &uri, false)?;
                c.jwks_uri = Some(uri);
                c.jwks = None;
            }
            (jwks, uri) => {
                if let Some(jwks) = jwks {
                    c.jwks = jwks.map(|j| normalized_jwks(&j)).transpose()?;
                }
                if let Some(uri) = uri {
                    if let Some(u) = &uri {
                        check_outbound_uri("jwks_uri", u, false)?;
                    }
                    c.jwks_uri = uri;
                }
            }
        }
        if let Some(uri) = self.backchannel_logout_uri {
            if let Some(u) = &uri {
                check_outbound_uri("backchannel_logout_uri", u, true)?;
            }
            c.backchannel_logout_uri = uri;
        }
        if let Some(b) = self.backchannel_logout_session_required {
            c.backchannel_logout_session_required = b;
        }
        if let Some(b) = self.pkce_optional {
            c.pkce_optional = b;
        }
        if let Some(alg) = self.id_token_signed_response_alg {
            c.id_token_signed_response_alg = alg;
        }
        if let Some(alg) = self.access_token_signed_response_alg {
            c.access_token_signed_response_alg = alg;
        }
        if let Some(ttl) = self.refresh_token_ttl {
            c.refresh_token_ttl = ttl;
        }
        if let Some(ttl) = self.refresh_idle_ttl {
            c.refresh_idle_ttl = ttl;
        }
        Ok(())
    }
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

fn check_list(field: &'static str, list: &[String]) -> Result<(), InvalidMetadata> {
    if list.len() > MAX_LIST_LEN {
        return Err(InvalidMetadata::new(
            field,
            format!("at most {MAX_LIST_LEN} values"),
        ));
    }
    if list.iter().any(|v| v.len() > MAX_VALUE_LEN) {
        return Err(InvalidMetadata::new(
            field,
            format!("each value is at most {MAX_VALUE_LEN} bytes"),
        ));
    }
    Ok(())
}

/// The rules that tie settings together, checked on the whole client.
pub fn check_client(c: &Client) -> Result<(), InvalidMetadata> {
    if c.name.trim().is_empty() {
        return Err(InvalidMetadata::new("client_name", "is required"));
    }
    if c.redirect_uris.is_empty() && c.allows_grant(GrantType::AuthorizationCode) {
        return Err(InvalidMetadata::new(
            "redirect_uris",
            "at least one is required for the authorization_code grant",
        ));
    }
    if c.is_public() && c.allows_grant(GrantType::ClientCredentials) {
        return Err(InvalidMetadata::new(
            "grant_types",
            "public clients cannot use client_credentials",
        ));
    }
    // RFC 7591 §2: a client's keys are held here or at its URL, never both.
    if c.jwks.is_some() && c.jwks_uri.is_some() {
        return Err(InvalidMetadata::new(
            "jwks",
            "give jwks or jwks_uri, not both",
        ));
    }
    if c.has_keys() && c.secret_hash.is_some() {
        return Err(InvalidMetadata::new(
            "token_endpoint_auth_method",
            "a client authenticates with a secret or with keys, not both",
        ));
    }
    if let Some(uri) = &c.backchannel_logout_uri
        && c.is_public()
        && check_outbound_uri("backchannel_logout_uri", uri, false).is_err()
    {
        return Err(InvalidMetadata::new(
            "backchannel_logout_uri",
            "a public client's must use https (Back-Channel Logout 1.0 §2.2)",
        ));
    }
    if c.is_public() && c.pkce_optional {
        return Err(InvalidMetadata::new(
            "pkce",
            "public clients must use PKCE (RFC 9700 §2.1.1)",
        ));
    }
    Ok(())
}

/// JWK members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
pub const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const MAX_JWKS_LEN: usize = 16 * 1024;
const MAX_JWKS_KEYS: usize = 10;

/// A registered JWK Set (RFC 7517 §5), compacted: at most 10 public keys of the types we
/// verify, in at most 16 KB. A private key given by mistake is refused, not stored.
pub fn normalized_jwks(raw: &str) -> Result<String, InvalidMetadata> {
    let bad = |m: &str| InvalidMetadata::new("jwks", m.to_owned());
    if raw.len() > MAX_JWKS_LEN {
        return Err(bad("must be at most 16 KB"));
    }
    let set: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| bad("must be a JSON JWK Set"))?;
    let keys = set
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| bad("must be a JWK Set: {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return Err(bad("must hold 1 to 10 keys"));
    }
    for key in keys {
        let members = key
            .as_object()
            .ok_or_else(|| bad("each key must be an object"))?;
        if PRIVATE_JWK_MEMBERS.iter().any(|m| members.contains_key(*m)) {
            return Err(bad(
                "holds a private or symmetric key; register the public key only",
            ));
        }
        let kty = members.get("kty").and_then(|v| v.as_str());
        if !matches!(kty, Some("RSA" | "EC" | "OKP")) {
            return Err(bad("each key must be an RSA, EC or OKP public key"));
        }
    }
    Ok(serde_json::json!({ "keys": keys }).to_string())
}

/// A URL Gatehouse calls for a client: `https`, or `http` on a loopback host (development).
/// Back-Channel Logout 1.0 §2.2 lets a confidential client's logout URI use plain `http`
/// (`http_ok`; `check_client` holds public clients to https); its query is kept.
fn check_outbound_uri(
    field: &'static str,
    uri: &str,
    http_ok: bool,
) -> Result<(), InvalidMetadata> {
    let bad = || {
        InvalidMetadata::new(
            field,
            if http_ok {
                "must be an https URL (http for a confidential client) without credentials or a fragment"
            } else {
                "must be an https URL without credentials or a fragment"
            },
        )
    };
    let parsed = url::Url::parse(uri).map_err(|_| bad())?;
    let scheme_ok = match parsed.scheme() {
        "https" => true,
        "http" => http_ok || is_loopback_host(parsed.host_str().unwrap_or("")),
        _ => false,
    };
    if !scheme_ok
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.fragment().is_some()
        || uri.len() > 2000
        || uri.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(())
}

/// The client ids an admin may choose: what fits in a URL and a log line unescaped.
pub fn validate_client_id(id: &str) -> Result<(), InvalidMetadata> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(InvalidMetadata::new(
            "client_id",
            "1 to 128 characters of letters, digits, '-', '_', '.' and ':'",
        ))
    }
}

/// The shortest client secret an admin may choose: 128 bits as base64url.
pub const MIN_SECRET_LEN: usize = 22;

pub fn validate_client_secret(secret: &str) -> Result<(), InvalidMetadata> {
    if secret.len() < MIN_SECRET_LEN
        || secret.len() > 512
        || !secret.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(InvalidMetadata::new(
            "client_secret",
            format!("{MIN_SECRET_LEN} to 512 printable ASCII characters (at least 128 bits)"),
        ));
    }
    Ok(())
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

    fn web_app() -> Client {
        Client {
            id: "app".into(),
            name: "App".into(),
            secret_hash: Some("h".into()),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            ..Client::default()
        }
    }

    #[test]
    fn changes_name_the_field_that_is_wrong_and_change_nothing() {
        let cases: Vec<(ClientChanges, &str)> = vec![
            (
                ClientChanges {
                    name: Some("  ".into()),
                    ..Default::default()
                },
                "client_name",
            ),
            (
                ClientChanges {
                    redirect_uris: Some(vec!["http://evil.example/cb".into()]),
                    ..Default::default()
                },
                "redirect_uris",
            ),
            (
                ClientChanges {
                    redirect_uris: Some(vec![]),
                    ..Default::default()
                },
                "redirect_uris",
            ),
            (
                ClientChanges {
                    post_logout_redirect_uris: Some(vec!["https://a.example/#x".into()]),
                    ..Default::default()
                },
                "post_logout_redirect_uris",
            ),
            (
                ClientChanges {
                    grant_types: Some(vec!["implicit".into()]),
                    ..Default::default()
                },
                "grant_types",
            ),
            (
                ClientChanges {
                    grant_types: Some(vec![]),
                    ..Default::default()
                },
                "grant_types",
            ),
            (
                ClientChanges {
                    audiences: Some(vec!["not a uri".into()]),
                    ..Default::default()
                },
                "audiences",
            ),
            (
                ClientChanges {
                    allowed_origins: Some(vec!["https://a.example/path".into()]),
                    ..Default::default()
                },
                "allowed_origins",
            ),
            (
                ClientChanges {
                    allowed_scopes: Some(Some(vec!["a b".into()])),
                    ..Default::default()
                },
                "scope",
            ),
            (
                ClientChanges {
                    allowed_scopes: Some(Some(vec!["caf\u{e9}".into()])),
                    ..Default::default()
                },
                "scope",
            ),
            (
                ClientChanges {
                    refresh_token_ttl: Some(Some(0)),
                    ..Default::default()
                },
                "refresh_token_ttl",
            ),
            (
                ClientChanges {
                    id_token_signed_response_alg: Some(Alg::EdDSA),
                    ..Default::default()
                },
                "id_token_signed_response_alg",
            ),
            (
                ClientChanges {
                    redirect_uris: Some(vec!["https://a.example/".into(); MAX_LIST_LEN + 1]),
                    ..Default::default()
                },
                "redirect_uris",
            ),
        ];
        for (changes, field) in cases {
            let mut c = web_app();
            let err = changes.clone().apply(&mut c, &[Alg::RS256]).unwrap_err();
            assert_eq!(err.field, field, "{changes:?}");
            assert_eq!(c, web_app(), "a refused change must leave the client alone");
        }
    }

    #[test]
    fn rules_that_tie_settings_together() {
        let mut public = web_app();
        public.secret_hash = None;
        let machine = ClientChanges {
            grant_types: Some(vec!["client_credentials".into()]),
            ..Default::default()
        };
        assert_eq!(
            machine
                .clone()
                .apply(&mut public.clone(), &[Alg::RS256])
                .unwrap_err()
                .field,
            "grant_types"
        );
        let lax = ClientChanges {
            pkce_optional: Some(true),
            ..Default::default()
        };
        assert_eq!(
            lax.clone()
                .apply(&mut public, &[Alg::RS256])
                .unwrap_err()
                .field,
            "pkce"
        );
        let mut confidential = web_app();
        lax.apply(&mut confidential, &[Alg::RS256]).unwrap();
        assert!(confidential.pkce_optional);
        let mut m = web_app();
        ClientChanges {
            redirect_uris: Some(vec![]),
            ..machine
        }
        .apply(&mut m, &[Alg::RS256])
        .unwrap();
        assert_eq!(m.grant_types, vec![GrantType::ClientCredentials]);
        assert!(m.redirect_uris.is_empty());
    }

    #[test]
    fn chosen_ids_and_secrets() {
        assert!(validate_client_id("billing-web.prod:1").is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(129)] {
            assert!(validate_client_id(bad).is_err(), "{bad}");
        }
        assert!(validate_client_secret(&"s".repeat(22)).is_ok());
        assert!(validate_client_secret("short").is_err());
        assert!(validate_client_secret(&format!("{} x", "s".repeat(30))).is_err());
    }
}
