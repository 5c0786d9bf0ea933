//! The authorization endpoint's rules (RFC 6749 §4.1.1, OIDC Core §3.1.2), as ordered `check_*`
//! steps. client_id and redirect_uri come first: until both are verified an error is shown on
//! our own page and never redirected (RFC 6749 §4.1.2.1, SECURITY.md).
use super::error::{ErrorCode, OAuthError};
use super::jwt::{self, Kind};
use super::pkce;
use crate::config::{CODE_TTL, FLOW_TTL};
use crate::crypto::{hash_secret, random_id, random_token};
use crate::domain::auth::amr_to_wire;
use crate::domain::{AcrRequest, Authentication, Client, Flow, GrantType, ResponseMode, ScopeSet};
use crate::keys::Keystore;
use crate::store::{NewCode, Store};
use std::collections::{HashMap, HashSet};

/// Request parameters with RFC 6749 §3.1 applied: empty values count as omitted, repeated
/// names are remembered so they can be refused. Parsing is linear in the input and stops
/// counting past `MAX_PARAMS`, so a flood of names costs no more than reading it once.
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
    repeated: HashSet<String>,
    /// RFC 8707 §2: `resource` is the one parameter that may be repeated.
    resources: Vec<String>,
    problem: Option<ParamProblem>,
}

/// The most parameters one request may carry (SECURITY.md "Parsing is bounded").
pub const MAX_PARAMS: usize = 100;

/// What makes a parameter set unacceptable as a whole; the first one found wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamProblem {
    TooMany,
    /// A name or value holds a control character (NUL, CR, LF, DEL, …).
    ControlCharacter(String),
    /// RFC 6749 §3.1: parameters must not be included more than once.
    Repeated(String),
}

/// True when `s` holds a character no parameter may carry.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

impl Params {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut p = Self::default();
        for (count, (k, v)) in pairs.into_iter().enumerate() {
            if count >= MAX_PARAMS {
                p.problem = Some(ParamProblem::TooMany);
                break;
            }
            if p.problem.is_none() && (has_control(&k) || has_control(&v)) {
                p.problem = Some(ParamProblem::ControlCharacter(k.clone()));
            }
            if v.is_empty() {
                continue;
            }
            if k == "resource" {
                p.resources.push(v);
                continue;
            }
            match p.values.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    if p.repeated.insert(e.key().clone()) && p.problem.is_none() {
                        p.problem = Some(ParamProblem::Repeated(e.key().clone()));
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        p
    }

    /// Every parameter, each `resource` too: what a pushed request keeps.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.extend(
            self.resources
                .iter()
                .map(|r| ("resource".to_owned(), r.clone())),
        );
        pairs
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every `resource` value, in order.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.contains(name)
    }

    /// Too many parameters, a control character, or a repeat: the first such problem.
    pub fn problem(&self) -> Option<&ParamProblem> {
        self.problem.as_ref()
    }
}

/// How a failed authorization request is answered.
#[derive(Debug)]
pub enum Rejection {
    /// client_id or redirect_uri not verified: our error page, no redirect.
    Page(OAuthError),
    /// Verified client and redirect_uri: back to the client with `error`.
    Redirect(ErrorRedirect),
}

#[derive(Debug)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: OAuthError,
    pub response_mode: ResponseMode,
}

/// An authorization response for a verified redirect URI, success or error, not yet rendered:
/// the web layer sends it as a redirect or as a self-posting form.
#[derive(Debug)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl AuthorizationResponse {
    /// The redirect URI with the parameters in its query (RFC 6749 §4.1.2).
    pub fn query_url(&self) -> String {
        let pairs: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        append_query(&self.redirect_uri, &pairs)
    }
}

/// A request that passed every check.
#[derive(Debug)]
pub struct ValidRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scope: ScopeSet,
    /// RFC 8707: the APIs it covers, by identifier.
    pub resources: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// `None` only for a client whose PKCE policy is optional.
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The subject of a valid `id_token_hint`.
    pub id_token_hint_sub: Option<String>,
    pub acr: AcrRequest,
    /// RFC 9449 §10 `dpop_jkt`: the key the code is bound to.
    pub dpop_jkt: Option<String>,
}

/// OIDC Core §3.1.2.1 `prompt` values we act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

const MAX_PARAM_LEN: usize = 2048;
/// RFC 8707 resources one authorization request may name.
const MAX_RESOURCES: usize = 10;

/// Where an authorization request's parameters come from (RFC 9126).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The browser's request itself; `par_required` is the server-wide rule.
    Direct { par_required: bool },
    /// Pushed to `/par` by the authenticated client, or a request naming one.
    Pushed,
}

/// Runs every check in order.
pub async fn validate(
    store: &Store,
    keys: &Keystore,
    issuer: &str,
    params: &Params,
    origin: Origin,
) -> Result<ValidRequest, Rejection> {
    let client_id = check_client_id(params).map_err(Rejection::Page)?;
    let client = store
        .find_client(client_id)
        .await
        .map_err(|e| Rejection::Page(OAuthError::from(e)))?
        .ok_or_else(|| Rejection::Page(OAuthError::invalid_request("unknown client")))?;
    // RFC 9126 §5: a request that should have been pushed is refused before its redirect URI
    // is trusted.
    if let Origin::Direct { par_required } = origin
        && (par_required || client.require_par)
    {
        return Err(Rejection::Page(OAuthError::invalid_request(
            "this client must push its authorization requests (PAR) first",
        )));
    }
    let redirect_uri = check_redirect_uri(&client, params).map_err(Rejection::Page)?;
    let state = if params.is_repeated("state") {
        None
    } else {
        params.get("state").map(str::to_owned)
    };
    // Errors after this point travel the way the request asked, when it asked for a mode we
    // support (Form Post Response Mode §2); anything else falls back to the query.
    let response_mode = check_response_mode(params).unwrap_or_default();
    let back = |error: OAuthError| {
        Rejection::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            response_mode,
        })
    };
    check_well_formed(params).map_err(back)?;
    check_grant_type(&client).map_err(back)?;
    check_lengths(params).map_err(back)?;
    check_request_objects(params).map_err(back)?;
    check_response_type(params).map_err(back)?;
    check_response_mode(params).map_err(back)?;
    let openid = check_claims(params, check_scope(params))
        .map_err(back)?
        .restrict_to(client.allowed_scopes.as_deref());
    let id_token_hint_sub = check_id_token_hint(keys, issuer, &client, params).map_err(back)?;
    let code_challenge = check_pkce(&client, params).map_err(back)?;
    let dpop_jkt = check_dpop_jkt(params).map_err(back)?;
    let prompt = check_prompt(params).map_err(back)?;
    let max_age = check_max_age(params).map_err(back)?;
    // Last: the only check that reads the store (RFC 8707 resources and API scopes).
    let resolved = check_resources(store, &client, openid, params)
        .await
        .map_err(back)?;
    Ok(ValidRequest {
        redirect_uri: redirect_uri.clone(),
        client,
        scope: resolved.scope,
        resources: resolved.resources,
        state: state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        response_mode,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        id_token_hint_sub,
        acr: check_acr(params),
        dpop_jkt,
    })
}

/// RFC 9449 §10: `dpop_jkt` is a JWK SHA-256 thumbprint (RFC 7638), base64url.
pub fn check_dpop_jkt(params: &Params) -> Result<Option<String>, OAuthError> {
    let Some(jkt) = params.get("dpop_jkt") else {
        return Ok(None);
    };
    let well_formed = jkt.len() == 43
        && jkt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(OAuthError::invalid_request(
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
        ));
    }
    Ok(Some(jkt.to_owned()))
}

/// OIDC Core §3.1.2.1 `id_token_hint`: an ID token we issued to this client (expired is fine);
/// yields its subject, which must match the session's user.
pub fn check_id_token_hint(
    keys: &Keystore,
    issuer: &str,
    client: &Client,
    params: &Params,
) -> Result<Option<String>, OAuthError> {
    let Some(hint) = params.get("id_token_hint") else {
        return Ok(None);
    };
    let claims: serde_json::Value = jwt::decode(keys, issuer, hint, Kind::Id).map_err(|_| {
        OAuthError::invalid_request("id_token_hint is not a valid ID token from this server")
    })?;
    let aud_ok = match &claims["aud"] {
        serde_json::Value::String(a) => a == &client.id,
        serde_json::Value::Array(a) => a.iter().any(|v| v == client.id.as_str()),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_request(
            "id_token_hint was issued to another client",
        ));
    }
    Ok(claims["sub"].as_str().map(str::to_owned))
}

/// RFC 6749 §4.1.1: client_id is required, once.
pub fn check_client_id(params: &Params) -> Result<&str, OAuthError> {
    if params.is_repeated("client_id") {
        return Err(OAuthError::invalid_request("client_id is repeated"));
    }
    let id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
    if has_control(id) || id.len() > 255 {
        return Err(OAuthError::invalid_request("client_id is malformed"));
    }
    Ok(id)
}

/// OIDC Core §3.1.2.1: redirect_uri is required and must match a registered one exactly
/// (RFC 9700 §4.1.3; loopback port exception of RFC 8252 §7.3).
pub fn check_redirect_uri(client: &Client, params: &Params) -> Result<String, OAuthError> {
    if params.is_repeated("redirect_uri") {
        return Err(OAuthError::invalid_request("redirect_uri is repeated"));
    }
    let uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    if !client.allows_redirect_uri(uri) {
        return Err(OAuthError::invalid_request(
            "redirect_uri is not registered for this client",
        ));
    }
    Ok(uri.to_owned())
}

/// RFC 6749 §3.1 (no repeats) and our bounds: at most `MAX_PARAMS` parameters, and no control
/// characters anywhere (they have no place in any OAuth parameter, and PostgreSQL refuses NUL).
pub fn check_well_formed(params: &Params) -> Result<(), OAuthError> {
    match params.problem() {
        None => Ok(()),
        Some(ParamProblem::TooMany) => Err(OAuthError::invalid_request(format!(
            "at most {MAX_PARAMS} parameters are accepted"
        ))),
        Some(ParamProblem::ControlCharacter(name)) => Err(OAuthError::invalid_request(format!(
            "parameter {} contains a control character",
            safe_name(name)
        ))),
        Some(ParamProblem::Repeated(name)) => Err(OAuthError::invalid_request(format!(
            "parameter {} is repeated",
            safe_name(name)
        ))),
    }
}

/// RFC 6749 §4.1.2.1: a client not registered for the code grant may not use this endpoint.
pub fn check_grant_type(client: &Client) -> Result<(), OAuthError> {
    if client.allows_grant(GrantType::AuthorizationCode) {
        return Ok(());
    }
    Err(OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "this client may not use the authorization code grant",
    ))
}

/// Bounds what we store and echo.
pub fn check_lengths(params: &Params) -> Result<(), OAuthError> {
    for name in ["state", "nonce", "login_hint", "scope"] {
        if params.get(name).is_some_and(|v| v.len() > MAX_PARAM_LEN) {
            return Err(OAuthError::invalid_request(format!("{name} is too long")));
        }
    }
    Ok(())
}

/// OIDC Core §6: request objects are not supported (`request_uri` names a pushed request,
/// resolved before these checks: `par::resolve`).
pub fn check_request_objects(params: &Params) -> Result<(), OAuthError> {
    if params.get("request").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    Ok(())
}

/// RFC 6749 §4.1.1 and SECURITY.md: `code` only.
pub fn check_response_type(params: &Params) -> Result<(), OAuthError> {
    match params.get("response_type") {
        None => Err(OAuthError::invalid_request("response_type is required")),
        Some("code") => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "only response_type=code is supported",
        )),
    }
}

/// OAuth 2.0 Multiple Response Types §2.1: only the default `query` mode for `code`.
pub fn check_response_mode(params: &Params) -> Result<ResponseMode, OAuthError> {
    match params.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(_) => Err(OAuthError::invalid_request(
            "response_mode must be query or form_post",
        )),
    }
}

/// RFC 8707 §2: at most `MAX_RESOURCES` resources, each bounded; then the API scopes and
/// resources resolved against the stored APIs.
pub async fn check_resources(
    store: &Store,
    client: &Client,
    openid: ScopeSet,
    params: &Params,
) -> Result<super::resource::Resolved, OAuthError> {
    if params.resources().len() > MAX_RESOURCES
        || params.resources().iter().any(|r| r.len() > MAX_PARAM_LEN)
    {
        return Err(OAuthError::invalid_request(
            "too many or too long resource values",
        ));
    }
    super::resource::resolve_request(
        store,
        client,
        openid,
        params.get("scope").unwrap_or(""),
        params.resources(),
    )
    .await
}

/// OIDC Core §3.1.2.1: unknown scope values are ignored, never granted.
pub fn check_scope(params: &Params) -> ScopeSet {
    ScopeSet::parse_supported(params.get("scope").unwrap_or(""))
}

/// OIDC Core §5.5: the claims a `claims` parameter names are granted through their scopes.
pub fn check_claims(params: &Params, scope: ScopeSet) -> Result<ScopeSet, OAuthError> {
    let Some(raw) = params.get("claims") else {
        return Ok(scope);
    };
    let implied = super::claims_request::implied_scopes(raw)?.join(" ");
    Ok(scope.union(&ScopeSet::parse_supported(&implied)))
}

/// RFC 7636 §4.4.1 and SECURITY.md: a challenge is required for every client, S256 only; a
/// missing method means `plain` (§4.3), which we refuse.
pub fn check_pkce(client: &Client, params: &Params) -> Result<Option<String>, OAuthError> {
    let Some(challenge) = params.get("code_challenge") else {
        if params.get("code_challenge_method").is_some() || client.requires_pkce() {
            return Err(OAuthError::invalid_request("code challenge required"));
        }
        // RFC 9700 §2.1.1: this confidential client may leave PKCE out; its code is bound to
        // "no PKCE", so a verifier sent for it later is refused (the downgrade defence).
        return Ok(None);
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        _ => {
            return Err(OAuthError::invalid_request(
                "transform algorithm not supported: use S256",
            ));
        }
    }
    if !pkce::is_valid_s256_challenge(challenge) {
        return Err(OAuthError::invalid_request("code_challenge is malformed"));
    }
    Ok(Some(challenge.to_owned()))
}

/// OIDC Core §3.1.2.1: `none` must stand alone; unknown values are an error.
pub fn check_prompt(params: &Params) -> Result<Prompt, OAuthError> {
    let mut p = Prompt::default();
    let Some(raw) = params.get("prompt") else {
        return Ok(p);
    };
    let mut count = 0;
    for v in raw.split(' ').filter(|v| !v.is_empty()) {
        count += 1;
        match v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" => {}
            _ => return Err(OAuthError::invalid_request("unsupported prompt value")),
        }
    }
    if p.none && count > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(p)
}

/// OIDC Core §3.1.2.1: `max_age` is a non-negative number of seconds.
pub fn check_max_age(params: &Params) -> Result<Option<i64>, OAuthError> {
    match params.get("max_age") {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer")),
    }
}

/// OIDC Core §3.1.2.1 `acr_values` and §5.5.1.1 `acr` in `claims`: what the request asks of
/// the authentication. Only Gatehouse's multi-factor class asks for anything; other values
/// are met by any sign-in.
pub fn check_acr(params: &Params) -> AcrRequest {
    let multi = crate::domain::Acr::MULTI;
    if params
        .get("claims")
        .is_some_and(super::claims_request::requires_essential_acr)
    {
        return AcrRequest::Essential;
    }
    // Values come in order of preference: the first one we offer decides.
    let preferred = params.get("acr_values").and_then(|v| {
        v.split(' ')
            .find(|a| crate::domain::Acr::parse(a).is_some())
    });
    if preferred == Some(multi) {
        return AcrRequest::Voluntary;
    }
    AcrRequest::None
}

fn safe_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}

/// Turns a valid request into a pending flow bound to this browser.
pub fn new_flow(req: &ValidRequest, browser_key: &str, now: i64) -> Flow {
    Flow {
        id: random_id(),
        browser_key: browser_key.to_owned(),
        client_id: req.client.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scope.to_wire(),
        resources: req.resources.clone(),
        state: req.state.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone().unwrap_or_default(),
        code_challenge_method: if req.code_challenge.is_some() {
            pkce::S256.into()
        } else {
            pkce::NONE.into()
        },
        force_login: req.prompt.login || req.max_age == Some(0),
        force_consent: req.prompt.consent,
        min_auth_time: req.max_age.map(|m| now - m).unwrap_or(i64::MIN),
        max_age: req.max_age,
        login_hint: req.login_hint.clone(),
        hint_sub: req.id_token_hint_sub.clone(),
        response_mode: req.response_mode,
        acr: req.acr,
        dpop_jkt: req.dpop_jkt.clone(),
        created_at: now,
        expires_at: now + FLOW_TTL,
    }
}

/// Issues the code for a finished flow and returns the client redirect (RFC 6749 §4.1.2,
/// RFC 9207 `iss`). The code is stored only as a hash, bound to everything the token request
/// must repeat.
pub async fn issue_code(
    store: &Store,
    issuer: &str,
    flow: &Flow,
    scope: &str,
    auth: &Authentication,
    session_key: Option<&str>,
    now: i64,
) -> Result<AuthorizationResponse, OAuthError> {
    let code = random_token();
    let code_hash = hash_secret(&code);
    store
        .insert_code(&NewCode {
            code_hash: &code_hash,
            client_id: &flow.client_id,
            user_id: &auth.user_id,
            redirect_uri: &flow.redirect_uri,
            scope,
            resource: &flow.resources.join(" "),
            nonce: flow.nonce.as_deref(),
            code_challenge: &flow.code_challenge,
            code_challenge_method: &flow.code_challenge_method,
            session_key,
            auth_time: auth.auth_time,
            amr: &amr_to_wire(&auth.amr()),
            expires_at: now + CODE_TTL,
            created_at: now,
            dpop_jkt: flow.dpop_jkt.as_deref(),
        })
        .await?;
    // Back-Channel Logout 1.0 §2.7: the client is told when this session ends.
    if let Some(key) = session_key
        && store
            .find_client(&flow.client_id)
            .await?
            .is_some_and(|c| c.backchannel_logout_uri.is_some())
    {
        store
            .record_session_client(
                key,
                &flow.client_id,
                &auth.user_id,
                &super::backchannel::sid(key, &auth.user_id),
                now,
            )
            .await?;
    }
    let mut params = vec![("code", code)];
    if let Some(state) = &flow.state {
        params.push(("state", state.clone()));
    }
    // RFC 9207: every authorization response names its issuer.
    params.push(("iss", issuer.to_owned()));
    Ok(AuthorizationResponse {
        redirect_uri: flow.redirect_uri.clone(),
        response_mode: flow.response_mode,
        params,
    })
}

/// The error response (RFC 6749 §4.1.2.1, RFC 9207).
pub fn error_response(issuer: &str, r: &ErrorRedirect) -> AuthorizationResponse {
    let mut params = vec![
        ("error", r.error.code.as_str().to_owned()),
        ("error_description", r.error.description.to_string()),
    ];
    if let Some(state) = &r.state {
        params.push(("state", state.clone()));
    }
    params.push(("iss", issuer.to_owned()));
    AuthorizationResponse {
        redirect_uri: r.redirect_uri.clone(),
        response_mode: r.response_mode,
        params,
    }
}

/// RFC 6749 §3.1.2: keep the registered query and append ours.
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let sep = if uri.contains('?') {
        if uri.ends_with('?') || uri.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    format!("{uri}{sep}{}", ser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn empty_values_are_omitted_and_repeats_noticed() {
        let p = params(&[("a", ""), ("b", "1"), ("b", "2")]);
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("1"));
        assert!(p.is_repeated("b"));
        assert!(check_well_formed(&p).is_err());
    }

    #[test]
    fn pkce_rules() {
        let strict = Client::default();
        let optional = Client {
            secret_hash: Some("h".into()),
            pkce_optional: true,
            ..Client::default()
        };
        let public_optional = Client {
            pkce_optional: true,
            ..Client::default()
        };
        let ch = pkce::s256_challenge(&"a".repeat(43));
        let good = params(&[("code_challenge", &ch), ("code_challenge_method", "S256")]);
        assert_eq!(check_pkce(&strict, &good).unwrap(), Some(ch.clone()));
        assert_eq!(check_pkce(&optional, &good).unwrap(), Some(ch.clone()));
        let missing = check_pkce(&strict, &params(&[])).unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidRequest);
        assert_eq!(check_pkce(&optional, &params(&[])).unwrap(), None);
        assert!(
            check_pkce(&public_optional, &params(&[])).is_err(),
            "public clients never opt out"
        );
        assert!(
            check_pkce(&optional, &params(&[("code_challenge_method", "S256")])).is_err(),
            "a method without a challenge"
        );
        for client in [&strict, &optional] {
            assert!(
                check_pkce(client, &params(&[("code_challenge", &ch)])).is_err(),
                "no method means plain"
            );
            assert!(
                check_pkce(
                    client,
                    &params(&[("code_challenge", &ch), ("code_challenge_method", "plain")])
                )
                .is_err()
            );
            assert!(
                check_pkce(
                    client,
                    &params(&[("code_challenge", "x"), ("code_challenge_method", "S256")])
                )
                .is_err()
            );
        }
    }

    #[test]
    fn response_type_rules() {
        assert!(check_response_type(&params(&[("response_type", "code")])).is_ok());
        assert_eq!(
            check_response_type(&params(&[("response_type", "token")]))
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            check_response_type(&params(&[])).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn prompt_and_max_age_rules() {
        assert!(check_prompt(&params(&[("prompt", "none login")])).is_err());
        assert!(check_prompt(&params(&[("prompt", "bogus")])).is_err());
        let p = check_prompt(&params(&[("prompt", "login consent")])).unwrap();
        assert!(p.login && p.consent && !p.none);
        assert_eq!(
            check_max_age(&params(&[("max_age", "30")])).unwrap(),
            Some(30)
        );
        assert!(check_max_age(&params(&[("max_age", "-1")])).is_err());
        assert!(check_max_age(&params(&[("max_age", "x")])).is_err());
    }

    #[test]
    fn request_objects_refused() {
        assert_eq!(
            check_request_objects(&params(&[("request", "x")]))
                .unwrap_err()
                .code,
            ErrorCode::RequestNotSupported
        );
    }

    #[test]
    fn append_query_keeps_existing_query() {
        assert_eq!(
            append_query("https://a/cb", &[("code", "x y")]),
            "https://a/cb?code=x+y"
        );
        assert_eq!(
            append_query("https://a/cb?t=1", &[("code", "c")]),
            "https://a/cb?t=1&code=c"
        );
    }

    #[test]
    fn response_mode_rules() {
        assert_eq!(
            check_response_mode(&params(&[])).unwrap(),
            ResponseMode::Query
        );
        assert_eq!(
            check_response_mode(&params(&[("response_mode", "form_post")])).unwrap(),
            ResponseMode::FormPost
        );
        assert!(check_response_mode(&params(&[("response_mode", "fragment")])).is_err());
        let r = AuthorizationResponse {
            redirect_uri: "https://a/cb?x=1".into(),
            response_mode: ResponseMode::FormPost,
            params: vec![("code", "c d".into()), ("iss", "https://i".into())],
        };
        assert_eq!(
            r.query_url(),
            "https://a/cb?x=1&code=c+d&iss=https%3A%2F%2Fi"
        );
    }

    #[test]
    fn acr_values_follow_their_order() {
        let multi = crate::domain::Acr::MULTI;
        let single = crate::domain::Acr::SINGLE;
        let p = |v: &str| params(&[("acr_values", v)]);
        assert_eq!(check_acr(&p(multi)), AcrRequest::Voluntary);
        assert_eq!(
            check_acr(&p(&format!("urn:other {multi}"))),
            AcrRequest::Voluntary,
            "unknown values are skipped"
        );
        assert_eq!(
            check_acr(&p(&format!("{single} {multi}"))),
            AcrRequest::None
        );
        assert_eq!(check_acr(&params(&[])), AcrRequest::None);
    }
}
